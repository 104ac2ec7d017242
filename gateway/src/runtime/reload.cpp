#include "runtime/reload.hpp"

#include <algorithm>
#include <type_traits>

#include "config/yaml_reader.hpp"

namespace gw::runtime {

using config::yaml::join;

namespace {

// What a reload changes in an edge's destinations. A destination keeps its Route (its entry point and
// connection count) while its entry point stays; its new state (handler, settings, metrics) is put in
// force for new connections. One that is added or whose entry point moved gets a new Route and
// listener; one that is removed or moved has its listener closed, and its open connections go on.
struct DestinationPlan {
  struct Update {
    Route* route;
    std::shared_ptr<const RouteState> state;
  };
  std::vector<Update> updates;
  std::vector<std::shared_ptr<Route>> added;  // entry points to bind
  std::vector<const Route*> removed;          // entry points to close
  std::vector<std::shared_ptr<Route>> table;  // every destination, in the file's order
  std::vector<std::string> added_names, removed_names, updated_names;
  config::ListEntries entries;  // the new file's destination entries
};

DestinationPlan plan_destinations(Gateway& gw, const config::Config& next,
                                  std::vector<std::string>& problems) {
  DestinationPlan plan;
  const auto current = gw.routes.destinations();
  plan.entries = config::list_entries(next.text, "destinations", "name");
  const std::vector<std::string> changed = config::changed_entries(gw.destinations_in_force, plan.entries);
  auto is_changed = [&changed](const std::string& name) {
    return std::find(changed.begin(), changed.end(), name) != changed.end();
  };
  // Only the destinations whose entry changed or that are new are built: the others keep their handler
  // (and so, for instance, their cached OAuth2 tokens).
  config::Config to_build = next;
  to_build.destinations.clear();
  for (const auto& destination : next.destinations)
    if (is_changed(destination.spec.name)) to_build.destinations.push_back(destination);
  std::vector<config::Problem> build_problems;
  std::vector<std::shared_ptr<Route>> built =
      build_destinations(to_build, *gw.registry, gw.tls, gw.metrics, build_problems);
  for (const auto& p : build_problems) problems.push_back(p.str());
  if (!build_problems.empty()) return plan;

  std::size_t next_built = 0;
  for (const auto& destination : next.destinations) {
    const std::string& name = destination.spec.name;
    const std::shared_ptr<Route> old = current->named(name);
    if (!is_changed(name)) {
      plan.table.push_back(old);
      continue;
    }
    std::shared_ptr<Route> fresh = built[next_built++];
    if (old && old->listen.str() == fresh->listen.str()) {
      plan.updates.push_back({old.get(), fresh->state()});
      plan.updated_names.push_back(name);
      plan.table.push_back(old);
      continue;
    }
    if (old) {
      plan.removed.push_back(old.get());
      plan.updated_names.push_back(name + " (entry point moved)");
    } else {
      plan.added_names.push_back(name);
    }
    plan.added.push_back(fresh);
    plan.table.push_back(fresh);
  }
  for (const auto& route : current->routes()) {
    const std::string& name = route->state()->destination.name;
    const bool kept = std::any_of(next.destinations.begin(), next.destinations.end(),
                                  [&name](const auto& d) { return d.spec.name == name; });
    if (!kept) {
      plan.removed.push_back(route.get());
      plan.removed_names.push_back(name);
    }
  }
  return plan;
}

// The tunnel's TLS from the files as they are now, for a reload: certificates are rotated by
// replacing the files (or naming new ones). An edge's server context; a connector's client context,
// whose certificate must name the identity the connector runs as. The rest of the `tunnel` or
// `connector` section, changed, waits for a restart (added to `waiting`). Nothing for a standalone
// gateway, whose certificates live in memory.
std::optional<net::SslCtxPtr> plan_tunnel_tls(const Gateway& gw, const config::Config& next,
                                              std::vector<std::string>& waiting,
                                              std::vector<std::string>& problems) {
  const std::string file = gw.config.file.string();
  // Compared without the keys a reload applies.
  auto other_keys_changed = [&waiting](const char* section, auto before, auto after, const char* what) {
    if (std::erase(waiting, section) == 0) return;
    before.tls = after.tls = {};
    if constexpr (std::is_same_v<decltype(before), config::ConnectorConfig>) {
      before.edges = after.edges = {};
      before.connections_per_edge = after.connections_per_edge = 0;
    }
    if (!(before == after)) waiting.push_back(std::string(section) + " (" + what + ")");
  };
  try {
    if (gw.config.node.role == config::Role::edge && gw.config.tunnel && next.tunnel) {
      other_keys_changed("tunnel", *gw.config.tunnel, *next.tunnel, "listen or tuning");
      return tunnel::make_edge_server_context(tls_source(next.tunnel->tls));
    }
    if (gw.config.node.role == config::Role::connector && gw.config.connector && next.connector) {
      other_keys_changed("connector", *gw.config.connector, *next.connector, "reconnect or tuning");
      auto context = tunnel::make_connector_client_context(tls_source(next.connector->tls));
      std::string error;
      auto identity = tunnel::identity_from_certificate_file(next.connector->tls.cert_file.string(), error);
      if (!identity) {
        problems.push_back(file + ": connector.cert_file: " + error);
      } else if (!(*identity == gw.identity)) {
        problems.push_back(file + ": connector.cert_file: the certificate names " + identity->str() +
                           ", this connector runs as " + gw.identity.str() +
                           "; changing the identity takes a restart");
      }
      return context;
    }
  } catch (const std::exception& e) {
    problems.push_back(file + ": " + (gw.config.runs_edge() ? "tunnel: " : "connector: ") + e.what());
  }
  return std::nullopt;
}

// What a reload changes in a proxy entry point (`section`: socks5 or http_proxy), against the section
// in force: its authentication (users, JWT, anonymous identity, handshake timeout; always rebuilt, so
// that a key file replaced in place is read again), its address and its limits. An entry point added
// or removed waits for a restart (added to `changed` as "SECTION (added or removed)").
struct ProxyPlan {
  std::optional<socks::Options> options;
  std::optional<config::Endpoint> listen;  // set when the address changed
  bool limits = false;                     // the limits changed: its routes are built again
};

ProxyPlan plan_proxy(const std::string& section, const std::optional<config::ProxyEntryConfig>& in_force,
                     const std::optional<config::ProxyEntryConfig>& after, std::vector<std::string>& changed,
                     const std::string& file, std::vector<std::string>& problems) {
  ProxyPlan plan;
  if (!in_force || !after) {
    if (in_force.has_value() != after.has_value()) changed.push_back(section + " (added or removed)");
    return plan;
  }
  try {
    plan.options = socks::make_options(*after);
  } catch (const std::exception& e) {
    problems.push_back(file + ": " + section + ": " + e.what());
  }
  if (in_force->listen.str() != after->listen.str()) plan.listen = after->listen;
  plan.limits = !(in_force->limits == after->limits);
  return plan;
}

void reload_failed(Gateway& gw, const std::vector<std::string>& problems);

// The reload's listener changes: the proxies' new addresses, then the destinations' entry points.
// False, after reporting the reload as failed, when one cannot be bound; the proxies are then put back
// where they were.
bool bind_listeners(Gateway& gw, const Running& running, const DestinationPlan& destinations,
                    const ProxyPlan& socks5, const ProxyPlan& http_proxy) {
  std::vector<std::pair<Route*, config::Endpoint>> moved;  // and where each was
  try {
    for (const auto& [route, plan] : {std::pair{gw.routes.proxies.socks5.get(), &socks5},
                                      std::pair{gw.routes.proxies.http_proxy.get(), &http_proxy}}) {
      if (!plan->listen) continue;
      if (auto left = running.server->move_listener(route, *plan->listen)) moved.emplace_back(route, *left);
    }
    if (!destinations.added.empty() || !destinations.removed.empty())
      running.server->change_entry_points(destinations.added, destinations.removed);
    return true;
  } catch (const std::exception& e) {
    for (const auto& [route, where] : moved) {
      try {
        running.server->move_listener(route, where);
      } catch (const std::exception& back) {
        gw.log.log(LogLevel::error, "listener_lost", {{"address", where.str()}, {"reason", back.what()}});
      }
    }
    reload_failed(gw, {gw.config.file.string() + ": " + e.what()});
    return false;
  }
}

void reload_failed(Gateway& gw, const std::vector<std::string>& problems) {
  for (const auto& p : problems) gw.log.log(LogLevel::error, "config_reload_failed", {{"problem", p}});
  if (gw.audit->enabled(AuditClass::security)) {
    gw.audit->record({AuditClass::security,
                      "config.reload_failed",
                      {{"file", gw.config.file.string()},
                       {"problems", static_cast<std::int64_t>(problems.size())},
                       {"first_problem", problems.front()}}});
  }
}

}  // namespace

void reload(Gateway& gw, const Running& running) {
  ConnectorAgent* agent = running.agent;
  const std::string file = gw.config.file.string();
  std::vector<std::string> problems;
  std::optional<config::Config> next;
  try {
    next = config::load_config(gw.config.file);
  } catch (const config::Problems& found) {
    for (const auto& p : found.problems()) problems.push_back(p.str());
  }
  if (next && next->node.role != gw.config.node.role) {
    problems.push_back(file + ": node.role: changing the role takes a restart");
  }
  std::vector<std::unique_ptr<SystemRoute>> systems;
  DestinationPlan destinations;
  std::vector<std::string> waiting;
  ProxyPlan socks5;
  ProxyPlan http_proxy;
  ProxyRoutes proxy_routes;  // rebuilt when a proxy's limits changed
  std::optional<net::SslCtxPtr> tunnel_tls;
  if (problems.empty()) {
    if (agent) {
      std::vector<config::Problem> system_problems;
      systems = build_systems(*next, *gw.registry, gw.tls, system_problems);
      for (const auto& p : system_problems) problems.push_back(p.str());
    }
    if (gw.config.runs_edge()) destinations = plan_destinations(gw, *next, problems);
    waiting = config::changed_sections(gw.config.text, next->text);
    socks5 = plan_proxy("socks5", gw.socks5_in_force, next->socks5, waiting, file, problems);
    http_proxy = plan_proxy("http_proxy", gw.http_proxy_in_force, next->http_proxy, waiting, file, problems);
    if (socks5.limits || http_proxy.limits) {
      std::vector<config::Problem> route_problems;
      proxy_routes = build_proxy_routes(*next, *gw.registry, gw.tls, gw.metrics, route_problems);
      for (const auto& p : route_problems) problems.push_back(p.str());
    }
    tunnel_tls = plan_tunnel_tls(gw, *next, waiting, problems);
  }
  if (!problems.empty()) {
    reload_failed(gw, problems);
    return;
  }
  // These sections are applied, or what of them waits is named above (an edge has no systems, a
  // connector no destinations or proxies: the configuration refuses them for its role).
  for (const char* applied : {"systems", "destinations", "socks5", "http_proxy"})
    std::erase(waiting, applied);
  // Listeners are bound first: a port in use fails the reload before anything else changed.
  if (!bind_listeners(gw, running, destinations, socks5, http_proxy)) return;
  if (socks5.limits) gw.routes.proxies.socks5->set_state(proxy_routes.socks5->state());
  if (http_proxy.limits) {
    gw.routes.proxies.http_proxy->set_state(proxy_routes.http_proxy->state());
    gw.routes.proxies.http_proxy_connect->set_state(proxy_routes.http_proxy_connect->state());
  }
  if (tunnel_tls && running.tunnel_listener) {
    running.tunnel_listener->set_tls(*tunnel_tls);
    gw.tunnel_server_tls = *tunnel_tls;
  }
  if (tunnel_tls && agent) {
    agent->set_tls(*tunnel_tls);
    gw.tunnel_client_tls = *tunnel_tls;
  }
  if (tunnel_tls) report_tunnel_validity(gw);
  // Edges and connections per edge, after the TLS: new connections dial with the new certificate.
  if (agent && gw.config.node.role == config::Role::connector && next->connector)
    agent->set_edges(ConnectorAgent::edges_of(*next->connector), next->connector->connections_per_edge);
  if (socks5.options) {
    running.socks5->set_options(std::move(*socks5.options));
    gw.socks5_in_force = next->socks5;
  }
  if (http_proxy.options) {
    running.http_proxy->set_options(std::move(*http_proxy.options));
    gw.http_proxy_in_force = next->http_proxy;
  }
  for (auto& update : destinations.updates) update.route->set_state(std::move(update.state));
  if (gw.config.runs_edge()) {
    gw.routes.set_destinations(std::move(destinations.table));
    gw.destinations_in_force = std::move(destinations.entries);
  }
  const std::string updated = join(destinations.updated_names, ",");
  const std::string added = join(destinations.added_names, ",");
  const std::string removed = join(destinations.removed_names, ",");
  const std::int64_t previous = agent ? static_cast<std::int64_t>(agent->system_count()) : 0;
  const std::int64_t count = static_cast<std::int64_t>(systems.size());
  if (agent) agent->replace_systems(std::move(systems));
  const std::string sha256 = plugins::sha256_hex(next->text);
  const std::string restart_needed = join(waiting, ",");
  gw.log.log(LogLevel::info, "config_reloaded",
             {{"file", file},
              {"sha256", sha256},
              {"systems", std::to_string(count)},
              {"previous_systems", std::to_string(previous)},
              {"destinations_added", added},
              {"destinations_removed", removed},
              {"destinations_updated", updated},
              {"tunnel_tls", tunnel_tls ? "reloaded" : ""}});
  if (!waiting.empty()) {
    gw.log.log(LogLevel::warn, "restart_needed",
               {{"sections", restart_needed}, {"reason", "these sections are read at start-up only"}});
  }
  if (gw.audit->enabled(AuditClass::security)) {
    gw.audit->record({AuditClass::security,
                      "config.reloaded",
                      {{"file", file},
                       {"sha256", sha256},
                       {"systems", count},
                       {"previous_systems", previous},
                       {"destinations_added", added},
                       {"destinations_removed", removed},
                       {"destinations_updated", updated},
                       {"tunnel_tls", std::string(tunnel_tls ? "reloaded" : "")},
                       {"restart_needed", restart_needed}}});
  }
}

}  // namespace gw::runtime
