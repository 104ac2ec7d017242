// gatewayd: the connectivity gateway's one binary.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "gateway/plugin/abi.hpp"
#include "host/audit.hpp"
#include "host/host_services.hpp"
#include "host/logger.hpp"
#include "host/metrics.hpp"
#include "net/direct_tunnel.hpp"
#include "plugins/loader.hpp"
#include "runtime/routes.hpp"
#include "runtime/server.hpp"

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

Options:
  --config FILE        configuration file (run, check)
  --plugin-path DIR    also search DIR for plugins (repeatable; searched first)
  --version            print the version and exit
  --help               print this help (also: gatewayd COMMAND --help)
)";

constexpr const char* kRunHelp = R"(usage: gatewayd run --config FILE [--plugin-path DIR]...

Starts the gateway. SIGTERM or SIGINT drains: listeners close, open connections get up to
node.drain_timeout to finish, then the process exits. A second signal closes everything at once.
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
  std::vector<std::unique_ptr<runtime::Route>> routes;

  explicit Gateway(config::Config c) : config(std::move(c)), log(config.log.level, config.log.format) {}
};

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
  std::cout << "configuration OK: " << gw.routes.size() << " destination(s), plugins: ";
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
  net::DirectTunnel tunnel(gw.tls);
  try {
    runtime::Server server(gw.config, gw.log, gw.metrics, *gw.host, tunnel, gw.routes);
    server.bind();
    return server.run();
  } catch (const std::exception& e) {
    gw.log.log(LogLevel::error, "startup_failed", {{"reason", e.what()}});
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
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
