// JWT verification (HS256) of any text: an answer with a reason, never an exception or a crash; a
// token the verifier accepts carries a tenant. The inputs are tokens as a SOCKS5 client sends them.
#include <chrono>

#include "fuzz/fuzz_target.hpp"
#include "socks/jwt.hpp"

GW_FUZZ_TARGET(jwt) {
  static const gw::socks::JwtVerifier verifier =
      gw::socks::JwtVerifier::hs256("fuzzing-secret-of-32-bytes-long!", gw::socks::JwtPolicy{"gateway"});
  std::string error;
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  const auto claims = verifier.verify(gw::fuzz::text(data, size), now, error);
  if (!claims && error.empty()) gw::fuzz::fail("refused without a reason");
  if (claims && claims->tenant.empty()) gw::fuzz::fail("accepted without a tenant");
  // Base64 decoders: what they accept has exactly one encoding, so it decodes to at most 3/4 its size.
  for (auto decoded : {gw::socks::base64url_decode(gw::fuzz::text(data, size)),
                       gw::socks::base64_decode(gw::fuzz::text(data, size))}) {
    if (decoded && decoded->size() > size * 3 / 4) gw::fuzz::fail("a decoding longer than its text allows");
  }
  return 0;
}
