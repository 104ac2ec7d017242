// Routes: a configured destination bound to the handler its route type's plugin created for it.
// Building them is the last step of validation, shared by `gatewayd check` and `gatewayd run`.
#pragma once

#include "net/host_name.hpp"

#include <unordered_map>

#include <atomic>
#include <memory>
#include <vector>

#include "config/config.hpp"
#include "gateway/plugin/plugin.hpp"
#include "net/tls_context.hpp"
#include "plugins/loader.hpp"
#include "runtime/in_force.hpp"

namespace gw::runtime {

// A destination (settings resolved against its plugin's manifest) and the handler built for it.
struct RouteState {
  Destination destination;
  std::unique_ptr<EdgeRouteHandler> handler;
};

struct Route {
  config::Endpoint listen;
  Gauge* active = nullptr;
  Counter* accepted = nullptr;
  Counter* refused = nullptr;
  std::atomic<std::uint32_t> connections{0};

  // The destination and handler in force. A connection takes them once, when it starts, and keeps
  // them to its end: a reload may put new ones in force meanwhile (set_state), with the same name,
  // route type, proxy type, tenant, location, address and entry point. Any thread.
  std::shared_ptr<const RouteState> state() const { return state_.get(); }
  void set_state(std::shared_ptr<const RouteState> state) { state_.set(std::move(state)); }

 private:
  InForce<RouteState> state_;
};

// A connector's allowlist entry bound to the connector-side handler of its route type.
struct SystemRoute {
  System system;  // settings resolved against the plugin's manifest
  std::unique_ptr<ConnectorRouteHandler> handler;
  std::atomic<std::uint32_t> connections{0};
};

// Everything the configuration's routes resolve to.
struct Routes {
  std::vector<std::unique_ptr<Route>> destinations;   // edge: one per destination with an entry point
  std::vector<std::unique_ptr<SystemRoute>> systems;  // connector: the allowlist
  // Edge with a SOCKS5 entry point: the tcp route used for virtual hosts no destination describes.
  // Its destination is a template; host, port, tenant and location are set per connection.
  std::unique_ptr<Route> socks5_default;
  // The HTTP proxy's: requests (http) and CONNECT (tcp) to virtual hosts without a destination.
  std::unique_ptr<Route> http_proxy_default;
  std::unique_ptr<Route> http_proxy_connect_default;
};

// How the proxy entry points (SOCKS5, HTTP proxy) find the on_premise destination a client asked for
// by address: its tenant, location and virtual host:port (the host in canonical form).
class DestinationsByAddress {
 public:
  explicit DestinationsByAddress(const Routes& routes) {
    for (const auto& route : routes.destinations) {
      const auto state = route->state();
      const Destination& d = state->destination;
      if (d.proxy_type == ProxyType::on_premise)
        by_key_.emplace(key(d.tenant, d.location_id, d.host, d.port), route.get());
    }
  }
  Route* find(const std::string& tenant, const std::string& location, const std::string& host,
              std::uint16_t port) const {
    auto it = by_key_.find(key(tenant, location, host, port));
    return it == by_key_.end() ? nullptr : it->second;
  }

 private:
  static std::string key(const std::string& tenant, const std::string& location, const std::string& host,
                         std::uint16_t port) {
    return tenant + "/" + location + "/" + net::canonical_host(host) + ":" + std::to_string(port);
  }
  std::unordered_map<std::string, Route*> by_key_;
};

// Resolves each destination's and system's route type and settings, creates its handler and its TLS
// context. Returns every problem found (with file, line and key); `routes` gets what was built.
std::vector<config::Problem> build_routes(const config::Config& config,
                                          const plugins::PluginRegistry& registry,
                                          net::TlsClientContexts& tls, Metrics& metrics, Routes& routes);

// The destinations part of build_routes(), also for a reload: a route for each destination with an
// entry point or without, with the problems of those that could not be built added to `problems`.
std::vector<std::unique_ptr<Route>> build_destinations(const config::Config& config,
                                                       const plugins::PluginRegistry& registry,
                                                       net::TlsClientContexts& tls, Metrics& metrics,
                                                       std::vector<config::Problem>& problems);

// The systems part of build_routes(), also for a reload of the allowlist: the systems that could be
// built, with the problems of those that could not added to `problems`.
std::vector<std::unique_ptr<SystemRoute>> build_systems(const config::Config& config,
                                                        const plugins::PluginRegistry& registry,
                                                        net::TlsClientContexts& tls,
                                                        std::vector<config::Problem>& problems);

// The plugin paths to search for a configuration: --plugin-path options, then the configured ones,
// then the default next to the executable.
std::vector<std::filesystem::path> plugin_search_path(const std::vector<std::filesystem::path>& command_line,
                                                      const std::vector<std::filesystem::path>& configured);

}  // namespace gw::runtime
