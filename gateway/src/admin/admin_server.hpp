// The admin listener: GET /metrics (Prometheus text format) and GET /healthz (200 while serving,
// 503 while draining). No authentication: bind it to loopback or a management network only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>

#include "host/metrics.hpp"

namespace gw::admin {

class AdminServer {
 public:
  // Binds at once (throws boost::system::system_error naming nothing; callers add the address).
  AdminServer(boost::asio::io_context& context, const boost::asio::ip::tcp::endpoint& endpoint,
              host::MetricsRegistry& metrics, std::function<bool()> healthy);

  boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  void start();
  void stop();

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);

  boost::asio::ip::tcp::acceptor acceptor_;
  host::MetricsRegistry& metrics_;
  std::function<bool()> healthy_;
};

}  // namespace gw::admin
