// Authorities ("host:port") as requests and URLs carry them, parsed the same way by the core (HTTP
// proxy CONNECT targets and absolute URLs) and by plugins (their targets' URLs).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace gw {

// "host", "host:port", "[v6]" or "[v6]:port" -> the host (without brackets) and the port, which is
// `default_port` when absent (an absent port is an error when `default_port` is 0). False for an
// empty host, a malformed bracket, or a port outside 1..65535. The host is not checked further.
inline bool split_authority(std::string_view authority, std::uint16_t default_port, std::string& host,
                            std::uint16_t& port) {
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return false;
      port_text = authority.substr(close + 2);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (host.empty()) return false;
  if (port_text.empty()) {
    if (default_port == 0) return false;
    port = default_port;
    return true;
  }
  unsigned value = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
    if (value > 65535) return false;
  }
  if (value == 0) return false;
  port = static_cast<std::uint16_t>(value);
  return true;
}

}  // namespace gw
