// Streams over sockets: plain TCP and TLS on a TCP socket.
//
// TlsStream drives OpenSSL directly on the socket's file descriptor (SSL_set_fd) and waits for
// readiness with Asio, rather than using asio::ssl::stream: that gives a real TLS half-close
// (close_notify sent while reading continues), which asio::ssl::stream's shutdown cannot do without
// a concurrent read, and it saves the copy through a memory BIO pair.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "gateway/plugin/stream.hpp"

namespace gw::net {

using tcp = boost::asio::ip::tcp;

std::string endpoint_string(const tcp::endpoint& endpoint);

class TcpStream final : public Stream {
 public:
  // `peer`: the remote address when the caller knows it already (from accept or connect), which
  // saves a getpeername(); otherwise it is asked for when info() is first used.
  explicit TcpStream(tcp::socket socket, const tcp::endpoint* peer = nullptr);

  asio::any_io_executor executor() const override { return const_cast<tcp::socket&>(socket_).get_executor(); }
  asio::awaitable<IoResult> read_some(asio::mutable_buffer buffer) override;
  std::size_t read_available(asio::mutable_buffer buffer) override;
  asio::awaitable<IoResult> write(asio::const_buffer buffer) override;
  asio::awaitable<error_code> shutdown_write() override;
  void close() noexcept override;
  void set_no_delay(bool on) noexcept override;

  tcp::socket& socket() noexcept { return socket_; }

 private:
  void describe(StreamInfo& info) const override;

  tcp::socket socket_;
};

struct SslDeleter {
  void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
};
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

class TlsStream final : public Stream {
 public:
  // Takes a connected socket and an SSL object configured for it (not yet bound to the fd).
  TlsStream(tcp::socket socket, SslPtr ssl);

  // Performs the client handshake. On failure returns the error and sets `reason` (with the
  // certificate verification result where that was the cause).
  asio::awaitable<error_code> handshake_client(std::string& reason);

  // Performs the server handshake, the same way. A client certificate the context's verification
  // refused (or one that is missing when the context requires it) is reported in `reason`.
  asio::awaitable<error_code> handshake_server(std::string& reason);

  // The certificate the peer presented, after a successful handshake; null if it presented none.
  // Borrowed: valid while this stream exists.
  X509* peer_certificate() const noexcept;
  // The certificates the peer sent besides its own (a client's chain excludes its certificate, a
  // server's includes it); null before the handshake. Borrowed, like peer_certificate().
  STACK_OF(X509) * peer_chain() const noexcept;

  // The negotiated cipher suite's standard name ("TLS_AES_128_GCM_SHA256"); empty before the handshake.
  std::string cipher_suite() const;

  asio::any_io_executor executor() const override { return const_cast<tcp::socket&>(socket_).get_executor(); }
  asio::awaitable<IoResult> read_some(asio::mutable_buffer buffer) override;
  asio::awaitable<IoResult> write(asio::const_buffer buffer) override;
  asio::awaitable<error_code> shutdown_write() override;
  void close() noexcept override;
  void set_no_delay(bool on) noexcept override;

  // For long-lived, busy connections (the tunnel): by default OpenSSL makes one send() per TLS record
  // (16 KiB) and two recv() per record (header, then body). This makes write() gather records into
  // one buffer of `bytes` sent when the write is complete, and reads take whatever the socket has
  // into a buffer of `bytes`. Costs two buffers of `bytes` per connection, so direct connections
  // (possibly thousands) do not use it. Call before the handshake (the read buffer is sized when the
  // handshake allocates it).
  void coalesce_io(std::size_t bytes);

  // Moves the connection, TLS session and buffers included, to `context` (another worker's thread).
  // Only while no operation is pending. False, with the stream closed, if the socket cannot be moved.
  bool move_to(boost::asio::io_context& context);

 private:
  // Sends what the write buffer holds (coalesce_io), waiting while the socket is full.
  asio::awaitable<error_code> flush();
  void describe(StreamInfo& info) const override;
  // Waits until the socket is ready for what OpenSSL asked (`ssl_error` is WANT_READ/WANT_WRITE).
  asio::awaitable<error_code> wait_for(int ssl_error);
  error_code failure(int ssl_error, int ret);
  // Drives SSL_connect or SSL_accept to completion.
  asio::awaitable<error_code> handshake(bool server, std::string& reason);

  tcp::socket socket_;
  SslPtr ssl_;
  BIO* write_buffer_ = nullptr;  // owned by ssl_ (coalesce_io)
  bool read_closed_ = false;
  bool closed_ = false;
};

}  // namespace gw::net
