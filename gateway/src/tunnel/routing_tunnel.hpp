// The Tunnel a route handler on the edge gets for one client connection: internet requests go
// direct, on_premise requests go through the connector pool with the destination's tenant and
// location, whatever the request says (a plugin cannot reach another tenant's connectors).
#pragma once

#include <string>

#include "gateway/plugin/route.hpp"

namespace gw::tunnel {

class ConnectorPool;

class RoutingTunnel final : public Tunnel {
 public:
  // `pool` may be null (a node without a tunnel): on_premise requests then fail with no_connector.
  RoutingTunnel(Tunnel& direct, ConnectorPool* pool, const Destination& destination)
      : direct_(direct), pool_(pool), tenant_(destination.tenant), location_(destination.location_id) {}
  asio::awaitable<OpenResult> open(const OpenRequest& request) override;
  // Streams through a connector cannot be upgraded; direct ones can.
  asio::awaitable<OpenResult> start_tls(std::unique_ptr<Stream> plain, const OpenRequest& request) override {
    return direct_.start_tls(std::move(plain), request);
  }

 private:
  Tunnel& direct_;
  ConnectorPool* pool_;
  const std::string& tenant_;
  const std::string& location_;
};

}  // namespace gw::tunnel
