#include "tunnel/tunnel_request.hpp"

#include <arpa/inet.h>

#include <algorithm>

namespace gw::tunnel {

namespace {

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool has_forbidden_byte(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

template <typename Predicate>
bool all_of(std::string_view text, Predicate predicate) {
  return std::all_of(text.begin(), text.end(), predicate);
}

bool is_route_type(std::string_view text) {
  if (text.empty() || text.size() > kMaxRouteTypeLength) return false;
  if (text.front() < 'a' || text.front() > 'z') return false;
  return all_of(text, [](char c) { return (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '-'; });
}

bool is_destination(std::string_view text) {
  return !text.empty() && text.size() <= kMaxDestinationLength &&
         all_of(text, [](char c) { return is_alnum(c) || c == '_' || c == '-'; });
}

bool is_request_id(std::string_view text) {
  return !text.empty() && text.size() <= kMaxRequestIdLength &&
         all_of(text, [](char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-'; });
}

// The same rule as the configuration's virtual_host: a host name (labels of up to 63 letters, digits,
// '-' or '_', 253 bytes in all, one trailing dot allowed) or a dotted IPv4 address.
bool is_host_name(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  if (all_of(text, [](char c) { return c == '.' || is_digit(c); })) {
    in_addr parsed{};
    return ::inet_pton(AF_INET, std::string(text).c_str(), &parsed) == 1;
  }
  std::size_t label = 0;
  for (char c : text) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!is_alnum(c) && c != '-' && c != '_') return false;
    if (++label > 63) return false;
  }
  return true;
}

// An IPv6 address without zone: a zone names an interface of the edge, which means nothing to the
// connector.
bool is_ipv6(std::string_view text) {
  if (text.empty() || text.size() > 45) return false;
  if (!all_of(text, [](char c) {
        return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
      })) {
    return false;
  }
  in6_addr parsed{};
  return ::inet_pton(AF_INET6, std::string(text).c_str(), &parsed) == 1;
}

// "1".."65535", decimal digits only, no sign, no leading zero.
std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5 || text.front() == '0' || !all_of(text, is_digit)) return std::nullopt;
  unsigned value = 0;
  for (char c : text) value = value * 10 + static_cast<unsigned>(c - '0');
  if (value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

bool parse_authority(std::string_view text, TunnelRequest& out, std::string& error) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      error = ":authority: expected [IPv6 address]:port";
      return false;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (!is_ipv6(host)) {
      error = ":authority: invalid IPv6 address";
      return false;
    }
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      error = ":authority: expected host:port";
      return false;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      error = ":authority: an IPv6 address must be in brackets";
      return false;
    }
    if (!is_host_name(host)) {
      error = ":authority: invalid host name";
      return false;
    }
  }
  auto number = parse_port(port);
  if (!number) {
    error = ":authority: the port must be a number from 1 to 65535";
    return false;
  }
  out.host = std::string(host);
  out.port = *number;
  return true;
}

bool is_lower_case(std::string_view name) {
  return std::none_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

}  // namespace

std::string authority(std::string_view host, std::uint16_t port) {
  std::string out;
  if (host.find(':') != std::string_view::npos) {
    out.append("[").append(host).append("]");
  } else {
    out.append(host);
  }
  return out + ":" + std::to_string(port);
}

HeaderList encode_request(const TunnelRequest& request) {
  HeaderList headers;
  headers.reserve(6);
  headers.emplace_back(":method", "CONNECT");
  headers.emplace_back(":authority", authority(request.host, request.port));
  headers.emplace_back(kRouteTypeHeader, request.route_type);
  if (!request.destination.empty()) headers.emplace_back(kDestinationHeader, request.destination);
  if (!request.request_id.empty()) headers.emplace_back(kRequestIdHeader, request.request_id);
  if (!request.principal.empty()) headers.emplace_back(kPrincipalHeader, request.principal);
  return headers;
}

std::optional<TunnelRequest> parse_request(const HeaderList& headers, std::string& error) {
  if (headers.size() > kMaxRequestHeaders) {
    error = "too many headers (more than " + std::to_string(kMaxRequestHeaders) + ")";
    return std::nullopt;
  }
  TunnelRequest request;
  const std::string* method = nullptr;
  const std::string* authority_value = nullptr;
  bool route_type_seen = false;
  bool destination_seen = false;
  bool request_id_seen = false;
  bool principal_seen = false;
  bool regular_seen = false;

  // Marks a once-only header as seen; false (with the error set) when it was seen before.
  auto once = [&error](bool& seen, std::string_view name) {
    if (seen) {
      error = std::string(name) + ": header repeated";
      return false;
    }
    seen = true;
    return true;
  };

  for (const auto& [name, value] : headers) {
    if (name.empty()) {
      error = "empty header name";
      return std::nullopt;
    }
    if (name.size() > kMaxHeaderNameLength || has_forbidden_byte(name) || !is_lower_case(name)) {
      error = "invalid header name";
      return std::nullopt;
    }
    if (value.size() > kMaxHeaderValueLength) {
      error = name + ": value too long";
      return std::nullopt;
    }
    if (has_forbidden_byte(value)) {
      error = name + ": value contains CR, LF or NUL";
      return std::nullopt;
    }
    // RFC 9113 §8.2.1: nghttp2 resets a stream whose field value starts or ends with SP or HTAB, so
    // such a value is refused here, with a reason, before it reaches the wire.
    if (!value.empty() &&
        (value.front() == ' ' || value.front() == '\t' || value.back() == ' ' || value.back() == '\t')) {
      error = name + ": value starts or ends with whitespace";
      return std::nullopt;
    }
    if (name.front() == ':') {
      if (regular_seen) {
        error = name + ": pseudo-header after a regular header";
        return std::nullopt;
      }
      if (name == ":method") {
        if (method) {
          error = ":method: header repeated";
          return std::nullopt;
        }
        method = &value;
      } else if (name == ":authority") {
        if (authority_value) {
          error = ":authority: header repeated";
          return std::nullopt;
        }
        authority_value = &value;
      } else if (name == ":path" || name == ":scheme") {
        error = name + ": not allowed in a CONNECT request";
        return std::nullopt;
      } else if (name == ":protocol") {
        error = ":protocol: extended CONNECT is not supported";
        return std::nullopt;
      } else {
        error = name + ": unknown pseudo-header";
        return std::nullopt;
      }
      continue;
    }
    regular_seen = true;
    if (name == kRouteTypeHeader) {
      if (!once(route_type_seen, name)) return std::nullopt;
      if (!is_route_type(value)) {
        error = name + ": expected a lower-case letter, then up to 31 lower-case letters, digits, '_' or '-'";
        return std::nullopt;
      }
      request.route_type = value;
    } else if (name == kDestinationHeader) {
      if (!once(destination_seen, name)) return std::nullopt;
      if (!is_destination(value)) {
        error = name + ": expected 1 to 200 letters, digits, '_' or '-'";
        return std::nullopt;
      }
      request.destination = value;
    } else if (name == kRequestIdHeader) {
      if (!once(request_id_seen, name)) return std::nullopt;
      if (!is_request_id(value)) {
        error = name + ": expected 1 to 64 letters, digits, '.', '_' or '-'";
        return std::nullopt;
      }
      request.request_id = value;
    } else if (name == kPrincipalHeader) {
      if (!once(principal_seen, name)) return std::nullopt;
      if (value.empty() || value.size() > kMaxPrincipalLength) {
        error = name + ": expected 1 to 1024 bytes";
        return std::nullopt;
      }
      request.principal = value;
    }
    // Anything else, gateway-* included, is ignored (see the header comment).
  }

  if (!method) {
    error = ":method: missing";
    return std::nullopt;
  }
  if (*method != "CONNECT") {
    error = ":method: expected CONNECT, got " + sanitize_reason(method->substr(0, 32));
    return std::nullopt;
  }
  if (!authority_value) {
    error = ":authority: missing";
    return std::nullopt;
  }
  if (!parse_authority(*authority_value, request, error)) return std::nullopt;
  if (!route_type_seen) {
    error = std::string(kRouteTypeHeader) + ": missing";
    return std::nullopt;
  }
  return request;
}

std::string sanitize_reason(std::string_view reason) {
  std::string out(reason.substr(0, kMaxReasonLength));
  for (char& c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = ' ';
  }
  // RFC 9113 §8.2.1: a field value neither starts nor ends with whitespace (nghttp2 drops it otherwise).
  const auto first = out.find_first_not_of(' ');
  if (first == std::string::npos) return {};
  return out.substr(first, out.find_last_not_of(' ') - first + 1);
}

int status_for(TunnelErrc error) noexcept {
  switch (error) {
    case TunnelErrc::denied:
      return 403;
    case TunnelErrc::unreachable:
      return 502;
    case TunnelErrc::timed_out:
      return 504;
    case TunnelErrc::busy:
      return 503;
    default:
      return 500;
  }
}

TunnelErrc errc_for_status(int status) noexcept {
  switch (status) {
    case 403:
      return TunnelErrc::denied;
    case 502:
      return TunnelErrc::unreachable;
    case 504:
      return TunnelErrc::timed_out;
    case 503:
      return TunnelErrc::busy;
    default:
      return TunnelErrc::refused;
  }
}

}  // namespace gw::tunnel
