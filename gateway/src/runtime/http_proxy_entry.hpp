// The HTTP proxy entry point (edge): what proxy-aware clients (`curl -x`, HTTP_PROXY) talk to.
//
// The first request of a connection decides where the connection goes:
// - `GET http://virtual-host[:port]/path` (absolute form): the destination of the caller's tenant and
//   location with that address, or else the http route with the proxy's own limits;
// - `CONNECT virtual-host:port`: answered `200 Connection Established` once the tunnel has opened
//   (or at once for a request-based route type), then relayed by the destination's route type, or as
//   tcp when no destination has that address;
// - any request with `X-Destination-Name: NAME`: that destination, if it belongs to the caller's tenant.
// The caller authenticates with `Proxy-Authorization: Basic` (the configured users) or `Bearer <JWT>`
// (as for SOCKS5 method 0x80), and names its location with `SAP-Connectivity-SCC-Location_ID`.
// Refusals: 407 for missing or bad proxy authorization, 405 for an https:// URL (use CONNECT), 400 for
// anything unparseable, 404 for an unknown destination name; tunnel failures of CONNECT as 403/502/503/
// 504. The request bytes go to the route handler unchanged; the http route type removes the proxy's
// header fields before forwarding.
#pragma once

#include <string>

#include "net/socket_stream.hpp"
#include "runtime/proxy_entry.hpp"

namespace gw::runtime {

class HttpProxyEntryPoint : public ProxyEntryPoint {
 public:
  // The header field that names the caller's location (the reference product's name).
  static constexpr const char* kLocationHeader = "SAP-Connectivity-SCC-Location_ID";
  // The request head (request line and header fields) may be at most this large.
  static constexpr std::size_t kMaxHead = 64 * 1024;

  using ProxyEntryPoint::ProxyEntryPoint;

  // Serves one client connection accepted on the HTTP proxy listener.
  boost::asio::awaitable<void> serve(net::TcpStream& client, const std::string& request_id);
};

}  // namespace gw::runtime
