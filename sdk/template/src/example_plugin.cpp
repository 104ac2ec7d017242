// An example plugin for route type `example`: optionally sends a greeting to the client, then relays
// bytes to the destination through the tunnel, exactly like the built-in tcp route type.
#include <string>

#include "gateway/plugin_api.hpp"

namespace {

class ExampleHandler final : public gw::EdgeRouteHandler {
 public:
  ExampleHandler(gw::Host& host, const gw::Destination& destination)
      : host_(host), greeting_(destination.settings.get_string("greeting")) {}

  gw::asio::awaitable<void> serve(gw::EdgeSession& session) override {
    if (!greeting_.empty()) {
      auto sent = co_await session.client.write(gw::asio::buffer(greeting_));
      if (sent.error) co_return;
    }
    gw::OpenRequest target = session.destination.target();
    target.request_id = session.request_id;
    gw::OpenResult opened = co_await session.tunnel.open(target);
    if (!opened) {
      host_.logger().log(gw::LogLevel::warn, "connection_failed",
                         {{"destination", session.destination.name}, {"reason", opened.reason}});
      co_return;
    }
    gw::SpliceOptions options;
    options.idle_timeout = session.destination.limits.idle_timeout;
    co_await host_.splice(session.client, *opened.stream, options);
  }

 private:
  gw::Host& host_;
  std::string greeting_;
};

class ExamplePlugin final : public gw::Plugin {
 public:
  explicit ExamplePlugin(gw::Host& host) : host_(host) {}
  std::unique_ptr<gw::EdgeRouteHandler> create_edge_handler(const gw::Destination& destination) override {
    return std::make_unique<ExampleHandler>(host_, destination);
  }
  std::unique_ptr<gw::ConnectorRouteHandler> create_connector_handler(const gw::System&) override {
    throw gw::RouteConfigError("route_type", "route type example has no connector side");
  }

 private:
  gw::Host& host_;
};

}  // namespace

GW_DECLARE_PLUGIN(ExamplePlugin)
