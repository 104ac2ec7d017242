#include "net/socket_stream.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace gw::net {

namespace {
constexpr auto use_awaitable = asio::use_awaitable;
}

std::string endpoint_string(const tcp::endpoint& endpoint) {
  auto address = endpoint.address();
  std::string host = address.to_string();
  if (address.is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(endpoint.port());
}

namespace {
// Fills what is still missing of `info` from the socket.
void describe_endpoints(const tcp::socket& socket, StreamInfo& info) {
  error_code ec;
  if (info.peer.empty()) {
    auto remote = socket.remote_endpoint(ec);
    if (!ec) info.peer = endpoint_string(remote);
  }
  if (info.local.empty()) {
    auto local = socket.local_endpoint(ec);
    if (!ec) info.local = endpoint_string(local);
  }
}
}  // namespace

// ---- TcpStream -------------------------------------------------------------------------------------

TcpStream::TcpStream(tcp::socket socket, const tcp::endpoint* peer) : socket_(std::move(socket)) {
  if (peer) info_.peer = endpoint_string(*peer);
}

void TcpStream::describe(StreamInfo& info) const {
  describe_endpoints(socket_, info);
}

asio::awaitable<IoResult> TcpStream::read_some(asio::mutable_buffer buffer) {
  IoResult result;
  result.bytes = co_await socket_.async_read_some(buffer, asio::redirect_error(use_awaitable, result.error));
  bytes_read_ += result.bytes;
  co_return result;
}

std::size_t TcpStream::read_available(asio::mutable_buffer buffer) {
  if (buffer.size() == 0 || !socket_.is_open()) return 0;
  const ssize_t n = ::recv(socket_.native_handle(), buffer.data(), buffer.size(), MSG_DONTWAIT);
  if (n <= 0) return 0;  // nothing yet, the end, or an error: the next read_some says which
  bytes_read_ += static_cast<std::size_t>(n);
  return static_cast<std::size_t>(n);
}

asio::awaitable<IoResult> TcpStream::write(asio::const_buffer buffer) {
  IoResult result;
  result.bytes =
      co_await asio::async_write(socket_, buffer, asio::redirect_error(use_awaitable, result.error));
  bytes_written_ += result.bytes;
  co_return result;
}

asio::awaitable<error_code> TcpStream::shutdown_write() {
  error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  co_return ec;
}

void TcpStream::close() noexcept {
  error_code ignored;
  socket_.close(ignored);
}

void TcpStream::set_no_delay(bool on) noexcept {
  error_code ignored;
  socket_.set_option(tcp::no_delay(on), ignored);
}

// ---- TlsStream -------------------------------------------------------------------------------------

TlsStream::TlsStream(tcp::socket socket, SslPtr ssl) : socket_(std::move(socket)), ssl_(std::move(ssl)) {
  socket_.non_blocking(true);
  SSL_set_fd(ssl_.get(), socket_.native_handle());
  SSL_set_mode(ssl_.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

bool TlsStream::move_to(boost::asio::io_context& context) {
  error_code ec;
  const tcp protocol = socket_.local_endpoint(ec).protocol();
  // release() deregisters the descriptor from this worker's reactor; SSL keeps using the same number.
  const int fd = ec ? -1 : socket_.release(ec);
  if (ec) {
    close();
    return false;
  }
  tcp::socket moved(context);
  moved.assign(protocol, fd, ec);
  if (!ec) moved.non_blocking(true, ec);
  if (ec) {
    ::close(fd);
    closed_ = true;
    return false;
  }
  socket_ = std::move(moved);
  return true;
}

std::string TlsStream::cipher_suite() const {
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl_.get());
  return cipher ? SSL_CIPHER_standard_name(cipher) : "";
}

void TlsStream::describe(StreamInfo& info) const {
  describe_endpoints(socket_, info);
}

void TlsStream::coalesce_io(std::size_t bytes) {
  SSL_set_read_ahead(ssl_.get(), 1);
  SSL_set_default_read_buffer_len(ssl_.get(), bytes);
  BIO* socket_bio = SSL_get_wbio(ssl_.get());
  BIO* buffer = BIO_new(BIO_f_buffer());
  if (!buffer || BIO_set_write_buffer_size(buffer, static_cast<long>(bytes)) != 1) {
    BIO_free(buffer);
    return;  // keep writing record by record
  }
  BIO_up_ref(socket_bio);  // SSL_set0_wbio takes over one reference; the read side keeps its own
  BIO_push(buffer, socket_bio);
  SSL_set0_wbio(ssl_.get(), buffer);
  write_buffer_ = buffer;
}

asio::awaitable<error_code> TlsStream::flush() {
  if (!write_buffer_) co_return error_code{};
  for (;;) {
    if (closed_) co_return asio::error::operation_aborted;
    if (BIO_flush(write_buffer_) > 0) co_return error_code{};
    if (!BIO_should_retry(write_buffer_))
      co_return error_code(errno ? errno : EPIPE, boost::system::system_category());
    if (auto ec = co_await wait_for(SSL_ERROR_WANT_WRITE)) co_return ec;
  }
}

asio::awaitable<error_code> TlsStream::wait_for(int ssl_error) {
  error_code ec;
  if (closed_) co_return asio::error::operation_aborted;
  co_await socket_.async_wait(
      ssl_error == SSL_ERROR_WANT_READ ? tcp::socket::wait_read : tcp::socket::wait_write,
      asio::redirect_error(use_awaitable, ec));
  if (!ec && closed_) ec = asio::error::operation_aborted;
  co_return ec;
}

error_code TlsStream::failure(int ssl_error, int ret) {
  if (closed_) return asio::error::operation_aborted;
  if (ssl_error == SSL_ERROR_SYSCALL) {
    int err = errno;
    ERR_clear_error();
    if (ret == 0 || err == 0) return asio::error::connection_reset;
    return error_code(err, boost::system::system_category());
  }
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return asio::error::connection_reset;
  return error_code(static_cast<int>(code), asio::error::get_ssl_category());
}

asio::awaitable<error_code> TlsStream::handshake_client(std::string& reason) {
  return handshake(false, reason);
}

asio::awaitable<error_code> TlsStream::handshake_server(std::string& reason) {
  return handshake(true, reason);
}

X509* TlsStream::peer_certificate() const noexcept {
  return SSL_get0_peer_certificate(ssl_.get());
}

STACK_OF(X509) * TlsStream::peer_chain() const noexcept {
  return SSL_get_peer_cert_chain(ssl_.get());
}

asio::awaitable<error_code> TlsStream::handshake(bool server, std::string& reason) {
  for (;;) {
    ERR_clear_error();
    int ret = server ? SSL_accept(ssl_.get()) : SSL_connect(ssl_.get());
    if (ret == 1) co_return error_code{};
    int err = SSL_get_error(ssl_.get(), ret);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (auto ec = co_await wait_for(err)) {
        reason = "TLS handshake: " + ec.message();
        co_return ec;
      }
      continue;
    }
    long verify = SSL_get_verify_result(ssl_.get());
    error_code ec = failure(err, ret);
    if (verify != X509_V_OK) {
      reason = std::string("TLS certificate verification failed: ") + X509_verify_cert_error_string(verify);
    } else {
      reason = "TLS handshake failed: " + ec.message();
    }
    co_return ec;
  }
}

asio::awaitable<IoResult> TlsStream::read_some(asio::mutable_buffer buffer) {
  IoResult result;
  if (read_closed_) {
    result.error = asio::error::eof;
    co_return result;
  }
  for (;;) {
    if (closed_) {
      result.error = asio::error::operation_aborted;
      co_return result;
    }
    ERR_clear_error();
    std::size_t n = 0;
    int ret = SSL_read_ex(ssl_.get(), buffer.data(), buffer.size(), &n);
    if (ret == 1) {
      // One SSL_read returns one record (at most 16 KiB). Records already received (read-ahead, see
      // coalesce_io) are decrypted into the rest of the buffer now, so that the reader handles one
      // large chunk rather than one wake-up per record.
      auto* out = static_cast<std::uint8_t*>(buffer.data());
      while (n < buffer.size() && SSL_has_pending(ssl_.get())) {
        std::size_t more = 0;
        if (SSL_read_ex(ssl_.get(), out + n, buffer.size() - n, &more) != 1) {
          ERR_clear_error();  // WANT_READ, or an error the next read_some reports
          break;
        }
        n += more;
      }
      result.bytes = n;
      bytes_read_ += n;
      co_return result;
    }
    int err = SSL_get_error(ssl_.get(), ret);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if ((result.error = co_await wait_for(err))) co_return result;
      continue;
    }
    if (err == SSL_ERROR_ZERO_RETURN) {
      read_closed_ = true;
      result.error = asio::error::eof;
    } else {
      result.error = failure(err, ret);
    }
    co_return result;
  }
}

