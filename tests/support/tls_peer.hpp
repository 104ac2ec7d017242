// A certificate authority and a server certificate made at test time, and a TLS echo server using them.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <filesystem>
#include <string>

#include "support/peers.hpp"
#include "support/temp_dir.hpp"

namespace gw::e2e {

// A self-signed CA (ca.pem) and a server certificate it signed (server.pem, key in server.key) for
// DNS name "localhost" and IP address 127.0.0.1, written into a fresh directory.
class TestPki {
 public:
  TestPki();

  std::filesystem::path ca_file() const { return dir_.path() / "ca.pem"; }
  std::filesystem::path server_cert_file() const { return dir_.path() / "server.pem"; }
  std::filesystem::path server_key_file() const { return dir_.path() / "server.key"; }

 private:
  TempDir dir_;
};

// Completes TLS handshakes with the PKI's server certificate and echoes the decrypted bytes back.
class TlsEchoServer {
 public:
  explicit TlsEchoServer(const TestPki& pki);
  ~TlsEchoServer();

  std::uint16_t port() const { return port_; }
  std::string address() const { return loopback_address(port_); }
  std::size_t handshakes() const;

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(tcp::socket socket);

  asio::ssl::context tls_;
  mutable std::mutex mutex_;
  std::size_t handshakes_ = 0;
  EventLoop loop_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
};

}  // namespace gw::e2e
