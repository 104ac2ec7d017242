// Targets for the gateway, running in the test process on 127.0.0.1 ephemeral ports, each with its own
// Boost.Asio event loop thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/child_process.hpp"

namespace gw::e2e {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// An io_context served by one thread from construction until stop() (or destruction).
class EventLoop {
 public:
  EventLoop() = default;
  ~EventLoop() { stop(); }
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  asio::io_context& context() { return context_; }
  void start();
  void stop();

 private:
  asio::io_context context_;
  std::thread thread_;
};

// "127.0.0.1:PORT"
std::string loopback_address(std::uint16_t port);

// What the echo server saw on one connection that has ended (client's end of stream reached).
struct EchoedConnection {
  std::uint64_t bytes = 0;      // received, and sent back
  std::string received_sha256;  // of the bytes received
  std::string sent_sha256;      // of the bytes sent back
};

// Sends back every byte it receives; at the client's end of stream it ends its own side and closes.
class EchoServer {
 public:
  EchoServer();
  ~EchoServer();

  std::uint16_t port() const { return port_; }
  std::string address() const { return loopback_address(port_); }
  std::size_t accepted() const;
  // Waits until `count` connections have ended; returns them in the order they ended (empty on timeout).
  std::vector<EchoedConnection> wait_for_finished(std::size_t count,
                                                  std::chrono::milliseconds timeout = kGuard);

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> echo(tcp::socket socket);

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t accepted_ = 0;
  std::vector<EchoedConnection> finished_;
  EventLoop loop_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
};

// Runs a test-supplied coroutine on every accepted connection, for exact control over when each side
// sends, half-closes or closes. Scripts run on the server's event loop thread.
class ScriptedServer {
 public:
  using Script = std::function<asio::awaitable<void>(tcp::socket)>;

  explicit ScriptedServer(Script script);
  ~ScriptedServer();

  std::uint16_t port() const { return port_; }
  std::string address() const { return loopback_address(port_); }
  std::size_t accepted() const;

 private:
  asio::awaitable<void> accept_loop();

  Script script_;
  mutable std::mutex mutex_;
  std::size_t accepted_ = 0;
  EventLoop loop_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
};

// Steps for scripts.
asio::awaitable<std::string> read_to_eof(tcp::socket& socket);
asio::awaitable<void> write_all(tcp::socket& socket, std::string_view data);

// A loopback port that refuses connections: bound (so nothing else can take it) but not listening.
class RefusingPort {
 public:
  RefusingPort();
  ~RefusingPort();
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;

  std::uint16_t port() const { return port_; }
  std::string address() const { return loopback_address(port_); }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace gw::e2e
