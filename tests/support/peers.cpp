#include "support/peers.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <system_error>

#include "support/digest.hpp"

namespace gw::e2e {
namespace {

tcp::acceptor listen_on_loopback(asio::io_context& context) {
  tcp::acceptor acceptor(context, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  return acceptor;
}

}  // namespace

void EventLoop::start() {
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(context_);
    context_.run();
  });
}

void EventLoop::stop() {
  context_.stop();
  if (thread_.joinable()) thread_.join();
}

std::string loopback_address(std::uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

EchoServer::EchoServer() : acceptor_(listen_on_loopback(loop_.context())) {
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(loop_.context(), accept_loop(), asio::detached);
  loop_.start();
}

EchoServer::~EchoServer() {
  loop_.stop();
}

std::size_t EchoServer::accepted() const {
  std::lock_guard lock(mutex_);
  return accepted_;
}

std::vector<EchoedConnection> EchoServer::wait_for_finished(std::size_t count,
                                                            std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, timeout, [&] { return finished_.size() >= count; })) return {};
  return finished_;
}

asio::awaitable<void> EchoServer::accept_loop() {
  while (true) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      ++accepted_;
    }
    asio::co_spawn(acceptor_.get_executor(), echo(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> EchoServer::echo(tcp::socket socket) {
  std::vector<char> buffer(64 * 1024);
  Sha256 received;
  Sha256 sent;
  EchoedConnection stats;
  boost::system::error_code ec;
  while (true) {
    std::size_t n =
        co_await socket.async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    if (n > 0) {
      received.update(buffer.data(), n);
      co_await asio::async_write(socket, asio::buffer(buffer.data(), n),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      sent.update(buffer.data(), n);
      stats.bytes += n;
    }
    if (ec) break;
  }
  bool clean_end = ec == asio::error::eof;
  socket.shutdown(tcp::socket::shutdown_send, ec);
  socket.close(ec);
  if (!clean_end) co_return;  // an aborted connection is not a finished one
  stats.received_sha256 = received.hex();
  stats.sent_sha256 = sent.hex();
  std::lock_guard lock(mutex_);
  finished_.push_back(std::move(stats));
  changed_.notify_all();
}

ScriptedServer::ScriptedServer(Script script)
    : script_(std::move(script)), acceptor_(listen_on_loopback(loop_.context())) {
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(loop_.context(), accept_loop(), asio::detached);
  loop_.start();
}

ScriptedServer::~ScriptedServer() {
  loop_.stop();
}

std::size_t ScriptedServer::accepted() const {
  std::lock_guard lock(mutex_);
  return accepted_;
}

asio::awaitable<void> ScriptedServer::accept_loop() {
  while (true) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      ++accepted_;
    }
    // A failing script only ends its own connection; the test sees the effect from the outside.
    asio::co_spawn(acceptor_.get_executor(), script_(std::move(socket)), [](std::exception_ptr) {});
  }
}

asio::awaitable<std::string> read_to_eof(tcp::socket& socket) {
  std::string data;
  std::array<char, 16 * 1024> buffer;
  boost::system::error_code ec;
  while (true) {
    std::size_t n =
        co_await socket.async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    data.append(buffer.data(), n);
    if (ec == asio::error::eof) co_return data;
    if (ec) throw boost::system::system_error(ec);
  }
}

asio::awaitable<void> write_all(tcp::socket& socket, std::string_view data) {
  co_await asio::async_write(socket, asio::buffer(data.data(), data.size()), asio::use_awaitable);
}

RefusingPort::RefusingPort() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    int error = errno;
    ::close(fd_);
    throw std::system_error(error, std::generic_category(), "bind");
  }
  port_ = ntohs(address.sin_port);
}

RefusingPort::~RefusingPort() {
  ::close(fd_);
}

}  // namespace gw::e2e
