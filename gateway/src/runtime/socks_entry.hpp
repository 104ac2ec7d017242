// The SOCKS5 entry point (edge): authenticates the client (none, RFC 1929 username/password, or
// method 0x80 with a JWT and a location id), which gives the tenant and location; the CONNECT target
// is a virtual host:port. A destination of that tenant, location and address decides the route type
// and its settings; any other target is relayed as tcp. The CONNECT reply waits for the tunnel: it
// reports what the connector said (02 denied, 03 no connector, 04 unreachable, ...).
#pragma once

#include <string>

#include "net/socket_stream.hpp"
#include "runtime/proxy_entry.hpp"

namespace gw::runtime {

class SocksEntryPoint : public ProxyEntryPoint {
 public:
  using ProxyEntryPoint::ProxyEntryPoint;

  // Serves one client connection accepted on the SOCKS5 listener.
  boost::asio::awaitable<void> serve(net::TcpStream& client, const std::string& request_id);
};

}  // namespace gw::runtime
