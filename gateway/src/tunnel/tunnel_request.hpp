// The request that opens a tunnel stream, and the response status that answers it, as they travel in
// HTTP/2 headers (plain CONNECT, RFC 9113 §8.5):
//
//   :method               CONNECT
//   :authority            <virtual host>:<port>      IPv6 literals in brackets: [::1]:443
//   gateway-route-type    tcp                        required; [a-z][a-z0-9_-]{0,31}
//   gateway-destination   <name>                     optional; 1-200 of [A-Za-z0-9_-]
//   gateway-request-id    <id>                       optional; 1-64 of [A-Za-z0-9._-]
//   gateway-principal     <text>                     optional; 1-1024 bytes, no CR, LF or NUL
//
// :path, :scheme and :protocol are refused (no extended CONNECT). Every gateway-* header may appear
// once. Unknown gateway-* headers and other regular headers are ignored, so that a newer edge can add
// metadata without breaking older connectors. The connector answers with :status 200 (accepted, data
// flows both ways) or an error status that ends the stream, with `gateway-reason` explaining it.
//
// Code only; no nghttp2 types here, so the codec is tested on its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/plugin/tunnel.hpp"

namespace gw::tunnel {

struct TunnelRequest {
  std::string host;  // host name, IPv4 address, or IPv6 address without brackets
  std::uint16_t port = 0;
  std::string route_type;
  std::string destination;  // empty: not sent
  std::string request_id;   // empty: not sent
  std::string principal;    // empty: not sent
};

// Header (name, value) pairs in wire order; names are lower-case.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

inline constexpr std::string_view kRouteTypeHeader = "gateway-route-type";
inline constexpr std::string_view kDestinationHeader = "gateway-destination";
inline constexpr std::string_view kRequestIdHeader = "gateway-request-id";
inline constexpr std::string_view kPrincipalHeader = "gateway-principal";
inline constexpr std::string_view kReasonHeader = "gateway-reason";

inline constexpr std::size_t kMaxRouteTypeLength = 32;
inline constexpr std::size_t kMaxDestinationLength = 200;
inline constexpr std::size_t kMaxRequestIdLength = 64;
inline constexpr std::size_t kMaxPrincipalLength = 1024;
inline constexpr std::size_t kMaxReasonLength = 512;
// Bounds on a request's header block as a whole (any header, known or not).
inline constexpr std::size_t kMaxRequestHeaders = 32;
inline constexpr std::size_t kMaxHeaderNameLength = 128;
inline constexpr std::size_t kMaxHeaderValueLength = 4096;

// The headers of a request, pseudo-headers first. Does not validate: parse_request(encode_request(r))
// tells whether `r` is acceptable.
HeaderList encode_request(const TunnelRequest& request);

// Validates a received header block completely; on failure returns nullopt and a one-line `error`
// that names the offending header.
std::optional<TunnelRequest> parse_request(const HeaderList& headers, std::string& error);

// "host:port", with brackets around an IPv6 host.
std::string authority(std::string_view host, std::uint16_t port);

// A reason text made safe for the gateway-reason header: cut to kMaxReasonLength bytes, control
// characters (CR, LF, NUL, ...) replaced by spaces, no leading or trailing space.
std::string sanitize_reason(std::string_view reason);

// Response status for a refusal: denied 403, unreachable 502, timed_out 504, busy 503, anything else
// 500 (which the edge reads as `refused`).
int status_for(TunnelErrc error) noexcept;

// The edge's reading of a non-200 status: 403 denied, 502 unreachable, 504 timed_out, 503 busy,
// anything else refused.
TunnelErrc errc_for_status(int status) noexcept;

}  // namespace gw::tunnel
