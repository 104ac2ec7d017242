// The edge runtime: worker threads, entry point listeners, connection tracking and draining.
//
// One io_context per worker thread. Every entry point has one acceptor per worker on the same port
// (SO_REUSEPORT), so the kernel spreads new connections over the workers and a connection stays on
// the worker that accepted it: no locks or cross-thread hand-offs on the data path.
//
// SIGTERM or SIGINT drains: listeners close, open connections may finish for up to
// node.drain_timeout, then the rest are closed and the process exits. A second signal closes at once.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "config/config.hpp"
#include "host/host_services.hpp"
#include "host/metrics.hpp"
#include "net/direct_tunnel.hpp"
#include "runtime/routes.hpp"

namespace gw::runtime {

class Server {
 public:
  Server(const config::Config& config, host::LogSink& log, host::MetricsRegistry& metrics, Host& host,
         Tunnel& tunnel, std::vector<std::unique_ptr<Route>>& routes);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every listener (entry points, admin). Throws std::runtime_error naming the address.
  void bind();
  // Serves until drained. Returns the process exit code.
  int run();

 private:
  struct Worker;
  void on_signal(int signal);
  void start_drain(const char* signal_name);
  void close_all_connections();
  void finish();
  void connection_ended();
  boost::asio::awaitable<void> accept_loop(Worker& worker, boost::asio::ip::tcp::acceptor& acceptor,
                                           Route& route);
  boost::asio::awaitable<void> serve_connection(Worker& worker, Route& route,
                                                boost::asio::ip::tcp::socket socket);

  const config::Config& config_;
  host::LogSink& log_;
  host::MetricsRegistry& metrics_;
  Host& host_;
  Tunnel& tunnel_;
  std::vector<std::unique_ptr<Route>>& routes_;
  std::vector<std::unique_ptr<Worker>> workers_;
  struct Control;
  std::unique_ptr<Control> control_;
  std::atomic<std::int64_t> open_connections_{0};
  std::atomic<bool> draining_{false};
  std::atomic<bool> finished_{false};
};

}  // namespace gw::runtime
