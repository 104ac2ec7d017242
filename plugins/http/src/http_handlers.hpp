// The `http` route type's handlers, built by the plugin for each destination (edge) and system
// (connector) of the route type; in the logic library so that tests and fuzz targets can drive them
// over in-memory streams. Each throws RouteConfigError for settings it cannot take.
#pragma once

#include <memory>

#include "gateway/plugin_api.hpp"
#include "token_cache.hpp"

namespace gw::http {

// Edge: each request gets the destination's credentials (Basic, a static bearer token, or an OAuth2
// client-credentials token from `tokens`, shared by every destination), extra headers and query
// parameters, and goes to the target, straight or through the tunnel.
std::unique_ptr<EdgeRouteHandler> make_edge_handler(Host& host, const Destination& destination,
                                                    TokenCache& tokens);

// Connector: each request is normalised and checked against the system's resources; what passes goes
// to the internal system with the normalised target and the Host the system asks for, and Location
// headers of responses are mapped back to the virtual host.
std::unique_ptr<ConnectorRouteHandler> make_connector_handler(Host& host, const System& system);

}  // namespace gw::http
