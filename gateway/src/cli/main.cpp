// gatewayd: the connectivity gateway's one binary.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "cli/certs.hpp"
#include "config/config.hpp"
#include "gateway/plugin/abi.hpp"
#include "host/audit.hpp"
#include "host/host_services.hpp"
#include "host/logger.hpp"
#include "host/metrics.hpp"
#include "net/direct_tunnel.hpp"
#include "plugins/loader.hpp"
#include "runtime/connector_agent.hpp"
#include "runtime/edge_tunnel.hpp"
#include "runtime/http_proxy_entry.hpp"
#include "runtime/routes.hpp"
#include "runtime/server.hpp"
#include "runtime/socks_entry.hpp"
#include "tunnel/certificates.hpp"
#include "tunnel/connector_pool.hpp"
#include "tunnel/identity.hpp"
#include "tunnel/tunnel_tls.hpp"

#ifndef GATEWAY_VERSION
#define GATEWAY_VERSION "0.0.0"
#endif

namespace fs = std::filesystem;
using namespace gw;

namespace {

constexpr const char* kUsage = R"(usage: gatewayd [COMMAND] [OPTIONS]

Commands:
  run       start the gateway (the default)
  check     validate the configuration and every plugin it needs; exit 1 on any problem
  plugins   list the plugins found in the plugin paths and whether they load
  certs     create a development CA and tunnel certificates (gatewayd certs --help)

Options:
  --config FILE        configuration file (run, check)
  --plugin-path DIR    also search DIR for plugins (repeatable; searched first)
  --version            print the version and exit
  --help               print this help (also: gatewayd COMMAND --help)
)";

constexpr const char* kRunHelp = R"(usage: gatewayd run --config FILE [--plugin-path DIR]...

Starts the gateway. SIGTERM or SIGINT drains: listeners close, open connections get up to
node.drain_timeout to finish, then the process exits. A second signal closes everything at once.
SIGHUP reloads FILE for new connections and streams: a connector's systems, the destinations whose
entry changed (credentials, TLS, limits, settings) and the proxies' users and JWT settings; anything
else waits for a restart.
)";

constexpr const char* kCheckHelp = R"(usage: gatewayd check --config FILE [--plugin-path DIR]...

Validates the configuration, loads the plugins and checks every destination against its plugin.
Prints every problem as FILE:LINE:COLUMN: KEY: MESSAGE and exits 1 if there is any.
)";

constexpr const char* kPluginsHelp = R"(usage: gatewayd plugins [--config FILE] [--plugin-path DIR]...

Lists every plugin manifest found in the plugin paths: name, version, plugin API version, route
types, library, and whether it loaded or why it was refused. With --config, the configured plugin
paths and allow-list apply too.
)";

struct Options {
  std::string command = "run";
  std::optional<fs::path> config;
  std::vector<fs::path> plugin_paths;
  bool help = false;
  bool version = false;
};

std::optional<Options> parse_args(int argc, char** argv) {
  Options options;
  int i = 1;
  if (i < argc && argv[i][0] != '-') options.command = argv[i++];
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* name) -> std::optional<std::string> {
      if (auto eq = arg.find('='); eq != std::string::npos) return arg.substr(eq + 1);
      if (i + 1 >= argc) {
        std::cerr << "gatewayd: " << name << " needs a value\n";
        return std::nullopt;
      }
      return std::string(argv[++i]);
    };
    if (arg == "--help" || arg == "-h") {
      options.help = true;
    } else if (arg == "--version") {
      options.version = true;
    } else if (arg == "--config" || arg.rfind("--config=", 0) == 0) {
      auto v = value("--config");
      if (!v) return std::nullopt;
      options.config = *v;
    } else if (arg == "--plugin-path" || arg.rfind("--plugin-path=", 0) == 0) {
      auto v = value("--plugin-path");
      if (!v) return std::nullopt;
      options.plugin_paths.push_back(fs::absolute(*v));
    } else {
      std::cerr << "gatewayd: unknown option '" << arg << "'\n" << kUsage;
      return std::nullopt;
    }
  }
  if (options.command != "run" && options.command != "check" && options.command != "plugins") {
    std::cerr << "gatewayd: unknown command '" << options.command << "'\n" << kUsage;
    return std::nullopt;
  }
  return options;
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : sep) + item;
  return out;
}

