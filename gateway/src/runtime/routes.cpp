#include "runtime/routes.hpp"

#include <unistd.h>

#include <climits>

#include "config/settings.hpp"

namespace gw::runtime {
namespace fs = std::filesystem;

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out.empty() ? "none" : out;
}

}  // namespace

std::vector<config::Problem> build_routes(const config::Config& config,
                                          const plugins::PluginRegistry& registry,
                                          net::TlsClientContexts& tls, Metrics& metrics,
                                          std::vector<std::unique_ptr<Route>>& routes) {
  std::vector<config::Problem> problems;
  for (const auto& dest : config.destinations) {
    auto problem = [&](const std::string& key, const std::string& message) {
      problems.push_back({dest.position, dest.key + "." + key, message});
    };
    Plugin* plugin = registry.plugin_for(dest.spec.route_type);
    const plugins::Manifest* manifest = registry.manifest_for(dest.spec.route_type);
    if (!plugin || !manifest) {
      problem("route_type", "no loaded plugin provides route type '" + dest.spec.route_type +
                                "' (available: " + join(registry.route_types()) + ")");
      continue;
    }
    auto route = std::make_unique<Route>();
    route->destination = dest.spec;
    route->listen = dest.listen;
    auto settings_problems = config::resolve_settings(dest.settings, manifest->settings, dest.position.file,
                                                      dest.position, dest.key, route->destination.settings);
    if (!settings_problems.empty()) {
      problems.insert(problems.end(), settings_problems.begin(), settings_problems.end());
      continue;
    }
    if (route->destination.tls.enabled) {
      try {
        tls.get(route->destination.tls);
      } catch (const std::exception& e) {
        problem("tls", e.what());
        continue;
      }
    }
    try {
      route->handler = plugin->create_edge_handler(route->destination);
    } catch (const RouteConfigError& e) {
      problem(e.key(), e.what());
      continue;
    } catch (const std::exception& e) {
      problem("route_type", "plugin '" + manifest->name + "' refused the destination: " + e.what());
      continue;
    }
    if (!route->handler) {
      problem("route_type", "plugin '" + manifest->name + "' returned no handler");
      continue;
    }
    const MetricLabels labels{{"destination", dest.spec.name}, {"route_type", dest.spec.route_type}};
    route->active = &metrics.gauge("gateway_connections_active", "Client connections open now", labels);
    route->accepted = &metrics.counter("gateway_connections_total", "Client connections accepted", labels);
    route->refused = &metrics.counter("gateway_connections_refused_total",
                                      "Client connections refused before reaching the route handler",
                                      {{"destination", dest.spec.name}, {"reason", "max_connections"}});
    routes.push_back(std::move(route));
  }
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
