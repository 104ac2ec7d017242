// gatewayd: the connectivity gateway's one binary.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli/certs.hpp"
#include "config/config.hpp"
#include "config/yaml_reader.hpp"
#include "gateway/plugin/abi.hpp"
#include "runtime/gateway.hpp"
#include "runtime/reload.hpp"
#include "tunnel/connector_pool.hpp"

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
SIGHUP reloads FILE for new connections and streams: a connector's systems and edges, the
destinations (added, removed, changed), the proxies' authentication, limits and addresses, and the
tunnel's certificates; anything else waits for a restart (docs/configuration.md, "Reloading").
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

using config::yaml::join;
using runtime::Gateway;

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
    problems = runtime::prepare(gw, options.plugin_paths);
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
    problems = runtime::prepare(gw, options.plugin_paths);
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
    server.on_reload(
        [&gw, running = runtime::Running{&server, tunnel_listener.get(), agent.get(), socks.get(),
                                         http_proxy.get()}] { runtime::reload(gw, running); });
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