asio::awaitable<IoResult> TlsStream::write(asio::const_buffer buffer) {
  IoResult result;
  const auto* data = static_cast<const char*>(buffer.data());
  std::size_t left = buffer.size();
  while (left > 0) {
    if (closed_) {
      result.error = asio::error::operation_aborted;
      break;
    }
    ERR_clear_error();
    std::size_t n = 0;
    int ret = SSL_write_ex(ssl_.get(), data, left, &n);
    if (ret == 1) {
      data += n;
      left -= n;
      result.bytes += n;
      continue;
    }
    int err = SSL_get_error(ssl_.get(), ret);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if ((result.error = co_await wait_for(err))) break;
      continue;
    }
    result.error = failure(err, ret);
    break;
  }
  if (!result.error) result.error = co_await flush();
  bytes_written_ += result.bytes;
  co_return result;
}

asio::awaitable<error_code> TlsStream::shutdown_write() {
  // One SSL_shutdown sends close_notify; reading goes on until the peer sends its own.
  for (;;) {
    if (closed_) co_return asio::error::operation_aborted;
    ERR_clear_error();
    int ret = SSL_shutdown(ssl_.get());
    if (ret >= 0) co_return co_await flush();
    int err = SSL_get_error(ssl_.get(), ret);
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
      if (auto ec = co_await wait_for(err)) co_return ec;
      continue;
    }
    co_return failure(err, ret);
  }
}

void TlsStream::close() noexcept {
  closed_ = true;
  error_code ignored;
  socket_.close(ignored);
}

void TlsStream::set_no_delay(bool on) noexcept {
  error_code ignored;
  socket_.set_option(tcp::no_delay(on), ignored);
}

}  // namespace gw::net
