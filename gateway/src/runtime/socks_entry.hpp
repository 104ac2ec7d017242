// The SOCKS5 entry point (edge): authenticates the client (none, RFC 1929 username/password, or
// method 0x80 with a JWT and a location id), which gives the tenant and location; the CONNECT target
// is a virtual host:port. A destination of that tenant, location and address decides the route type
// and its settings; any other target is relayed as tcp. The CONNECT reply waits for the tunnel: it
// reports what the connector said (02 denied, 03 no connector, 04 unreachable, ...).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "config/config.hpp"
#include "host/logger.hpp"
#include "net/socket_stream.hpp"
#include "runtime/in_force.hpp"
#include "runtime/routes.hpp"
#include "socks/socks5.hpp"

namespace gw::tunnel {
class ConnectorPool;
}

namespace gw::runtime {

class SocksEntryPoint {
 public:
  // Throws std::runtime_error when the JWT key cannot be loaded.
  SocksEntryPoint(const config::ProxyEntryConfig& config, Routes& routes, Tunnel& direct,
                  tunnel::ConnectorPool* pool, Host& host, host::LogSink& log);

  // Serves one client connection accepted on the SOCKS5 listener.
  boost::asio::awaitable<void> serve(net::TcpStream& client, const std::string& request_id);

  // Puts new users, JWT settings, anonymous identity and handshake timeout in force for the clients
  // that connect afterwards (a reload). Any thread.
  void set_options(socks::Options options) {
    options_.set(std::make_shared<const socks::Options>(std::move(options)));
  }

 private:
  InForce<socks::Options> options_;
  Routes& routes_;
  Tunnel& direct_;
  tunnel::ConnectorPool* pool_;
  Host& host_;
  host::LogSink& log_;
};

}  // namespace gw::runtime
