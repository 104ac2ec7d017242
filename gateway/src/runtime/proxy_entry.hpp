// What the SOCKS5 and the HTTP proxy entry points share: the authentication options a reload replaces
// (users, JWT settings, anonymous identity, handshake timeout), the routes that tell them where a
// client goes, and the tunnels that take it there.
#pragma once

#include <memory>

#include "config/config.hpp"
#include "host/logger.hpp"
#include "runtime/in_force.hpp"
#include "runtime/routes.hpp"
#include "socks/socks5.hpp"

namespace gw::tunnel {
class ConnectorPool;
}

namespace gw::runtime {

class ProxyEntryPoint {
 public:
  // Throws std::runtime_error when the JWT key cannot be loaded.
  ProxyEntryPoint(const config::ProxyEntryConfig& config, Routes& routes, Tunnel& direct,
                  tunnel::ConnectorPool* pool, Host& host, host::LogSink& log)
      : options_(std::make_shared<const socks::Options>(socks::make_options(config))),
        routes_(routes),
        direct_(direct),
        pool_(pool),
        host_(host),
        log_(log) {}

  // Puts new options in force for the clients that connect afterwards (a reload). Any thread.
  void set_options(socks::Options options) {
    options_.set(std::make_shared<const socks::Options>(std::move(options)));
  }

 protected:
  InForce<socks::Options> options_;
  Routes& routes_;
  Tunnel& direct_;
  tunnel::ConnectorPool* pool_;
  Host& host_;
  host::LogSink& log_;
};

}  // namespace gw::runtime
