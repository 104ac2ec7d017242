// The `http` route type (http_handlers.hpp): the plugin that creates its handlers.
#include "gateway/plugin_api.hpp"
#include "http_handlers.hpp"
#include "token_cache.hpp"

namespace {

using namespace gw;

class HttpPlugin final : public Plugin {
 public:
  explicit HttpPlugin(Host& host) : host_(host) {}

  std::unique_ptr<EdgeRouteHandler> create_edge_handler(const Destination& destination) override {
    return http::make_edge_handler(host_, destination, tokens_);
  }
  std::unique_ptr<ConnectorRouteHandler> create_connector_handler(const System& system) override {
    return http::make_connector_handler(host_, system);
  }

 private:
  Host& host_;
  http::TokenCache tokens_;  // shared by every destination: keys carry destination and tenant
};

}  // namespace

GW_DECLARE_PLUGIN(HttpPlugin)