// Everything a configuration needs, built in dependency order; members are destroyed in reverse
// (routes before the plugins that created their handlers).
struct Gateway {
  config::Config config;
  host::LogSink log;
  host::MetricsRegistry metrics;
  std::unique_ptr<host::AuditLog> audit;
  std::unique_ptr<host::HostServices> host;
  std::unique_ptr<plugins::PluginRegistry> registry;
  net::TlsClientContexts tls;
  runtime::Routes routes;
  // The tunnel's mutual TLS: the edge's server side, the connector's client side and its identity.
  net::SslCtxPtr tunnel_server_tls;
  net::SslCtxPtr tunnel_client_tls;
  tunnel::ConnectorIdentity identity;
  // The destinations' entries as the running destinations were built from them (a reload updates
  // those it applies), to tell which entries a reload finds changed.
  config::ListEntries destinations_in_force;
  // What a reload compares a proxy's section with: the one in force (the file's at start-up, then the
  // last reload's).
  std::optional<config::ProxyEntryConfig> socks5_in_force;
  std::optional<config::ProxyEntryConfig> http_proxy_in_force;

  explicit Gateway(config::Config c) : config(std::move(c)), log(config.log.level, config.log.format) {}
};

tunnel::TunnelTlsSource tls_source(const config::TunnelTlsFiles& files) {
  tunnel::TunnelTlsSource source;
  source.ca_file = files.ca_file.string();
  source.cert_file = files.cert_file.string();
  source.key_file = files.key_file.string();
  return source;
}

// Builds the tunnel's TLS contexts: from the configured files, or (standalone) from certificates
// minted in memory for this process only. Returns problems naming the section at fault.
std::vector<std::string> prepare_tunnel_tls(Gateway& gw) {
  std::vector<std::string> problems;
  const auto& config = gw.config;
  const std::string file = config.file.string();
  if (config.node.role == config::Role::standalone) {
    gw.identity = {config.connector->tenant, config.connector->location_id};
    const auto ca = tunnel::make_ca("gatewayd standalone CA", 1);
    const auto edge = tunnel::make_edge_cert(ca, {"localhost"}, {"127.0.0.1"}, 1);
    const auto connector = tunnel::make_connector_cert(ca, gw.identity, 1);
    tunnel::TunnelTlsSource server{.ca_pem = ca.cert, .cert_pem = edge.cert, .key_pem = edge.key};
    tunnel::TunnelTlsSource client{.ca_pem = ca.cert, .cert_pem = connector.cert, .key_pem = connector.key};
    gw.tunnel_server_tls = tunnel::make_edge_server_context(server);
    gw.tunnel_client_tls = tunnel::make_connector_client_context(client);
    return problems;
  }
  if (config.node.role == config::Role::edge && config.tunnel) {
    try {
      gw.tunnel_server_tls = tunnel::make_edge_server_context(tls_source(config.tunnel->tls));
    } catch (const std::exception& e) {
      problems.push_back(file + ": tunnel: " + e.what());
    }
  }
  if (config.node.role == config::Role::connector && config.connector) {
    try {
      gw.tunnel_client_tls = tunnel::make_connector_client_context(tls_source(config.connector->tls));
      std::string error;
      auto identity = tunnel::identity_from_certificate_file(config.connector->tls.cert_file.string(), error);
      if (identity) {
        gw.identity = *identity;
      } else {
        problems.push_back(file + ": connector.cert_file: " + error);
      }
    } catch (const std::exception& e) {
      problems.push_back(file + ": connector: " + e.what());
    }
  }
  return problems;
}

// Loads plugins and builds routes; returns the problems (empty: ready to run).
std::vector<std::string> prepare(Gateway& gw, const Options& options) {
  std::vector<std::string> problems;
  gw.audit = std::make_unique<host::AuditLog>(gw.config.audit, gw.log);
  gw.host = std::make_unique<host::HostServices>(gw.log, gw.metrics, *gw.audit);
  gw.registry = std::make_unique<plugins::PluginRegistry>(*gw.host);
  gw.registry->load(runtime::plugin_search_path(options.plugin_paths, gw.config.plugins.paths),
                    gw.config.plugins.allow);
  for (const auto& p : gw.registry->path_problems()) {
    bool configured = false;
    for (const auto& path : gw.config.plugins.paths) configured |= p.find(path.string()) != std::string::npos;
    if (configured) problems.push_back(gw.config.file.string() + ": plugins.paths: " + p);
  }
  std::vector<config::Problem> route_problems;
  route_problems = runtime::build_routes(gw.config, *gw.registry, gw.tls, gw.metrics, gw.routes);
  for (auto& p : route_problems) {
    std::string line = p.str();
    // Say why a plugin that would have provided the route type was refused.
    if (p.key.ends_with(".route_type")) {
      for (const auto& r : gw.registry->reports()) {
        if (r.loaded || !r.manifest) continue;
        for (const auto& t : r.manifest->route_types) {
          if (line.find("'" + t + "'") != std::string::npos) {
            line += " (plugin " + r.manifest_file.string() + " was refused: " + r.refusal + ")";
          }
        }
      }
    }
    problems.push_back(line);
  }
  auto tls_problems = prepare_tunnel_tls(gw);
  problems.insert(problems.end(), tls_problems.begin(), tls_problems.end());
  return problems;
}

