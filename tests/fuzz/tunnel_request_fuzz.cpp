// The tunnel's request header block, as a connector receives it from an edge: input lines
// "name: value" (a line without ':' is a name with an empty value) become the header list. What
// parse_request accepts re-encodes to a block that parses to the same request.
#include "fuzz/fuzz_target.hpp"
#include "tunnel/tunnel_request.hpp"

namespace {

gw::tunnel::HeaderList headers_of(std::string_view text) {
  gw::tunnel::HeaderList headers;
  while (!text.empty() && headers.size() < 64) {
    const auto end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    const auto colon = line.find(':', 1);  // pseudo-headers start with ':'
    if (colon == std::string_view::npos) {
      headers.emplace_back(line, "");
    } else {
      std::string_view value = line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      headers.emplace_back(line.substr(0, colon), value);
    }
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return headers;
}

bool same(const gw::tunnel::TunnelRequest& a, const gw::tunnel::TunnelRequest& b) {
  return a.host == b.host && a.port == b.port && a.route_type == b.route_type &&
         a.destination == b.destination && a.request_id == b.request_id && a.principal == b.principal;
}

}  // namespace

GW_FUZZ_TARGET(tunnel_request) {
  std::string error;
  const auto request = gw::tunnel::parse_request(headers_of(gw::fuzz::text(data, size)), error);
  if (!request) {
    if (error.empty()) gw::fuzz::fail("refused without a reason");
    return 0;
  }
  const auto again = gw::tunnel::parse_request(gw::tunnel::encode_request(*request), error);
  if (!again) gw::fuzz::fail("an accepted request re-encodes to a refused one: " + error);
  if (!same(*request, *again)) gw::fuzz::fail("an accepted request re-encodes to a different one");
  const std::string reason = gw::tunnel::sanitize_reason(gw::fuzz::text(data, size));
  if (reason.size() > gw::tunnel::kMaxReasonLength) gw::fuzz::fail("a sanitised reason over the limit");
  for (char c : reason) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) gw::fuzz::fail("a control character in a reason");
  }
  return 0;
}
