// A minimal plugin used by the loader tests, built several ways (PROBE_MODE) to exercise each refusal.
#include <stdexcept>

#include "gateway/plugin_api.hpp"

namespace {

class ProbeHandler final : public gw::EdgeRouteHandler {
 public:
  gw::asio::awaitable<void> serve(gw::EdgeSession&) override { co_return; }
};

class ProbePlugin final : public gw::Plugin {
 public:
  explicit ProbePlugin(gw::Host&) {
#if PROBE_MODE == 2
    throw std::runtime_error("probe cannot start: licence file missing");
#endif
  }
  std::unique_ptr<gw::EdgeRouteHandler> create_edge_handler(const gw::Destination&) override {
    return std::make_unique<ProbeHandler>();
  }
  std::unique_ptr<gw::ConnectorRouteHandler> create_connector_handler(const gw::System&) override {
    return nullptr;
  }
};

}  // namespace

#if PROBE_MODE == 0 || PROBE_MODE == 2
// 0: a good plugin; 2: throws while initialising.
GW_DECLARE_PLUGIN(ProbePlugin)
#elif PROBE_MODE == 1
// Built "for another gateway": the next plugin API and another compiler.
GW_PLUGIN_EXPORT const char* gw_plugin_abi_tag() noexcept {
  return "api=" GW_ABI_STR(PROBE_OTHER_API) ";compiler=gcc-11;cxxabi=1016;stdlib=libstdc++-cxx11abi-1;boost=107400;std=202002;debug-"
         "containers=0";
}
GW_PLUGIN_EXPORT gw::Plugin* gw_plugin_create(gw::Host& host) {
  return new ProbePlugin(host);
}
#elif PROBE_MODE == 3
// No entry point.
GW_PLUGIN_EXPORT const char* gw_plugin_abi_tag() noexcept {
  return GW_PLUGIN_ABI_TAG;
}
#endif
