// The destination lookup API (`GET /v1/destinations/NAME` on the admin listener): a destination's
// configuration, without its secrets, and ready-to-use credentials for calling its target directly,
// in the shape of the reference product's "find destination" answer:
//   {"destinationConfiguration": {"Name", "Type", "URL", "ProxyType", "Authentication",
//                                 "CloudConnectorLocationId"},
//    "authTokens": [{"type", "value", "http_header": {"key", "value"}, "expires_in"} or {"type", "error"}]}
#pragma once

#include <string>

#include "admin/admin_server.hpp"
#include "runtime/routes.hpp"

namespace gw::tunnel {
class ConnectorPool;
}

namespace gw::runtime {

// 200 with the document, or 404 when no destination has that name. Tokens that need a request (OAuth2)
// are obtained through `direct` / `pool` as the destination's own requests are.
boost::asio::awaitable<admin::AdminServer::Answer> lookup_destination(const Routes& routes, Tunnel& direct,
                                                                      tunnel::ConnectorPool* pool,
                                                                      std::string name);

}  // namespace gw::runtime
