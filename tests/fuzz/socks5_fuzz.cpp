// The SOCKS5 parsers, each fed the same bytes (a greeting, RFC 1929 and JWT authentication, the
// request): whatever arrives, a parser says need-more, ok or error, never consumes more than it was
// given, and what it accepted it also accepts from a longer buffer with the same start.
#include <span>
#include <vector>

#include "fuzz/fuzz_target.hpp"
#include "socks/socks5.hpp"

namespace {

template <class Parse>
void check(const char* what, std::span<const std::uint8_t> bytes, Parse parse) {
  auto parsed = parse(bytes);
  if (parsed.status == gw::socks::ParseStatus::ok) {
    if (parsed.consumed == 0 || parsed.consumed > bytes.size()) {
      gw::fuzz::fail(std::string(what) + ": consumed " + std::to_string(parsed.consumed) + " of " +
                     std::to_string(bytes.size()));
    }
    // The message alone parses the same way.
    auto alone = parse(bytes.first(parsed.consumed));
    if (alone.status != gw::socks::ParseStatus::ok || alone.consumed != parsed.consumed) {
      gw::fuzz::fail(std::string(what) + ": the message alone does not parse as it did with what follows");
    }
  } else if (parsed.status == gw::socks::ParseStatus::error && parsed.error.empty()) {
    gw::fuzz::fail(std::string(what) + ": an error without a reason");
  }
}

}  // namespace

GW_FUZZ_TARGET(socks5) {
  const std::span<const std::uint8_t> bytes(data, size);
  check("greeting", bytes, [](auto b) { return gw::socks::parse_greeting(b); });
  check("password", bytes, [](auto b) { return gw::socks::parse_password_auth(b); });
  check("jwt", bytes, [](auto b) { return gw::socks::parse_jwt_auth(b, 4096); });
  check("request", bytes, [](auto b) { return gw::socks::parse_request(b); });
  return 0;
}
