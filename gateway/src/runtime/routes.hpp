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

// A destination (settings resolved against its plugin's manifest), the handler built for it, and the
// metrics its connections count in (labelled with its name and route type).
struct RouteState {
  Destination destination;
  std::unique_ptr<EdgeRouteHandler> handler;
  Gauge* active = nullptr;
  Counter* accepted = nullptr;
};

// A destination's entry point and what it serves.
struct Route {
  config::Endpoint listen;  // where its entry point listens (a reload that moves it changes this)
  Counter* refused = nullptr;
  std::atomic<std::uint32_t> connections{0};  // for limits.max_connections, over every state in force

  // The destination, handler and metrics in force. A connection takes them once, when it starts, and
  // keeps them to its end: a reload may put new ones in force meanwhile (set_state), with the same name
  // and entry point. Any thread.
  std::shared_ptr<const RouteState> state() const { return state_.get(); }
  void set_state(std::shared_ptr<const RouteState> state) { state_.set(std::move(state)); }

 private:
  InForce<RouteState> state_;
};

// A connector's allowlist entry bound to the connector-side handler of its route type.
struct SystemRoute {
  System system;  // settings resolved against the plugin's manifest
  std::unique_ptr<ConnectorRouteHandler> handler;
  // Streams open now, for limits.max_connections: shared with the same system in the allowlist a
  // reload replaces (Allowlist::carry_counts), so that the limit holds across reloads.
  std::shared_ptr<std::atomic<std::uint32_t>> connections = std::make_shared<std::atomic<std::uint32_t>>(0);
};

// The edge's destinations at one time, and how the entry points find one: by name (the HTTP proxy's
// X-Destination-Name, the lookup API) and, for on_premise ones, by tenant, location and virtual
// host:port (the proxies' clients ask for an address). Immutable; a reload that adds or removes
// destinations puts a new table in force.
class DestinationTable {
 public:
  explicit DestinationTable(std::vector<std::shared_ptr<Route>> routes);

  const std::vector<std::shared_ptr<Route>>& routes() const { return routes_; }
  std::shared_ptr<Route> named(const std::string& name) const;
  // The on_premise destination with this virtual address (the host in any spelling canonical_host
  // folds together), or null.
  Route* at(const std::string& tenant, const std::string& location, const std::string& host,
            std::uint16_t port) const;

 private:
  static std::string address_key(const std::string& tenant, const std::string& location,
                                 const std::string& host, std::uint16_t port);
  std::vector<std::shared_ptr<Route>> routes_;
  std::unordered_map<std::string, std::shared_ptr<Route>> by_name_;
  std::unordered_map<std::string, Route*> by_address_;
};

// The routes of the proxy entry points (edge), for virtual hosts no destination describes: SOCKS5
// relays them as tcp; the HTTP proxy forwards requests (http) and relays CONNECT (tcp). Each one's
// destination is a template: host, port, tenant and location are set per connection. Its limits are
// the entry point's. Null when the entry point is not configured.
struct ProxyRoutes {
  std::shared_ptr<Route> socks5;
  std::shared_ptr<Route> http_proxy;
  std::shared_ptr<Route> http_proxy_connect;
};

// Everything the configuration's routes resolve to.
struct Routes {
  // Edge: the destinations in force. Any thread; a caller that keeps a Route* keeps the table too.
  std::shared_ptr<const DestinationTable> destinations() const { return destinations_.get(); }
  void set_destinations(std::vector<std::shared_ptr<Route>> routes) {
    destinations_.set(std::make_shared<const DestinationTable>(std::move(routes)));
  }

  std::vector<std::unique_ptr<SystemRoute>> systems;  // connector: the allowlist
  ProxyRoutes proxies;

 private:
  InForce<DestinationTable> destinations_{
      std::make_shared<const DestinationTable>(std::vector<std::shared_ptr<Route>>{})};
};

// Resolves each destination's and system's route type and settings, creates its handler and its TLS
// context. Returns every problem found (with file, line and key); `routes` gets what was built.
std::vector<config::Problem> build_routes(const config::Config& config,
                                          const plugins::PluginRegistry& registry,
                                          net::TlsClientContexts& tls, Metrics& metrics, Routes& routes);

// The destinations part of build_routes(), also for a reload: a route for each destination that could
// be built, with the problems of those that could not added to `problems`.
std::vector<std::shared_ptr<Route>> build_destinations(const config::Config& config,
                                                       const plugins::PluginRegistry& registry,
                                                       net::TlsClientContexts& tls, Metrics& metrics,
                                                       std::vector<config::Problem>& problems);

// The proxies' part of build_routes(), also for a reload of a proxy's limits.
ProxyRoutes build_proxy_routes(const config::Config& config, const plugins::PluginRegistry& registry,
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
