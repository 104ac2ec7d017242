// The plugin entry point.
//
// A plugin is a shared library exporting two C symbols, both defined by GW_DECLARE_PLUGIN:
//   const char* gw_plugin_abi_tag() noexcept;  // checked by the loader before anything else
//   gw::Plugin* gw_plugin_create(gw::Host&);   // called once at start-up; may throw to refuse
// and a manifest (NAME.plugin.yaml) beside it naming its route types and the schema of its settings.
// Build both with the SDK's gateway_add_plugin() CMake function.
#pragma once

#include <memory>
#include <string_view>

#include "gateway/plugin/abi.hpp"
#include "gateway/plugin/host.hpp"
#include "gateway/plugin/route.hpp"

namespace gw {

class GW_PLUGIN_VISIBLE Plugin {
 public:
  virtual ~Plugin() = default;

  // Creates the edge-side handler for a destination of one of this plugin's route types.
  // Throws RouteConfigError when the destination cannot be served as configured. Called at start-up
  // and again on a reload (SIGHUP), while other handlers of this plugin serve connections; a handler
  // is destroyed on the worker of the last connection that used it.
  virtual std::unique_ptr<EdgeRouteHandler> create_edge_handler(const Destination& destination) = 0;

  // Creates the connector-side handler for a system of one of this plugin's route types.
  virtual std::unique_ptr<ConnectorRouteHandler> create_connector_handler(const System& system) = 0;
};

}  // namespace gw

#define GW_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))

// Defines the plugin's two exported symbols. PluginType must be constructible from gw::Host&.
#define GW_DECLARE_PLUGIN(PluginType)                             \
  GW_PLUGIN_EXPORT const char* gw_plugin_abi_tag() noexcept {     \
    return GW_PLUGIN_ABI_TAG;                                     \
  }                                                               \
  GW_PLUGIN_EXPORT gw::Plugin* gw_plugin_create(gw::Host& host) { \
    return new PluginType(host);                                  \
  }
