// Host names compare case-insensitively (RFC 4343), and "erp.corp." names the same host as
// "erp.corp". Wherever the gateway matches a host name (the connector's allowlist, the edge's
// destinations for SOCKS5, listen address conflicts) it compares canonical forms.
#pragma once

#include <string>
#include <string_view>

namespace gw::net {

// Lower case (ASCII), without one trailing dot.
inline std::string canonical_host(std::string_view host) {
  if (host.size() > 1 && host.back() == '.') host.remove_suffix(1);
  std::string out(host);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace gw::net
