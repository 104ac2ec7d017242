// The admin listener: GET /metrics (Prometheus text format), GET /healthz (200 while serving, 503
// while draining), and, when a lookup token is configured, GET /v1/destinations/NAME (the destination
// lookup API, which needs `Authorization: Bearer <token>`). /metrics and /healthz have no
// authentication: bind the listener to loopback or a management network only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <string>

#include "host/metrics.hpp"

namespace gw::admin {

class AdminServer {
 public:
  // An answer of the destination lookup: status and JSON body.
  struct Answer {
    int status = 404;
    std::string body;
  };
  // Looks a destination up by name (the path after /v1/destinations/, percent-decoded).
  using Lookup = std::function<boost::asio::awaitable<Answer>(std::string name)>;

  // Binds at once (throws boost::system::system_error naming nothing; callers add the address).
  AdminServer(boost::asio::io_context& context, const boost::asio::ip::tcp::endpoint& endpoint,
              host::MetricsRegistry& metrics, std::function<bool()> healthy);
  // Enables GET /v1/destinations/NAME for callers presenting `token`.
  void enable_lookup(std::string token, Lookup lookup);

  boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  void start();
  void stop();

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);

  boost::asio::ip::tcp::acceptor acceptor_;
  host::MetricsRegistry& metrics_;
  std::function<bool()> healthy_;
  std::string lookup_token_;
  Lookup lookup_;
};

}  // namespace gw::admin