void log_plugin_reports(Gateway& gw) {
  for (const auto& r : gw.registry->reports()) {
    if (r.loaded) {
      gw.log.log(LogLevel::info, "plugin_loaded",
                 {{"plugin", r.manifest->name},
                  {"version", r.manifest->version},
                  {"route_types", join(r.manifest->route_types, ",")},
                  {"library", r.manifest->library.string()}});
    } else {
      gw.log.log(LogLevel::warn, "plugin_refused",
                 {{"manifest", r.manifest_file.string()}, {"reason", r.refusal}});
    }
  }
}

// What a reload changes in an edge's destinations. A destination keeps its Route (its entry point and
// connection count) while its entry point stays; its new state (handler, settings, metrics) is put in
// force for new connections. One that is added or whose entry point moved gets a new Route and
// listener; one that is removed or moved has its listener closed, and its open connections go on.
struct DestinationPlan {
  struct Update {
    runtime::Route* route;
    std::shared_ptr<const runtime::RouteState> state;
  };
  std::vector<Update> updates;
  std::vector<std::shared_ptr<runtime::Route>> added;  // entry points to bind
  std::vector<const runtime::Route*> removed;          // entry points to close
  std::vector<std::shared_ptr<runtime::Route>> table;  // every destination, in the file's order
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
  std::vector<std::shared_ptr<runtime::Route>> built =
      runtime::build_destinations(to_build, *gw.registry, gw.tls, gw.metrics, build_problems);
  for (const auto& p : build_problems) problems.push_back(p.str());
  if (!build_problems.empty()) return plan;

