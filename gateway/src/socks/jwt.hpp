// JWT verification for the SOCKS5 entry point (method 0x80): a compact JWS (RFC 7515) signed with
// HS256 or RS256 (RFC 7518), carrying the caller's tenant.
//
// A verifier accepts exactly one algorithm, fixed by configuration; the token's `alg` header has to
// name it. That closes the classic confusions: `alg: none`, and an RS256 public key used as an HS256
// secret. Headers with `crit` are refused (no extension is understood). The signature is checked before
// the claims are read, so unauthenticated JSON never reaches the claim logic.
//
// Claims (RFC 7519):
//   exp  required, a NumericDate; the token is refused from exp + leeway on.
//   nbf  optional; the token is refused before nbf - leeway.
//   iat  optional (required with a max_lifetime); a NumericDate no later than now + leeway. With a
//        max_lifetime, exp - iat may not exceed it: a token minted to last a year is refused even
//        while it has not expired.
//   aud  required; the configured audience, or an array of strings that contains it.
//   <tenant_claim> (default "tenant")  required; a string that is a tenant name
//        ([a-z0-9][a-z0-9_-]{0,63}, the rule of connector certificates).
//   sub  optional; a string of at most 1024 bytes without control characters: the principal.
// Member names must be unique in the header and in the claims: a duplicate could be read differently
// by another JWT library, so it is an error rather than "last one wins".
//
// Error texts name the check that failed and never contain the token, a part of it, or the key.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace gw::socks {

enum class JwtAlgorithm { hs256, rs256 };

// "HS256" / "RS256", as in the `alg` header.
std::string_view algorithm_name(JwtAlgorithm algorithm) noexcept;

// What a verified token says about its bearer.
struct JwtClaims {
  std::string tenant;
  std::string subject;  // `sub`; empty when the token has none
};

// The claim checks, shared by both algorithms.
struct JwtPolicy {
  std::string audience;  // required `aud` value; must not be empty
  std::string tenant_claim = "tenant";
  std::chrono::milliseconds leeway{60000};    // clock skew allowed for exp, nbf and iat
  std::chrono::milliseconds max_lifetime{0};  // longest exp - iat accepted; 0: any (iat optional)
};

class JwtVerifier {
 public:
  // Larger tokens are refused before any decoding.
  static constexpr std::size_t kMaxTokenSize = 64 * 1024;
  // Longest `sub` accepted (what the tunnel carries as the principal).
  static constexpr std::size_t kMaxSubjectSize = 1024;

  // Each factory throws std::runtime_error with a message fit for the operator (never the secret)
  // when the key or the policy is unusable: empty secret, empty audience or tenant claim name,
  // unreadable file, not an RSA public key, RSA key shorter than 2048 bits (RFC 7518 §3.3), a
  // negative leeway or max_lifetime.
  static JwtVerifier hs256(std::string secret, JwtPolicy policy);
  // `file` holds a PEM "PUBLIC KEY" (SubjectPublicKeyInfo), as `openssl rsa -pubout` writes it.
  static JwtVerifier rs256_from_file(const std::filesystem::path& file, JwtPolicy policy);
  static JwtVerifier rs256_from_pem(std::string_view pem, JwtPolicy policy);

  JwtAlgorithm algorithm() const noexcept { return algorithm_; }
  const JwtPolicy& policy() const noexcept { return policy_; }

  // Verifies `token` as of `now`. On failure returns nullopt and sets `error` to a short reason such
  // as "token expired", "audience mismatch" or "signature invalid". Safe to call from several threads.
  std::optional<JwtClaims> verify(std::string_view token, std::chrono::system_clock::time_point now,
                                  std::string& error) const;

 private:
  struct Key;
  JwtVerifier(JwtAlgorithm algorithm, std::shared_ptr<const Key> key, JwtPolicy policy);

  bool signature_valid(std::string_view signing_input, std::string_view signature) const;

  JwtAlgorithm algorithm_;
  std::shared_ptr<const Key> key_;  // shared: copies of a verifier (one per worker) share one key
  JwtPolicy policy_;
};

// Strict Base64 decoders (RFC 4648). Each returns nullopt for any character outside the alphabet,
// for an impossible length, and for non-zero bits after the last encoded byte, so every accepted
// input has exactly one encoding.
// §5 "base64url", without padding (as JWS uses it).
std::optional<std::string> base64url_decode(std::string_view text);
// §4 standard alphabet, padded to a multiple of four characters.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace gw::socks
