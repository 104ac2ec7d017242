#include "runtime/routes.hpp"

#include <unistd.h>

#include <climits>

#include "config/settings.hpp"
#include "config/yaml_reader.hpp"

namespace gw::runtime {
namespace fs = std::filesystem;

namespace {

std::string list_or_none(const std::vector<std::string>& items) {
  return items.empty() ? "none" : config::yaml::join(items);
}

}  // namespace

namespace {

// The steps destinations and systems share: find the plugin, resolve settings against its manifest,
// build the TLS context towards the target, then let `create` make the handler. Returns false (with
// problems added) when any step fails.
template <class Spec, class Handler, class Create>
bool build_handler(const plugins::PluginRegistry& registry, net::TlsClientContexts& tls,
                   const YAML::Node& settings, const config::Position& position, const std::string& key,
                   Spec& spec, std::unique_ptr<Handler>& handler, std::vector<config::Problem>& problems,
                   Create create) {
  auto problem = [&](const std::string& field, const std::string& message) {
    problems.push_back({position, key + "." + field, message});
  };
  Plugin* plugin = registry.plugin_for(spec.route_type);
  const plugins::Manifest* manifest = registry.manifest_for(spec.route_type);
  if (!plugin || !manifest) {
    problem("route_type", "no loaded plugin provides route type '" + spec.route_type +
                              "' (available: " + list_or_none(registry.route_types()) + ")");
    return false;
  }
  auto settings_problems =
      config::resolve_settings(settings, manifest->settings, position.file, position, key, spec.settings);
  if (!settings_problems.empty()) {
    problems.insert(problems.end(), settings_problems.begin(), settings_problems.end());
    return false;
  }
  if (spec.tls.enabled) {
    try {
      tls.get(spec.tls);
    } catch (const std::exception& e) {
      problem("tls", e.what());
      return false;
    }
  }
  try {
    handler = create(*plugin, spec);
  } catch (const RouteConfigError& e) {
    problem(e.key(), e.what());
    return false;
  } catch (const std::exception& e) {
    problem("route_type", "plugin '" + manifest->name + "' refused it: " + e.what());
    return false;
  }
  if (!handler) {
    problem("route_type", "plugin '" + manifest->name + "' returned no handler");
    return false;
  }
  return true;
}

std::shared_ptr<const RouteState> make_state(const Destination& spec,
                                             std::unique_ptr<EdgeRouteHandler> handler, Metrics& metrics) {
  const MetricLabels labels{{"destination", spec.name}, {"route_type", spec.route_type}};
  auto* active = &metrics.gauge("gateway_connections_active", "Client connections open now", labels);
  auto* accepted = &metrics.counter("gateway_connections_total", "Client connections accepted", labels);
  return std::make_shared<const RouteState>(RouteState{spec, std::move(handler), active, accepted});
}

std::shared_ptr<Route> make_route(const Destination& spec, std::unique_ptr<EdgeRouteHandler> handler,
                                  const config::Endpoint& listen, Metrics& metrics) {
  auto route = std::make_shared<Route>();
  route->set_state(make_state(spec, std::move(handler), metrics));
  route->listen = listen;
  route->refused = &metrics.counter("gateway_connections_refused_total",
                                    "Client connections refused before reaching the route handler",
                                    {{"destination", spec.name}, {"reason", "max_connections"}});
  return route;
}

const auto create_edge = [](Plugin& plugin, const Destination& spec) {
  return plugin.create_edge_handler(spec);
};

}  // namespace

std::vector<std::unique_ptr<SystemRoute>> build_systems(const config::Config& config,
                                                        const plugins::PluginRegistry& registry,
                                                        net::TlsClientContexts& tls,
                                                        std::vector<config::Problem>& problems) {
  std::vector<std::unique_ptr<SystemRoute>> systems;
  for (const auto& system : config.systems) {
    auto route = std::make_unique<SystemRoute>();
    route->system = system.spec;
    if (build_handler(registry, tls, system.settings, system.position, system.key, route->system,
                      route->handler, problems, [](Plugin& plugin, const System& spec) {
                        return plugin.create_connector_handler(spec);
                      })) {
      systems.push_back(std::move(route));
    }
  }
  return systems;
}

DestinationTable::DestinationTable(std::vector<std::shared_ptr<Route>> routes) : routes_(std::move(routes)) {
  for (const auto& route : routes_) {
    const auto state = route->state();
    const Destination& d = state->destination;
    by_name_.emplace(d.name, route);
    if (d.proxy_type == ProxyType::on_premise)
      by_address_.emplace(address_key(d.tenant, d.location_id, d.host, d.port), route.get());
  }
}

std::shared_ptr<Route> DestinationTable::named(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

Route* DestinationTable::at(const std::string& tenant, const std::string& location, const std::string& host,
                            std::uint16_t port) const {
  auto it = by_address_.find(address_key(tenant, location, host, port));
  return it == by_address_.end() ? nullptr : it->second;
}

std::string DestinationTable::address_key(const std::string& tenant, const std::string& location,
                                          const std::string& host, std::uint16_t port) {
  return tenant + "/" + location + "/" + net::canonical_host(host) + ":" + std::to_string(port);
}

std::vector<std::shared_ptr<Route>> build_destinations(const config::Config& config,
                                                       const plugins::PluginRegistry& registry,
                                                       net::TlsClientContexts& tls, Metrics& metrics,
                                                       std::vector<config::Problem>& problems) {
  std::vector<std::shared_ptr<Route>> destinations;
  for (const auto& dest : config.destinations) {
    Destination spec = dest.spec;
    std::unique_ptr<EdgeRouteHandler> handler;
    if (build_handler(registry, tls, dest.settings, dest.position, dest.key, spec, handler, problems,
                      create_edge)) {
      destinations.push_back(make_route(spec, std::move(handler), dest.listen, metrics));
    }
  }
  return destinations;
}

ProxyRoutes build_proxy_routes(const config::Config& config, const plugins::PluginRegistry& registry,
                               net::TlsClientContexts& tls, Metrics& metrics,
                               std::vector<config::Problem>& problems) {
  // The proxy entry points serve virtual hosts no destination describes with a synthetic destination
  // of their own (host and port replaced per connection).
  auto entry_default = [&](const config::ProxyEntryConfig& entry, const std::string& name,
                           const std::string& route_type, const std::string& what) -> std::shared_ptr<Route> {
    Destination spec;
    spec.name = name;
    spec.route_type = route_type;
    spec.proxy_type = ProxyType::on_premise;
    spec.host = name + ".invalid";
    spec.port = 1;
    spec.limits = entry.limits;
    std::unique_ptr<EdgeRouteHandler> handler;
    std::vector<config::Problem> entry_problems;
    if (build_handler(registry, tls, YAML::Node(), entry.position, name, spec, handler, entry_problems,
                      create_edge)) {
      return make_route(spec, std::move(handler), entry.listen, metrics);
    }
    for (auto& p : entry_problems) {
      problems.push_back({p.where, name.substr(0, name.find('-')),
                          what + " with route type " + route_type + ": " + p.message});
    }
    return nullptr;
  };
  ProxyRoutes routes;
  if (config.socks5) {
    routes.socks5 = entry_default(*config.socks5, "socks5", "tcp",
                                  "the SOCKS5 entry point relays virtual hosts without a destination");
  }
  if (config.http_proxy) {
    routes.http_proxy =
        entry_default(*config.http_proxy, "http_proxy", "http",
                      "the HTTP proxy forwards requests to virtual hosts without a destination");
    routes.http_proxy_connect =
        entry_default(*config.http_proxy, "http_proxy-connect", "tcp",
                      "the HTTP proxy relays CONNECT to virtual hosts without a destination");
  }
  return routes;
}

std::vector<config::Problem> build_routes(const config::Config& config,
                                          const plugins::PluginRegistry& registry,
                                          net::TlsClientContexts& tls, Metrics& metrics, Routes& routes) {
  std::vector<config::Problem> problems;
  routes.set_destinations(build_destinations(config, registry, tls, metrics, problems));
  routes.systems = build_systems(config, registry, tls, problems);
  routes.proxies = build_proxy_routes(config, registry, tls, metrics, problems);
  return problems;
}

std::vector<fs::path> plugin_search_path(const std::vector<fs::path>& command_line,
                                         const std::vector<fs::path>& configured) {
  std::vector<fs::path> paths = command_line;
  paths.insert(paths.end(), configured.begin(), configured.end());
  char exe[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    auto dir = fs::path(exe).parent_path().parent_path() / "lib" / "gatewayd" / "plugins";
    std::error_code ec;
    if (fs::is_directory(dir, ec)) paths.push_back(dir);
  }
  return paths;
}

}  // namespace gw::runtime
