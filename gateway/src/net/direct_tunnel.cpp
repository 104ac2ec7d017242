#include "net/direct_tunnel.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <poll.h>
#include <sys/socket.h>

#include "gateway/plugin/deadline.hpp"
#include "net/socket_stream.hpp"

namespace gw::net {

namespace {

// The outcome of a non-blocking connect that is no longer in progress.
error_code connect_outcome(tcp::socket& socket) {
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  return error ? error_code(error, asio::error::get_system_category()) : error_code();
}

// Opens the socket and starts a non-blocking connect, returning its outcome when that is already known:
// to a local target the kernel completes the handshake inside connect(), so the common case needs no
// trip through the reactor and no timer. would_block means the connect is still in progress.
error_code start_connect(tcp::socket& socket, const tcp::endpoint& endpoint) {
  error_code ec;
  socket.open(endpoint.protocol(), ec);
  if (!ec) socket.non_blocking(true, ec);
  if (ec) return ec;
  if (::connect(socket.native_handle(), endpoint.data(), endpoint.size()) == 0) return {};
  if (errno != EINPROGRESS) return error_code(errno, asio::error::get_system_category());
  pollfd writable{socket.native_handle(), POLLOUT, 0};
  if (::poll(&writable, 1, 0) != 1) return asio::error::would_block;
  return connect_outcome(socket);
}

}  // namespace

asio::awaitable<OpenResult> DirectTunnel::open(const OpenRequest& request) {
  auto executor = co_await asio::this_coro::executor;
  OpenResult result;
  tcp::socket socket(executor);
  auto target = [&] { return request.host + ":" + std::to_string(request.port); };
  auto timed_out = [&] {
    result.error = asio::error::timed_out;
    result.reason = "connect to " + target() + " timed out after " +
                    std::to_string(request.connect_timeout.count()) + "ms";
  };

  error_code ec;
  auto address = asio::ip::make_address(request.host, ec);
  tcp::endpoint connected;  // known here, so the stream needs no getpeername()
  if (!ec) {
    connected = tcp::endpoint(address, request.port);
    ec = start_connect(socket, connected);
    if (ec == asio::error::would_block) {
      Deadline deadline(executor, request.connect_timeout, [&socket] {
        error_code ignored;
        socket.close(ignored);
      });
      co_await socket.async_wait(tcp::socket::wait_write, asio::redirect_error(asio::use_awaitable, ec));
      if (deadline.expired()) {
        timed_out();
        co_return result;
      }
      if (!ec) ec = connect_outcome(socket);
    }
  } else {
    tcp::resolver resolver(executor);
    Deadline deadline(executor, request.connect_timeout, [&socket, &resolver] {
      error_code ignored;
      resolver.cancel();
      socket.close(ignored);
    });
    auto endpoints = co_await resolver.async_resolve(request.host, std::to_string(request.port),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (deadline.expired()) {
      timed_out();
      co_return result;
    }
    if (ec) {
      result.error = ec;
      result.reason = "resolve " + request.host + ": " + ec.message();
      co_return result;
    }
    connected =
        co_await asio::async_connect(socket, endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (deadline.expired()) {
      timed_out();
      co_return result;
    }
  }
  if (ec) {
    result.error = ec;
    result.reason = "connect to " + target() + ": " + ec.message();
    co_return result;
  }
  if (request.no_delay) socket.set_option(tcp::no_delay(true), ec);

  if (!request.tls.enabled) {
    result.stream = std::make_unique<TcpStream>(std::move(socket), &connected);
  } else {
    result = co_await handshake(std::move(socket), request);
  }
  co_return co_await with_early_data(std::move(result), request);
}

asio::awaitable<OpenResult> DirectTunnel::with_early_data(OpenResult opened, const OpenRequest& request) {
  if (!opened || request.early_data.size() == 0) co_return opened;
  IoResult written = co_await opened.stream->write(request.early_data);
  if (written.error) {
    opened.stream->close();
    OpenResult failed;
    failed.error = written.error;
    failed.reason =
        "write to " + request.host + ":" + std::to_string(request.port) + ": " + written.error.message();
    co_return failed;
  }
  co_return opened;
}

asio::awaitable<OpenResult> DirectTunnel::start_tls(std::unique_ptr<Stream> plain,
                                                    const OpenRequest& request) {
  auto* tcp_stream = dynamic_cast<TcpStream*>(plain.get());
  if (!tcp_stream) co_return co_await Tunnel::start_tls(std::move(plain), request);
  tcp::socket socket = std::move(tcp_stream->socket());
  plain.reset();
  OpenResult secured = co_await handshake(std::move(socket), request);
  co_return co_await with_early_data(std::move(secured), request);
}

asio::awaitable<OpenResult> DirectTunnel::handshake(tcp::socket socket, const OpenRequest& request) {
  auto executor = socket.get_executor();
  const std::string target = request.host + ":" + std::to_string(request.port);
  OpenResult result;
  std::unique_ptr<TlsStream> tls;
  try {
    auto ctx = tls_.get(request.tls);
    tls = std::make_unique<TlsStream>(std::move(socket),
                                      TlsClientContexts::new_session(ctx.get(), request.tls, request.host));
  } catch (const std::exception& e) {
    result.error = asio::error::invalid_argument;
    result.reason = e.what();
    co_return result;
  }
  Deadline deadline(executor, request.connect_timeout, [s = tls.get()] { s->close(); });
  std::string reason;
  error_code ec = co_await tls->handshake_client(reason);
  if (deadline.expired()) {
    result.error = asio::error::timed_out;
    result.reason = "TLS handshake with " + target + " timed out";
    co_return result;
  }
  if (ec) {
    result.error = ec;
    result.reason = reason + " (" + target + ")";
    co_return result;
  }
  result.stream = std::move(tls);
  co_return result;
}

}  // namespace gw::net