  std::size_t next_built = 0;
  for (const auto& destination : next.destinations) {
    const std::string& name = destination.spec.name;
    const std::shared_ptr<runtime::Route> old = current->named(name);
    if (!is_changed(name)) {
      plan.table.push_back(old);
      continue;
    }
    std::shared_ptr<runtime::Route> fresh = built[next_built++];
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

// What a reload can change in the running gateway; null where this role has none.
struct Running {
  runtime::Server* server = nullptr;
  runtime::TunnelListener* tunnel_listener = nullptr;
  runtime::ConnectorAgent* agent = nullptr;
  runtime::SocksEntryPoint* socks5 = nullptr;
  runtime::HttpProxyEntryPoint* http_proxy = nullptr;
};

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
  std::vector<std::pair<runtime::Route*, config::Endpoint>> moved;  // and where each was
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

// SIGHUP: the configuration file is read again, and what can change while the gateway runs is put in
// force for new connections and streams: a connector's systems (the allowlist, rebuilt whole), an
// edge's destinations (added, removed, changed; entry points bound and closed), the proxies'
// authentication, the tunnel's TLS (certificates read again) and a connector's edges and connections
// per edge. Everything else waits for a restart, and is
// reported. A file that does not load, a destination, system or proxy setting that cannot be built, an entry
// point that cannot be bound, or a changed role changes nothing.
void reload(Gateway& gw, const Running& running) {
  runtime::ConnectorAgent* agent = running.agent;
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
  std::vector<std::unique_ptr<runtime::SystemRoute>> systems;
  DestinationPlan destinations;
  std::vector<std::string> waiting;
  ProxyPlan socks5;
  ProxyPlan http_proxy;
  runtime::ProxyRoutes proxy_routes;  // rebuilt when a proxy's limits changed
  std::optional<net::SslCtxPtr> tunnel_tls;
  if (problems.empty()) {
    if (agent) {
      std::vector<config::Problem> system_problems;
      systems = runtime::build_systems(*next, *gw.registry, gw.tls, system_problems);
      for (const auto& p : system_problems) problems.push_back(p.str());
    }
    if (gw.config.runs_edge()) destinations = plan_destinations(gw, *next, problems);
    waiting = config::changed_sections(gw.config.text, next->text);
    socks5 = plan_proxy("socks5", gw.socks5_in_force, next->socks5, waiting, file, problems);
    http_proxy = plan_proxy("http_proxy", gw.http_proxy_in_force, next->http_proxy, waiting, file, problems);
    if (socks5.limits || http_proxy.limits) {
      std::vector<config::Problem> route_problems;
      proxy_routes = runtime::build_proxy_routes(*next, *gw.registry, gw.tls, gw.metrics, route_problems);
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
  if (tunnel_tls && running.tunnel_listener) running.tunnel_listener->set_tls(*tunnel_tls);
  if (tunnel_tls && agent) agent->set_tls(*tunnel_tls);
  // Edges and connections per edge, after the TLS: new connections dial with the new certificate.
  if (agent && gw.config.node.role == config::Role::connector && next->connector)
    agent->set_edges(runtime::ConnectorAgent::edges_of(*next->connector),
                     next->connector->connections_per_edge);
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
    gw.log.log(
        LogLevel::warn, "restart_needed",
        {{"sections", restart_needed},
         {"reason",
          "a reload applies systems, destinations, the proxies' authentication and the tunnel's TLS only"}});
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

std::optional<config::Config> read_config(const Options& options) {
  if (!options.config) {
    std::cerr << "gatewayd: --config FILE is required\n";
    return std::nullopt;
  }
  try {
    return config::load_config(*options.config);
  } catch (const config::Problems& problems) {
    for (const auto& p : problems.problems()) std::cerr << p.str() << "\n";
    return std::nullopt;
  }
}

int command_check(const Options& options) {
  auto config = read_config(options);
  if (!config) return 1;
  Gateway gw(std::move(*config));
  gw.log.reconfigure(LogLevel::error, gw.config.log.format);  // check prints problems, not logs
  std::vector<std::string> problems;
  try {
    problems = prepare(gw, options);
  } catch (const std::exception& e) {
    problems.push_back(gw.config.file.string() + ": " + e.what());
  }
  for (const auto& p : problems) std::cerr << p << "\n";
  if (!problems.empty()) {
    std::cerr << problems.size() << (problems.size() == 1 ? " problem" : " problems") << " found\n";
    return 1;
  }
  std::cout << "configuration OK: role " << config::role_name(gw.config.node.role) << ", "
            << gw.routes.destinations()->routes().size() << " destination(s), " << gw.routes.systems.size()
            << " system(s), plugins: ";
  std::vector<std::string> loaded;
  for (const auto& r : gw.registry->reports()) {
    if (r.loaded) loaded.push_back(r.manifest->name + " " + r.manifest->version);
  }
  std::cout << join(loaded, ", ") << "\n";
  return 0;
}

int command_plugins(const Options& options) {
  std::vector<fs::path> configured;
  std::optional<std::vector<std::string>> allow;
  if (options.config) {
    auto config = read_config(options);
    if (!config) return 1;
    configured = config->plugins.paths;
    allow = config->plugins.allow;
  }
  host::LogSink log(LogLevel::error, config::LogFormat::text);
  host::MetricsRegistry metrics;
  host::AuditLog audit(config::AuditConfig{config::AuditLevel::off, {}}, log);
  host::HostServices host(log, metrics, audit);
  plugins::PluginRegistry registry(host);
  auto paths = runtime::plugin_search_path(options.plugin_paths, configured);
  registry.load(paths, allow);
  std::vector<std::string> searched;
  for (const auto& p : paths) searched.push_back(p.string());
  std::cout << "plugin paths: " << join(searched, ", ") << "\n";
  for (const auto& p : registry.path_problems()) std::cout << "warning: " << p << "\n";
  if (registry.reports().empty()) std::cout << "no plugins found\n";
  for (const auto& r : registry.reports()) {
    if (!r.manifest) {
      std::cout << r.manifest_file.string() << ": refused: " << r.refusal << "\n";
      continue;
    }
    const auto& m = *r.manifest;
    std::cout << m.name << " " << m.version << " plugin_api=" << m.plugin_api
              << " route_types=" << join(m.route_types, ",") << " library=" << m.library.string() << " "
              << (r.loaded ? "loaded" : "refused: " + r.refusal) << "\n";
  }
  return 0;
}

int command_run(const Options& options) {
  auto config = read_config(options);
  if (!config) return 1;
  std::signal(SIGPIPE, SIG_IGN);
  Gateway gw(std::move(*config));
  std::vector<std::string> problems;
  try {
    problems = prepare(gw, options);
  } catch (const std::exception& e) {
    problems.push_back(e.what());
  }
  log_plugin_reports(gw);
  if (!problems.empty()) {
    for (const auto& p : problems) gw.log.log(LogLevel::error, "config_error", {{"problem", p}});
    return 1;
  }
  // The configuration in force is a security-relevant change: which file, which version of it
  // (SHA-256), and what it allows.
  if (gw.audit->enabled(AuditClass::security)) {
    gw.audit->record({AuditClass::security,
                      "config.loaded",
                      {{"file", gw.config.file.string()},
                       {"sha256", plugins::sha256_hex(gw.config.text)},
                       {"role", std::string(config::role_name(gw.config.node.role))},
                       {"destinations", static_cast<std::int64_t>(gw.routes.destinations()->routes().size())},
                       {"systems", static_cast<std::int64_t>(gw.routes.systems.size())}}});
  }
  net::DirectTunnel direct(gw.tls);
  try {
    std::unique_ptr<tunnel::ConnectorPool> pool;
    std::unique_ptr<runtime::TunnelListener> tunnel_listener;
    std::unique_ptr<runtime::SocksEntryPoint> socks;
    std::unique_ptr<runtime::HttpProxyEntryPoint> http_proxy;
    runtime::Services services{direct, nullptr, nullptr, nullptr, {}, {}};
    if (gw.config.runs_edge() && gw.config.tunnel) {
      pool = std::make_unique<tunnel::ConnectorPool>();
      tunnel_listener = std::make_unique<runtime::TunnelListener>(
          gw.tunnel_server_tls, *pool, runtime::h2_options(gw.config.tunnel->tuning), *gw.host, gw.log);
      services.pool = pool.get();
      services.tunnel_listen = gw.config.tunnel->listen;
      services.tunnel_accept = [listener = tunnel_listener.get()](boost::asio::ip::tcp::socket socket) {
        return listener->accept(std::move(socket));
      };
    }
    if (gw.config.socks5) {
      socks = std::make_unique<runtime::SocksEntryPoint>(*gw.config.socks5, gw.routes, direct, pool.get(),
                                                         *gw.host, gw.log);
      services.socks5 = socks.get();
    }
    if (gw.config.http_proxy) {
      http_proxy = std::make_unique<runtime::HttpProxyEntryPoint>(*gw.config.http_proxy, gw.routes, direct,
                                                                  pool.get(), *gw.host, gw.log);
      services.http_proxy = http_proxy.get();
    }
    runtime::Server server(gw.config, gw.log, gw.metrics, *gw.host, gw.routes, std::move(services));
    if (tunnel_listener) tunnel_listener->set_workers(server.contexts());
    server.bind();
    std::unique_ptr<runtime::ConnectorAgent> agent;
    if (gw.config.runs_connector()) {
      std::vector<runtime::ConnectorAgent::Edge> edges;
      if (gw.config.node.role == config::Role::standalone) {
        edges.push_back({"127.0.0.1", server.tunnel_endpoint().port(), "localhost"});
      } else {
        edges = runtime::ConnectorAgent::edges_of(*gw.config.connector);
      }
      agent = std::make_unique<runtime::ConnectorAgent>(
          *gw.config.connector, std::move(edges), gw.tunnel_client_tls, gw.identity,
          std::move(gw.routes.systems), direct, *gw.host, gw.log, server);
      agent->start();
    }
    if (pool) server.on_drain([p = pool.get()] { p->shutdown_all(); });
    gw.destinations_in_force = config::list_entries(gw.config.text, "destinations", "name");
    gw.socks5_in_force = gw.config.socks5;
    gw.http_proxy_in_force = gw.config.http_proxy;
    server.on_reload([&gw, running = Running{&server, tunnel_listener.get(), agent.get(), socks.get(),
                                             http_proxy.get()}] { reload(gw, running); });
    const int code = server.run();
    // Tunnel connections hold sockets of the server's io_contexts: release them while those exist.
    agent.reset();
    socks.reset();
    http_proxy.reset();
    tunnel_listener.reset();
    pool.reset();
    return code;
  } catch (const std::exception& e) {
    gw.log.log(LogLevel::error, "startup_failed", {{"reason", e.what()}});
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "certs") return cli::command_certs(argc - 1, argv + 1);
  auto options = parse_args(argc, argv);
  if (!options) return 2;
  if (options->version) {
    std::cout << "gatewayd " << GATEWAY_VERSION << " (plugin API " << kPluginApiVersion << ", "
              << kPluginAbiTag << ")\n";
    return 0;
  }
  if (options->help) {
    std::cout << (options->command == "check"                 ? kCheckHelp
                  : options->command == "plugins"             ? kPluginsHelp
                  : argc > 1 && std::string(argv[1]) == "run" ? kRunHelp
                                                              : kUsage);
    return 0;
  }
  if (options->command == "check") return command_check(*options);
  if (options->command == "plugins") return command_plugins(*options);
  return command_run(*options);
}
