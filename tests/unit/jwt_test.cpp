// JWT verification for SOCKS5 method 0x80: algorithms (and their confusions), signatures, every claim
// check, strict base64url, token structure and size, key loading.
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <chrono>
#include <limits>
#include <memory>
#include <string>

#include "socks/jwt.hpp"
#include "support/temp_dir.hpp"

using namespace gw;
using socks::JwtPolicy;
using socks::JwtVerifier;
using Clock = std::chrono::system_clock;

namespace {

// A fixed "now": 2023-11-14T22:13:20Z.
constexpr long long kNow = 1700000000;
const Clock::time_point now_point{std::chrono::seconds(kNow)};
const std::string kSecret = "a-secret-of-reasonable-length-0123456789";

std::string base64url(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &size);
  return std::string(reinterpret_cast<const char*>(mac), size);
}

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

std::string rsa_sha256(EVP_PKEY* key, std::string_view data) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::size_t size = 0;
  EXPECT_EQ(EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key), 1);
  EXPECT_EQ(EVP_DigestSign(context.get(), nullptr, &size, reinterpret_cast<const unsigned char*>(data.data()),
                           data.size()),
            1);
  std::string signature(size, '\0');
  EXPECT_EQ(EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                           reinterpret_cast<const unsigned char*>(data.data()), data.size()),
            1);
  signature.resize(size);
  return signature;
}

std::string public_pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_PUBKEY(bio.get(), key);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// An RSA key pair shared by the tests (generation is slow).
EVP_PKEY* rsa_key() {
  static PkeyPtr key(EVP_RSA_gen(2048), &EVP_PKEY_free);
  return key.get();
}

std::string hs256_token(std::string_view header, std::string_view claims, std::string_view secret = kSecret) {
  const std::string input = base64url(header) + "." + base64url(claims);
  return input + "." + base64url(hmac_sha256(secret, input));
}

std::string rs256_token(std::string_view header, std::string_view claims, EVP_PKEY* key = rsa_key()) {
  const std::string input = base64url(header) + "." + base64url(claims);
  return input + "." + base64url(rsa_sha256(key, input));
}

const std::string kHs256Header = R"({"alg":"HS256","typ":"JWT"})";
const std::string kRs256Header = R"({"alg":"RS256","typ":"JWT"})";

// Claims valid at kNow, with `extra` members appended.
std::string claims(std::string_view extra = "") {
  return R"({"exp":)" + std::to_string(kNow + 300) + R"(,"aud":"gateway","tenant":"acme")" +
         std::string(extra) + "}";
}

JwtPolicy policy() {
  return JwtPolicy{"gateway", "tenant", std::chrono::seconds(60)};
}

JwtVerifier hs256() {
  return JwtVerifier::hs256(kSecret, policy());
}
JwtVerifier rs256() {
  return JwtVerifier::rs256_from_pem(public_pem(rsa_key()), policy());
}

// The refusal for `token` (the test fails if it verifies). Checks the reason leaks neither the token
// nor the secret.
std::string refusal(const JwtVerifier& verifier, std::string_view token, Clock::time_point at = now_point) {
  std::string error;
  auto result = verifier.verify(token, at, error);
  EXPECT_FALSE(result) << "accepted";
  EXPECT_FALSE(error.empty()) << "a refusal must say why";
  EXPECT_EQ(error.find(kSecret), std::string::npos);
  if (token.size() >= 8) {
    EXPECT_EQ(error.find(token.substr(0, 8)), std::string::npos) << error;
  }
  return error;
}

std::optional<socks::JwtClaims> verified(const JwtVerifier& verifier, std::string_view token,
                                         Clock::time_point at = now_point) {
  std::string error;
  auto result = verifier.verify(token, at, error);
  EXPECT_TRUE(result) << error;
  return result;
}

}  // namespace

// ---- valid tokens ----

TEST(Jwt, Hs256TokenGivesTenantAndSubject) {
  auto result = verified(hs256(), hs256_token(kHs256Header, claims(R"(,"sub":"alice@example.com")")));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->tenant, "acme");
  EXPECT_EQ(result->subject, "alice@example.com");
}

TEST(Jwt, Rs256TokenVerifiesWithThePublicKey) {
  auto result = verified(rs256(), rs256_token(kRs256Header, claims()));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->tenant, "acme");
  EXPECT_EQ(result->subject, "");
}

TEST(Jwt, HeaderWithoutTypAndWithKidIsFine) {
  EXPECT_TRUE(verified(hs256(), hs256_token(R"({"kid":"k1","alg":"HS256"})", claims())));
}

TEST(Jwt, CustomTenantClaimName) {
  auto verifier = JwtVerifier::hs256(kSecret, JwtPolicy{"gateway", "https://example.com/tenant"});
  auto result = verified(
      verifier, hs256_token(kHs256Header, R"({"exp":)" + std::to_string(kNow + 60) +
                                              R"(,"aud":"gateway","https://example.com/tenant":"t-1"})"));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->tenant, "t-1");
  EXPECT_NE(refusal(verifier, hs256_token(kHs256Header, claims())).find("https://example.com/tenant"),
            std::string::npos);
}

// ---- algorithms ----

TEST(Jwt, AlgNoneIsRefused) {
  const std::string unsigned_token = base64url(R"({"alg":"none"})") + "." + base64url(claims()) + ".";
  refusal(hs256(), unsigned_token);
  refusal(rs256(), unsigned_token);
  // The same with some signature bytes present.
  const std::string with_signature = base64url(R"({"alg":"none"})") + "." + base64url(claims()) + ".AAAA";
  EXPECT_EQ(refusal(hs256(), with_signature), "token algorithm is not HS256");
  EXPECT_EQ(refusal(rs256(), with_signature), "token algorithm is not RS256");
}

TEST(Jwt, Hs256TokenAgainstRs256VerifierIsRefused) {
  EXPECT_EQ(refusal(rs256(), hs256_token(kHs256Header, claims())), "token algorithm is not RS256");
}

TEST(Jwt, Rs256TokenAgainstHs256VerifierIsRefused) {
  EXPECT_EQ(refusal(hs256(), rs256_token(kRs256Header, claims())), "token algorithm is not HS256");
}

TEST(Jwt, PublicKeyUsedAsHmacSecretIsRefused) {
  // The classic confusion: an HS256 token "signed" with the RSA public key, offered to an RS256 verifier.
  const std::string forged = hs256_token(kHs256Header, claims(), public_pem(rsa_key()));
  EXPECT_EQ(refusal(rs256(), forged), "token algorithm is not RS256");
}

TEST(Jwt, OtherAlgorithmsAndSpellingsAreRefused) {
  for (const char* alg : {"hs256", "HS384", "HS512", "RS512", "PS256", "ES256", "", "HS256 "}) {
    const std::string header = std::string(R"({"alg":")") + alg + "\"}";
    EXPECT_EQ(refusal(hs256(), hs256_token(header, claims())), "token algorithm is not HS256") << alg;
  }
  EXPECT_EQ(refusal(hs256(), hs256_token(R"({"typ":"JWT"})", claims())), "token header has no alg");
  EXPECT_EQ(refusal(hs256(), hs256_token(R"({"alg":256})", claims())), "token header has no alg");
  EXPECT_EQ(refusal(hs256(), hs256_token(R"({"alg":null})", claims())), "token header has no alg");
}

TEST(Jwt, CritHeaderIsRefused) {
  EXPECT_EQ(refusal(hs256(), hs256_token(R"({"alg":"HS256","crit":["exp"],"exp":1})", claims())),
            "token header has crit, which is not supported");
  EXPECT_EQ(refusal(hs256(), hs256_token(R"({"alg":"HS256","crit":[]})", claims())),
            "token header has crit, which is not supported");
}

// ---- signatures ----

TEST(Jwt, FlippedSignatureBitIsRefused) {
  for (bool rsa : {false, true}) {
    const std::string token = rsa ? rs256_token(kRs256Header, claims()) : hs256_token(kHs256Header, claims());
    const auto dot = token.rfind('.');
    auto signature = *socks::base64url_decode(token.substr(dot + 1));
    for (std::size_t byte : {std::size_t{0}, signature.size() / 2, signature.size() - 1}) {
      std::string changed = signature;
      changed[byte] = static_cast<char>(changed[byte] ^ 0x01);
      const std::string forged = token.substr(0, dot + 1) + base64url(changed);
      EXPECT_EQ(refusal(rsa ? rs256() : hs256(), forged), "signature invalid") << "byte " << byte;
    }
  }
}

TEST(Jwt, ChangedClaimsAreRefused) {
  const std::string token = hs256_token(kHs256Header, claims());
  const auto first = token.find('.');
  const auto second = token.rfind('.');
  const std::string other = token.substr(0, first + 1) +
                            base64url(R"({"exp":9999999999,"aud":"gateway","tenant":"evil"})") +
                            token.substr(second);
  EXPECT_EQ(refusal(hs256(), other), "signature invalid");
}

TEST(Jwt, WrongSecretOrKeyIsRefused) {
  EXPECT_EQ(refusal(hs256(), hs256_token(kHs256Header, claims(), "another secret")), "signature invalid");
  PkeyPtr other(EVP_RSA_gen(2048), &EVP_PKEY_free);
  EXPECT_EQ(refusal(rs256(), rs256_token(kRs256Header, claims(), other.get())), "signature invalid");
}

TEST(Jwt, TruncatedOrExtendedSignatureIsRefused) {
  for (bool rsa : {false, true}) {
    const std::string token = rsa ? rs256_token(kRs256Header, claims()) : hs256_token(kHs256Header, claims());
    const auto dot = token.rfind('.');
    const auto signature = *socks::base64url_decode(token.substr(dot + 1));
    const auto verifier = rsa ? rs256() : hs256();
    EXPECT_EQ(
        refusal(verifier, token.substr(0, dot + 1) + base64url(signature.substr(0, signature.size() - 1))),
        "signature invalid");
    EXPECT_EQ(refusal(verifier, token.substr(0, dot + 1) + base64url(signature + "x")), "signature invalid");
    EXPECT_EQ(refusal(verifier, token.substr(0, dot + 1) + base64url("x")), "signature invalid");
  }
}

// ---- claims ----

TEST(Jwt, ExpiredTokenIsRefusedAfterTheLeeway) {
  const auto verifier = hs256();
  const std::string token =
      hs256_token(kHs256Header, R"({"exp":)" + std::to_string(kNow) + R"(,"aud":"gateway","tenant":"acme"})");
  EXPECT_TRUE(verified(verifier, token, now_point + std::chrono::seconds(59)));
  EXPECT_EQ(refusal(verifier, token, now_point + std::chrono::seconds(60)), "token expired");
  EXPECT_EQ(refusal(verifier, token, now_point + std::chrono::hours(24)), "token expired");

  const auto strict =
      JwtVerifier::hs256(kSecret, JwtPolicy{"gateway", "tenant", std::chrono::milliseconds(0)});
  EXPECT_TRUE(verified(strict, token, now_point - std::chrono::milliseconds(1)));
  EXPECT_EQ(refusal(strict, token, now_point), "token expired");
}

TEST(Jwt, ExpIsRequiredAndNumeric) {
  const auto verifier = hs256();
  EXPECT_EQ(refusal(verifier, hs256_token(kHs256Header, R"({"aud":"gateway","tenant":"acme"})")),
            "exp claim missing");
  for (const char* exp : {R"("9999999999")", "null", "true", "[9999999999]", "{}"}) {
    const std::string body = std::string(R"({"exp":)") + exp + R"(,"aud":"gateway","tenant":"acme"})";
    EXPECT_EQ(refusal(verifier, hs256_token(kHs256Header, body)), "exp claim is not a number") << exp;
  }
  // A fractional NumericDate is allowed (RFC 7519 §2).
  EXPECT_TRUE(verified(verifier, hs256_token(kHs256Header, R"({"exp":)" + std::to_string(kNow) +
                                                               R"(.5,"aud":"gateway","tenant":"acme"})")));
  // A number too large for a double.
  refusal(verifier, hs256_token(kHs256Header, R"({"exp":1e400,"aud":"gateway","tenant":"acme"})"));
}

TEST(Jwt, NotBeforeIsHonouredWithTheLeeway) {
  const auto verifier = hs256();
  const auto at = [](long long nbf) { return claims(R"(,"nbf":)" + std::to_string(nbf)); };
  EXPECT_TRUE(verified(verifier, hs256_token(kHs256Header, at(kNow - 10))));
  EXPECT_TRUE(verified(verifier, hs256_token(kHs256Header, at(kNow + 60))));  // within the leeway
  EXPECT_EQ(refusal(verifier, hs256_token(kHs256Header, at(kNow + 61))), "token not yet valid (nbf)");
  EXPECT_EQ(refusal(verifier, hs256_token(kHs256Header, claims(R"(,"nbf":"soon")"))),
            "nbf claim is not a number");
}

TEST(Jwt, IssuedAtMayNotLieInTheFuture) {
  const auto verifier = hs256();
  const auto at = [](long long iat) { return claims(R"(,"iat":)" + std::to_string(iat)); };
  EXPECT_TRUE(verified(verifier, hs256_token(kHs256Header, claims())));  // iat is optional
  EXPECT_TRUE(verified(verifier, hs256_token(kHs256Header, at(kNow - 3600))));
  EXPECT_TRUE(verified(verifier, hs256_token(kHs256Header, at(kNow + 60))));  // within the leeway
  EXPECT_EQ(refusal(verifier, hs256_token(kHs256Header, at(kNow + 61))), "token issued in the future (iat)");
  EXPECT_EQ(refusal(verifier, hs256_token(kHs256Header, claims(R"(,"iat":"now")"))),
            "iat claim is not a number");
}

TEST(Jwt, AMaximumLifetimeNeedsIatAndBoundsExpMinusIat) {
  JwtPolicy bounded = policy();
  bounded.max_lifetime = std::chrono::hours(1);
  const auto verifier = JwtVerifier::hs256(kSecret, bounded);
  // claims() expire at kNow + 300.
  const auto issued = [](long long iat) { return claims(R"(,"iat":)" + std::to_string(iat)); };
  EXPECT_TRUE(verified(verifier, hs256_token(kHs256Header, issued(kNow - 3300))));  // exactly one hour
  EXPECT_EQ(refusal(verifier, hs256_token(kHs256Header, issued(kNow - 3301))),
            "token lifetime (exp - iat) exceeds the maximum of 3600 s");
  EXPECT_EQ(refusal(verifier, hs256_token(kHs256Header, claims())),
            "iat claim missing (needed with a maximum token lifetime)");
  // A token minted for a year is refused although it has not expired.
  const std::string year = R"({"exp":)" + std::to_string(kNow + 365 * 86400) + R"(,"iat":)" +
                           std::to_string(kNow - 10) + R"(,"aud":"gateway","tenant":"acme"})";
  EXPECT_EQ(refusal(verifier, hs256_token(kHs256Header, year)),
            "token lifetime (exp - iat) exceeds the maximum of 3600 s");
  bounded.max_lifetime = std::chrono::milliseconds(-1);
  EXPECT_THROW(JwtVerifier::hs256(kSecret, bounded), std::runtime_error);
}

TEST(Jwt, AudienceMustMatch) {
  const auto verifier = hs256();
  const auto with_aud = [](std::string_view aud) {
    return hs256_token(kHs256Header, R"({"exp":)" + std::to_string(kNow + 300) + R"(,"aud":)" +
                                         std::string(aud) + R"(,"tenant":"acme"})");
  };
  EXPECT_EQ(refusal(verifier, with_aud(R"("other")")), "audience mismatch");
  EXPECT_EQ(refusal(verifier, with_aud(R"("Gateway")")), "audience mismatch");
  EXPECT_EQ(refusal(verifier, with_aud(R"("gateway ")")), "audience mismatch");
  EXPECT_TRUE(verified(verifier, with_aud(R"(["other","gateway"])")));
  EXPECT_EQ(refusal(verifier, with_aud(R"(["other","another"])")), "audience mismatch");
  EXPECT_EQ(refusal(verifier, with_aud(R"([])")), "audience mismatch");
  EXPECT_EQ(refusal(verifier, with_aud(R"(["gateway",1])")),
            "aud claim is neither a string nor an array of strings");
  EXPECT_EQ(refusal(verifier, with_aud("42")), "aud claim is neither a string nor an array of strings");
  EXPECT_EQ(refusal(verifier, with_aud("null")), "aud claim is neither a string nor an array of strings");
  EXPECT_EQ(refusal(verifier, hs256_token(kHs256Header, R"({"exp":)" + std::to_string(kNow + 300) +
                                                            R"(,"tenant":"acme"})")),
            "aud claim missing");
}

TEST(Jwt, TenantClaimMustBeATenantName) {
  const auto verifier = hs256();
  const auto with_tenant = [](std::string_view tenant) {
    return hs256_token(kHs256Header, R"({"exp":)" + std::to_string(kNow + 300) + R"(,"aud":"gateway")" +
                                         std::string(tenant) + "}");
  };
  EXPECT_EQ(refusal(verifier, with_tenant("")), "tenant claim \"tenant\" missing");
  EXPECT_EQ(refusal(verifier, with_tenant(R"(,"tenant":42)")), "tenant claim \"tenant\" is not a string");
  EXPECT_EQ(refusal(verifier, with_tenant(R"(,"tenant":["acme"])")),
            "tenant claim \"tenant\" is not a string");
  EXPECT_EQ(refusal(verifier, with_tenant(R"(,"tenant":null)")), "tenant claim \"tenant\" is not a string");
  for (const std::string& bad :
       {std::string(), std::string("Acme"), std::string("-acme"), std::string("_acme"), std::string("ac me"),
        std::string("acme/x"), std::string("acme\\u0000"), std::string(65, 'a')}) {
    EXPECT_EQ(refusal(verifier, with_tenant(R"(,"tenant":")" + bad + "\"")),
              "tenant claim \"tenant\" is not a valid tenant name")
        << bad;
  }
  EXPECT_TRUE(verified(verifier, with_tenant(R"(,"tenant":"0-a_b")")));
  EXPECT_TRUE(verified(verifier, with_tenant(R"(,"tenant":")" + std::string(64, 'a') + "\"")));
}

TEST(Jwt, SubjectMustBeAPrintableString) {
  const auto verifier = hs256();
  EXPECT_EQ(refusal(verifier, hs256_token(kHs256Header, claims(R"(,"sub":7)"))), "sub claim is not a string");
  EXPECT_NE(
      refusal(verifier, hs256_token(kHs256Header, claims(R"(,"sub":"a\r\nb")"))).find("control characters"),
      std::string::npos);
  // The subject becomes the tunnel's principal header, whose value cannot start or end with a space.
  for (const std::string sub : {" alice", "alice "}) {
    EXPECT_NE(refusal(verifier, hs256_token(kHs256Header, claims(R"(,"sub":")" + sub + "\"")))
                  .find("leading or trailing spaces"),
              std::string::npos)
        << sub;
  }
  EXPECT_TRUE(verified(verifier, hs256_token(kHs256Header, claims(R"(,"sub":"alice smith")"))));
  const std::string longest(JwtVerifier::kMaxSubjectSize, 's');
  EXPECT_TRUE(verified(verifier, hs256_token(kHs256Header, claims(R"(,"sub":")" + longest + "\""))));
  refusal(verifier, hs256_token(kHs256Header, claims(R"(,"sub":")" + longest + "s\"")));
  auto result = verified(verifier, hs256_token(kHs256Header, claims(R"(,"sub":"J\u00fcrgen")")));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->subject, "J\xc3\xbcrgen");
}

TEST(Jwt, DuplicateMembersAreRefused) {
  const auto verifier = hs256();
  EXPECT_EQ(refusal(verifier, hs256_token(kHs256Header, claims(R"(,"tenant":"evil")"))),
            "token claims are not a JSON object with unique member names");
  EXPECT_EQ(refusal(verifier, hs256_token(R"({"alg":"none","alg":"HS256"})", claims())),
            "token header is not a JSON object with unique member names");
  // The same member name in different objects is fine.
  EXPECT_TRUE(
      verified(verifier, hs256_token(kHs256Header, claims(R"(,"x":{"aud":1},"y":[{"aud":2},{"aud":3}])"))));
}

TEST(Jwt, PartsThatAreNotJsonObjectsAreRefused) {
  const auto verifier = hs256();
  for (const char* header :
       {"null", "[]", R"(["alg","HS256"])", "{", R"({"alg":"HS256"} x)", "\xff", R"({"alg":"HS256"}{})"}) {
    EXPECT_EQ(refusal(verifier, hs256_token(header, claims())),
              "token header is not a JSON object with unique member names")
        << header;
  }
  for (const char* body : {"42", R"("claims")", "[]", "{", R"({"exp":1,})", "{\"a\":\"\xc3\x28\"}"}) {
    EXPECT_EQ(refusal(verifier, hs256_token(kHs256Header, body)),
              "token claims are not a JSON object with unique member names")
        << body;
  }
}

// ---- structure and encoding ----

TEST(Jwt, TokenStructureIsThreeNonEmptyParts) {
  const auto verifier = hs256();
  const std::string token = hs256_token(kHs256Header, claims());
  const std::string structure = "token is not three non-empty parts separated by '.'";
  EXPECT_EQ(refusal(verifier, ""), "token empty");
  for (const std::string& bad :
       {token + ".", token + ".x", "." + token, token.substr(0, token.rfind('.')), std::string("abc"),
        std::string(".."), std::string("..."), std::string("a..c"), std::string("a.b."), std::string(".b.c"),
        token + "." + token}) {
    EXPECT_EQ(refusal(verifier, bad), structure) << bad;
  }
}

TEST(Jwt, Base64UrlIsStrict) {
  const auto verifier = hs256();
  const std::string token = hs256_token(kHs256Header, claims());
  const auto first = token.find('.');
  const auto second = token.rfind('.');
  const std::string header = token.substr(0, first);
  const std::string body = token.substr(first + 1, second - first - 1);
  const std::string signature = token.substr(second + 1);
  auto join = [](const std::string& a, const std::string& b, const std::string& c) {
    return a + "." + b + "." + c;
  };

  EXPECT_EQ(refusal(verifier, join(header + "=", body, signature)), "token header is not valid base64url");
  EXPECT_EQ(refusal(verifier, join("+" + header.substr(1), body, signature)),
            "token header is not valid base64url");
  EXPECT_EQ(refusal(verifier, join(header + " ", body, signature)), "token header is not valid base64url");
  EXPECT_EQ(refusal(verifier, join(header, body, signature + "=")), "token signature is not valid base64url");
  EXPECT_EQ(refusal(verifier, join(header, body, signature.substr(0, 10) + "/" + signature.substr(11))),
            "token signature is not valid base64url");
  // The claims are covered by the signature: damage there shows as a signature failure, and a claims
  // part that is not base64url at all with a matching signature is caught by the decoder.
  EXPECT_EQ(refusal(verifier, join(header, body + "%", signature)), "signature invalid");
  const std::string bad_body_input = header + ".e30=";
  EXPECT_EQ(refusal(verifier, bad_body_input + "." + base64url(hmac_sha256(kSecret, bad_body_input))),
            "token claims are not valid base64url");
}

TEST(Jwt, HugeTokenIsRefusedBeforeDecoding) {
  const auto verifier = hs256();
  const std::string padding(JwtVerifier::kMaxTokenSize, 'A');
  EXPECT_EQ(refusal(verifier, hs256_token(kHs256Header, claims(R"(,"pad":")" + padding + "\""))),
            "token larger than 65536 bytes");
  EXPECT_EQ(refusal(verifier, std::string(JwtVerifier::kMaxTokenSize + 1, 'a')),
            "token larger than 65536 bytes");
  // Just under the cap is verified normally.
  const std::string fits(JwtVerifier::kMaxTokenSize / 4 * 3 - 200, 'A');
  EXPECT_TRUE(verified(verifier, hs256_token(kHs256Header, claims(R"(,"pad":")" + fits + "\""))));
}

TEST(Jwt, DeeplyNestedJsonIsHandled) {
  const std::string nested = std::string(20000, '[') + std::string(20000, ']');
  EXPECT_TRUE(verified(hs256(), hs256_token(kHs256Header, claims(R"(,"x":)" + nested))));
  refusal(hs256(), hs256_token(kHs256Header, std::string(30000, '[')));
}

TEST(JwtBase64, UrlDecoderIsStrict) {
  EXPECT_EQ(socks::base64url_decode(""), "");
  EXPECT_EQ(socks::base64url_decode("Zg"), "f");
  EXPECT_EQ(socks::base64url_decode("Zm8"), "fo");
  EXPECT_EQ(socks::base64url_decode("Zm9v"), "foo");
  EXPECT_EQ(socks::base64url_decode("-_8"), "\xfb\xff");
  EXPECT_FALSE(socks::base64url_decode("Zg=="));   // padding
  EXPECT_FALSE(socks::base64url_decode("Z"));      // impossible length
  EXPECT_FALSE(socks::base64url_decode("Zm9vY"));  // impossible length
  EXPECT_FALSE(socks::base64url_decode("Zh"));     // non-zero trailing bits
  EXPECT_FALSE(socks::base64url_decode("Zm9"));    // non-zero trailing bits
  EXPECT_FALSE(socks::base64url_decode("+/8"));    // standard alphabet
  EXPECT_FALSE(socks::base64url_decode("Zm 9v"));
  EXPECT_FALSE(socks::base64url_decode(std::string_view("Zm\0v", 4)));
}

TEST(JwtBase64, StandardDecoderIsStrict) {
  EXPECT_EQ(socks::base64_decode(""), "");
  EXPECT_EQ(socks::base64_decode("Zg=="), "f");
  EXPECT_EQ(socks::base64_decode("Zm8="), "fo");
  EXPECT_EQ(socks::base64_decode("Zm9v"), "foo");
  EXPECT_EQ(socks::base64_decode("+/8="), "\xfb\xff");
  EXPECT_FALSE(socks::base64_decode("Zg"));     // padding required
  EXPECT_FALSE(socks::base64_decode("Zg="));    // too little padding
  EXPECT_FALSE(socks::base64_decode("Zg==="));  // too much
  EXPECT_FALSE(socks::base64_decode("Z==="));
  EXPECT_FALSE(socks::base64_decode("===="));
  EXPECT_FALSE(socks::base64_decode("Zm9v===="));
  EXPECT_FALSE(socks::base64_decode("Zh=="));  // non-zero trailing bits
  EXPECT_FALSE(socks::base64_decode("Z=g="));  // padding inside
  EXPECT_FALSE(socks::base64_decode("-_8="));  // url alphabet
  EXPECT_FALSE(socks::base64_decode("Zm9v\n"));
}

// ---- key loading ----

TEST(JwtKeys, UnusableKeysAndPoliciesAreRefused) {
  EXPECT_THROW(JwtVerifier::hs256("", policy()), std::runtime_error);
  EXPECT_THROW(JwtVerifier::hs256(kSecret, JwtPolicy{"", "tenant"}), std::runtime_error);
  EXPECT_THROW(JwtVerifier::hs256(kSecret, JwtPolicy{"gateway", ""}), std::runtime_error);
  EXPECT_THROW(JwtVerifier::rs256_from_pem("not a key", policy()), std::runtime_error);
  EXPECT_THROW(JwtVerifier::rs256_from_pem("", policy()), std::runtime_error);

  PkeyPtr small(EVP_RSA_gen(1024), &EVP_PKEY_free);
  try {
    JwtVerifier::rs256_from_pem(public_pem(small.get()), policy());
    ADD_FAILURE() << "a 1024-bit key was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("2048"), std::string::npos) << e.what();
  }
  PkeyPtr ec(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  EXPECT_THROW(JwtVerifier::rs256_from_pem(public_pem(ec.get()), policy()), std::runtime_error);
}

TEST(JwtKeys, SecretNeverAppearsInErrors) {
  try {
    JwtVerifier::hs256(kSecret, JwtPolicy{"", "tenant"});
    ADD_FAILURE();
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).find(kSecret), std::string::npos);
  }
}

TEST(JwtKeys, PublicKeyFromFile) {
  gw::testing::TempDir dir;
  const auto file = dir.write("jwt-pub.pem", public_pem(rsa_key()));
  const auto verifier = JwtVerifier::rs256_from_file(file, policy());
  EXPECT_EQ(verifier.algorithm(), socks::JwtAlgorithm::rs256);
  EXPECT_TRUE(verified(verifier, rs256_token(kRs256Header, claims())));

  try {
    JwtVerifier::rs256_from_file(dir.path() / "missing.pem", policy());
    ADD_FAILURE() << "a missing file was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.pem"), std::string::npos) << e.what();
  }
  const auto garbage =
      dir.write("garbage.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
  try {
    JwtVerifier::rs256_from_file(garbage, policy());
    ADD_FAILURE() << "garbage was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("garbage.pem"), std::string::npos) << e.what();
  }
}

TEST(JwtKeys, CopiesShareTheKeyAndVerifyAlike) {
  const auto original = rs256();
  const JwtVerifier copy = original;
  const std::string token = rs256_token(kRs256Header, claims());
  EXPECT_TRUE(verified(copy, token));
  EXPECT_TRUE(verified(original, token));
}

// ---- hostile tokens ----

namespace {

std::string public_der(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int size = i2d_PUBKEY(key, &der);
  EXPECT_GT(size, 0);
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(size));
  OPENSSL_free(der);
  return out;
}

// `token` with its signature replaced by the raw bytes `signature`.
std::string resigned(const std::string& token, std::string_view signature) {
  return token.substr(0, token.rfind('.') + 1) + base64url(signature);
}

// A token whose parts are taken as given (already encoded), signed with kSecret.
std::string hs256_signed_parts(std::string_view header_part, std::string_view claims_part) {
  const std::string input = std::string(header_part) + "." + std::string(claims_part);
  return input + "." + base64url(hmac_sha256(kSecret, input));
}

std::string claims_with(std::string_view members) {
  return "{" + std::string(members) + "}";
}

std::string exp_in(long long seconds) {
  return R"("exp":)" + std::to_string(kNow + seconds);
}

}  // namespace

TEST(Jwt, AlgNoneInAnySpellingIsRefused) {
  for (const char* alg : {"none", "None", "NONE", "nOnE", "none "}) {
    const std::string header = base64url(std::string(R"({"alg":")") + alg + "\"}");
    const std::string unsigned_token = header + "." + base64url(claims()) + ".";
    EXPECT_EQ(refusal(hs256(), unsigned_token), "token is not three non-empty parts separated by '.'") << alg;
    EXPECT_EQ(refusal(rs256(), unsigned_token), "token is not three non-empty parts separated by '.'") << alg;
    // A signature computed with the right key does not make `none` acceptable either.
    EXPECT_EQ(refusal(hs256(), hs256_token(std::string(R"({"alg":")") + alg + "\"}", claims())),
              "token algorithm is not HS256")
        << alg;
  }
}

TEST(Jwt, AlgMustBeAStringNamingExactlyTheConfiguredAlgorithm) {
  const auto verifier = hs256();
  for (const char* header : {R"({"alg":["HS256"]})", R"({"alg":{"name":"HS256"}})", R"({"alg":true})",
                             R"({"ALG":"HS256"})", R"({"alg ":"HS256"})", "{}"}) {
    EXPECT_EQ(refusal(verifier, hs256_token(header, claims())), "token header has no alg") << header;
  }
  // No prefix, suffix or NUL-truncated match.
  for (const char* header : {R"({"alg":"HS256\u0000"})", R"({"alg":"HS2560"})", R"({"alg":"HS25"})",
                             R"({"alg":"\u0000HS256"})", R"({"alg":" HS256"})"}) {
    EXPECT_EQ(refusal(verifier, hs256_token(header, claims())), "token algorithm is not HS256") << header;
  }
  // The comparison is on the JSON value, so an escaped spelling of the same string is the same alg.
  EXPECT_TRUE(verified(verifier, hs256_token(R"({"alg":"\u0048S256"})", claims())));
}

TEST(Jwt, RsaPublicKeyBytesAsHmacSecretAreRefused) {
  const auto verifier = rs256();
  const std::string pem = public_pem(rsa_key());
  for (const std::string& secret : {pem, pem.substr(0, pem.size() - 1), public_der(rsa_key())}) {
    // Labelled HS256: the algorithm does not match the key.
    EXPECT_EQ(refusal(verifier, hs256_token(kHs256Header, claims(), secret)), "token algorithm is not RS256");
    // Labelled RS256 but carrying an HMAC: not an RSA signature.
    const std::string input = base64url(kRs256Header) + "." + base64url(claims());
    EXPECT_EQ(refusal(verifier, input + "." + base64url(hmac_sha256(secret, input))), "signature invalid");
  }
}

TEST(Jwt, RsaSignatureOfAnotherPaddingOrShapeIsRefused) {
  const auto verifier = rs256();
  const std::string input = base64url(kRs256Header) + "." + base64url(claims());
  // RSASSA-PSS (PS256) with the right key, labelled RS256.
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_PKEY_CTX* pkey_context = nullptr;
  ASSERT_EQ(EVP_DigestSignInit(context.get(), &pkey_context, EVP_sha256(), nullptr, rsa_key()), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(pkey_context, RSA_PKCS1_PSS_PADDING), 1);
  std::size_t size = 0;
  ASSERT_EQ(EVP_DigestSign(context.get(), nullptr, &size,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  std::string pss(size, '\0');
  ASSERT_EQ(EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(pss.data()), &size,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  pss.resize(size);
  EXPECT_EQ(refusal(verifier, input + "." + base64url(pss)), "signature invalid");

  const std::string token = rs256_token(kRs256Header, claims());
  const std::string good = *socks::base64url_decode(token.substr(token.rfind('.') + 1));
  for (const std::string& signature :
       {std::string(256, '\0'), std::string(256, '\xff'), std::string(1, '\x01'), std::string(255, '\x01'),
        std::string(512, '\x01'), std::string(1, '\0') + good, good + good}) {
    EXPECT_EQ(refusal(verifier, resigned(token, signature)), "signature invalid") << signature.size();
  }
}

TEST(Jwt, HmacOfWrongLengthIsRefused) {
  const std::string token = hs256_token(kHs256Header, claims());
  const std::string mac = *socks::base64url_decode(token.substr(token.rfind('.') + 1));
  ASSERT_EQ(mac.size(), 32u);
  for (const std::string& signature : {mac + mac, mac + std::string(1, '\0'), mac.substr(0, 16),
                                       std::string(32, '\0'), std::string(64, '\0'), std::string(1, '\0')}) {
    EXPECT_EQ(refusal(hs256(), resigned(token, signature)), "signature invalid") << signature.size();
  }
}

TEST(Jwt, KeyReferencesInTheHeaderAreNotFollowed) {
  // An attacker's key, offered in every header member that names a key. Only the configured key counts.
  PkeyPtr attacker(EVP_RSA_gen(2048), &EVP_PKEY_free);
  BIGNUM* n = nullptr;
  ASSERT_EQ(EVP_PKEY_get_bn_param(attacker.get(), OSSL_PKEY_PARAM_RSA_N, &n), 1);
  std::string modulus(static_cast<std::size_t>(BN_num_bytes(n)), '\0');
  BN_bn2bin(n, reinterpret_cast<unsigned char*>(modulus.data()));
  BN_free(n);
  const std::string der = base64url(public_der(attacker.get()));
  const std::string header = R"({"alg":"RS256","kid":"attacker","jku":"http://127.0.0.1:9/jwks.json",)"
                             R"("x5u":"http://127.0.0.1:9/cert.pem","x5c":[")" +
                             der + R"("],"jwk":{"kty":"RSA","e":"AQAB","n":")" + base64url(modulus) +
                             R"("}})";
  EXPECT_EQ(refusal(rs256(), rs256_token(header, claims(), attacker.get())), "signature invalid");
  EXPECT_TRUE(verified(rs256(), rs256_token(header, claims())));
  // For HS256 the same members are just as inert.
  EXPECT_EQ(refusal(hs256(), hs256_token(R"({"alg":"HS256","kid":"../../dev/null","jku":"file:///"})",
                                         claims(), "attacker secret of 32 bytes or more!!")),
            "signature invalid");
}

TEST(Jwt, JweAndOtherPartCountsAreRefused) {
  const std::string structure = "token is not three non-empty parts separated by '.'";
  const std::string jwe_header = base64url(R"({"alg":"RSA-OAEP","enc":"A256GCM"})");
  const std::string jwe = jwe_header + "." + base64url(std::string(256, 'k')) + "." +
                          base64url(std::string(12, 'i')) + "." + base64url(claims()) + "." +
                          base64url(std::string(16, 't'));
  EXPECT_EQ(refusal(hs256(), jwe), structure);
  EXPECT_EQ(refusal(rs256(), jwe), structure);
  // Direct encryption has an empty key part.
  const std::string dir = base64url(R"({"alg":"dir","enc":"A128GCM"})") + "..aaaa.bbbb.cccc";
  EXPECT_EQ(refusal(hs256(), dir), structure);
  const std::string token = hs256_token(kHs256Header, claims());
  const std::string header = token.substr(0, token.find('.'));
  EXPECT_EQ(refusal(hs256(), header + "." + token), structure);  // four parts
  EXPECT_EQ(refusal(hs256(), token + "." + token.substr(token.rfind('.') + 1)), structure);
  EXPECT_EQ(refusal(hs256(), header + "." + header), structure);  // two parts
}

TEST(Jwt, WhitespaceAndTrailingGarbageAreRefused) {
  const auto verifier = hs256();
  const std::string token = hs256_token(kHs256Header, claims());
  const auto first = token.find('.');
  for (const std::string& bad : {" " + token, "\t" + token, "Bearer " + token, "\n" + token}) {
    EXPECT_EQ(refusal(verifier, bad), "token header is not valid base64url") << bad;
  }
  for (const std::string& bad : {token + " ", token + "\n", token + "\r\n", token + std::string(1, '\0'),
                                 token + "%00", token + "\xff", token + "==", token + "AAAA="}) {
    EXPECT_EQ(refusal(verifier, bad), "token signature is not valid base64url") << bad;
  }
  // Inside the signed part, any change breaks the signature.
  const std::string spaced = token.substr(0, first + 1) + " " + token.substr(first + 1);
  EXPECT_EQ(refusal(verifier, spaced), "signature invalid");
  // Appended base64url characters change the signature's value or length.
  EXPECT_EQ(refusal(verifier, token + "AAAA"), "signature invalid");
}

TEST(Jwt, PaddedOrStandardAlphabetClaimsAreRefusedEvenWhenSigned) {
  const auto verifier = hs256();
  const std::string header = base64url(kHs256Header);
  // Claims whose base64url uses both '-' and '_', and whose length needs padding.
  std::string body;
  for (std::string x = R"(~~~???>>>)"; body.size() % 4 == 0; x += "a")
    body = base64url(claims(R"(,"x":")" + x + "\""));
  ASSERT_NE(body.find('-'), std::string::npos);
  ASSERT_NE(body.find('_'), std::string::npos);
  ASSERT_NE(body.size() % 4, 0u);
  EXPECT_TRUE(verified(verifier, hs256_signed_parts(header, body)));
  std::string standard = body;
  for (char& c : standard) c = c == '-' ? '+' : c == '_' ? '/' : c;
  EXPECT_EQ(refusal(verifier, hs256_signed_parts(header, standard)), "token claims are not valid base64url");
  const std::string padded = body + std::string(4 - body.size() % 4, '=');
  EXPECT_EQ(refusal(verifier, hs256_signed_parts(header, padded)), "token claims are not valid base64url");
  EXPECT_EQ(refusal(verifier, hs256_signed_parts(header, body + "\n")),
            "token claims are not valid base64url");
  // The same for the header, which is read before the signature.
  std::string header_standard = base64url(R"({"alg":"HS256","x":"~~~???>>>"})");
  ASSERT_NE(header_standard.find_first_of("-_"), std::string::npos);
  for (char& c : header_standard) c = c == '-' ? '+' : c == '_' ? '/' : c;
  EXPECT_EQ(refusal(verifier, hs256_signed_parts(header_standard, base64url(claims()))),
            "token header is not valid base64url");
}

TEST(Jwt, TokenSizeLimitIsExact) {
  const auto verifier = hs256();
  // Pad the claims (and, to reach every length, the header) until the token is exactly `size` bytes.
  const auto token_of_size = [](std::size_t size) {
    for (std::size_t kid = 0; kid < 4; ++kid) {
      const std::string header = R"({"alg":"HS256","kid":")" + std::string(kid, 'k') + "\"}";
      for (std::size_t pad = size / 4 * 3 - 400; pad < size / 4 * 3; ++pad) {
        const std::string token = hs256_token(header, claims(R"(,"pad":")" + std::string(pad, 'p') + "\""));
        if (token.size() == size) return token;
        if (token.size() > size) break;
      }
    }
    ADD_FAILURE() << "no token of " << size << " bytes";
    return std::string();
  };
  const std::string at_limit = token_of_size(JwtVerifier::kMaxTokenSize);
  ASSERT_EQ(at_limit.size(), JwtVerifier::kMaxTokenSize);
  EXPECT_TRUE(verified(verifier, at_limit));
  const std::string over = token_of_size(JwtVerifier::kMaxTokenSize + 1);
  ASSERT_EQ(over.size(), JwtVerifier::kMaxTokenSize + 1);
  EXPECT_EQ(refusal(verifier, over), "token larger than 65536 bytes");
}

TEST(Jwt, DeeplyNestedHeaderIsParsedSafelyBeforeTheSignature) {
  // The header is parsed before the signature is checked: hostile nesting there must be harmless.
  const std::size_t depth = 23000;  // about as deep as the size limit allows
  const std::string nested = std::string(depth, '[') + std::string(depth, ']');
  const std::string header = R"({"alg":"HS256","x":)" + nested + "}";
  const std::string token = hs256_token(header, claims(), "not the configured secret, but long enough");
  ASSERT_LE(token.size(), JwtVerifier::kMaxTokenSize);
  EXPECT_EQ(refusal(hs256(), token), "signature invalid");
  EXPECT_EQ(refusal(hs256(), hs256_token(R"({"alg":"HS256","x":)" + std::string(2 * depth, '['), claims())),
            "token header is not a JSON object with unique member names");
  // Nested objects that reuse one member name at every level are not duplicates.
  std::string objects;
  for (int i = 0; i < 5000; ++i) objects += R"({"aud":)";
  objects += "1" + std::string(5000, '}');
  EXPECT_TRUE(verified(hs256(), hs256_token(kHs256Header, claims(R"(,"x":)" + objects))));
}

TEST(Jwt, DuplicateClaimsCannotBeSmuggled) {
  // Two values for one claim would let the token mean different things to different JWT libraries
  // (first wins / last wins): refused in either order, also when spelled with escapes.
  const auto verifier = hs256();
  const std::string duplicate = "token claims are not a JSON object with unique member names";
  const std::string expired = R"("exp":)" + std::to_string(kNow - 3600);
  const std::string valid = exp_in(300);
  const std::string rest = R"(,"aud":"gateway","tenant":"acme")";
  for (const std::string& members :
       {expired + "," + valid + rest, valid + "," + expired + rest, valid + R"(,"aud":"other")" + rest,
        valid + rest + R"(,"aud":"other")", valid + rest + R"(,"tenant":"other")",
        valid + rest + R"(,"\u0065xp":)" + std::to_string(kNow - 3600),
        valid + rest + R"(,"au\u0064":"other")", valid + rest + R"(,"sub":"a","sub":"b")",
        valid + rest + R"(,"nbf":1,"nbf":99999999999)"}) {
    EXPECT_EQ(refusal(verifier, hs256_token(kHs256Header, claims_with(members))), duplicate) << members;
  }
  EXPECT_EQ(refusal(verifier, hs256_token(R"({"alg":"HS256","crit":[],"cr\u0069t":[]})", claims())),
            "token header is not a JSON object with unique member names");
  // Names that only look alike are different members: "exp\u0000" is not `exp`.
  EXPECT_EQ(refusal(verifier, hs256_token(kHs256Header,
                                          claims_with(R"("exp\u0000":9999999999,"EXP":9999999999)" + rest))),
            "exp claim missing");
}

TEST(Jwt, NumericDatesOfOddShapes) {
  const auto verifier = hs256();
  const std::string rest = R"(,"aud":"gateway","tenant":"acme")";
  const auto with_exp = [&](std::string_view exp) {
    return hs256_token(kHs256Header, claims_with(R"("exp":)" + std::string(exp) + rest));
  };
  for (const char* past : {"0", "-1", "-1e308", "1e-300", "-9223372036854775808", "1699999939.999"}) {
    EXPECT_EQ(refusal(verifier, with_exp(past)), "token expired") << past;
  }
  for (const char* future : {"1e308", "18446744073709551615", "1.7e9", "1700000000"}) {
    EXPECT_TRUE(verified(verifier, with_exp(future))) << future;
  }
  for (const char* not_number : {"true", R"("1e308")", R"("Infinity")", "[]"}) {
    EXPECT_EQ(refusal(verifier, with_exp(not_number)), "exp claim is not a number") << not_number;
  }
  for (const char* not_json : {"NaN", "Infinity", "-Infinity", "+1", "0x7fffffff", "01", "1e99999"}) {
    EXPECT_EQ(refusal(verifier, with_exp(not_json)),
              "token claims are not a JSON object with unique member names")
        << not_json;
  }

  const auto with_nbf = [&](std::string_view nbf) {
    return hs256_token(kHs256Header, claims(R"(,"nbf":)" + std::string(nbf)));
  };
  for (const char* past : {"0", "-1e308", "1700000060"})
    EXPECT_TRUE(verified(verifier, with_nbf(past))) << past;
  for (const char* future : {"1700000061", "1e308", "18446744073709551615"}) {
    EXPECT_EQ(refusal(verifier, with_nbf(future)), "token not yet valid (nbf)") << future;
  }
  for (const char* not_number : {R"("0")", "null", "false", "{}"}) {
    EXPECT_EQ(refusal(verifier, with_nbf(not_number)), "nbf claim is not a number") << not_number;
  }
}

TEST(Jwt, LeewayNeverOverflows) {
  EXPECT_THROW(JwtVerifier::hs256(kSecret, JwtPolicy{"gateway", "tenant", std::chrono::milliseconds(-1)}),
               std::runtime_error);
  // The largest leeway there is: exp + leeway and now + leeway must not wrap around.
  const auto lenient =
      JwtVerifier::hs256(kSecret, JwtPolicy{"gateway", "tenant", std::chrono::milliseconds::max()});
  const std::string rest = R"(,"aud":"gateway","tenant":"acme")";
  EXPECT_TRUE(verified(lenient, hs256_token(kHs256Header, claims_with(R"("exp":1)" + rest))));
  EXPECT_TRUE(verified(lenient, hs256_token(kHs256Header, claims_with(R"("exp":1e308,"nbf":1e15)" + rest))));
  EXPECT_EQ(refusal(lenient, hs256_token(kHs256Header, claims_with(R"("exp":-1e308)" + rest))),
            "token expired");
  EXPECT_EQ(refusal(lenient, hs256_token(kHs256Header, claims_with(R"("exp":1e308,"nbf":1e308)" + rest))),
            "token not yet valid (nbf)");
}

TEST(Jwt, AudienceIsComparedExactly) {
  const auto verifier = hs256();
  const auto with_aud = [](std::string_view aud) {
    return hs256_token(kHs256Header,
                       claims_with(exp_in(300) + R"(,"aud":)" + std::string(aud) + R"(,"tenant":"acme")"));
  };
  for (const char* other : {R"("gate")", R"("gatewayX")", R"("xgateway")", R"("GATEWAY")", R"("")",
                            R"("gateway\u0000")", R"(" gateway")", R"("gateway,other")",
                            R"(["gateway\u0000"])", R"(["gate","way"])", R"(["GATEWAY"])"}) {
    EXPECT_EQ(refusal(verifier, with_aud(other)), "audience mismatch") << other;
  }
  for (const char* malformed : {R"([["gateway"]])", R"([null,"gateway"])", R"(["gateway",{"aud":"gateway"}])",
                                R"({"gateway":true})", "true", "1.5", R"(["gateway",false])"}) {
    EXPECT_EQ(refusal(verifier, with_aud(malformed)), "aud claim is neither a string nor an array of strings")
        << malformed;
  }
  for (const char* matching : {R"("gateway")", R"(["gateway"])", R"(["gateway","gateway"])",
                               R"(["a","b","c","d","gateway","e"])", R"(["gatewa\u0079"])"}) {
    EXPECT_TRUE(verified(verifier, with_aud(matching))) << matching;
  }
}

TEST(Jwt, RefusalsDoNotEchoClaimValues) {
  const auto verifier = hs256();
  const std::string marker = "MARKER-7f3a";
  for (const std::string& members :
       {exp_in(300) + R"(,"aud":")" + marker + R"(","tenant":"acme")",
        exp_in(300) + R"(,"aud":"gateway","tenant":")" + marker + "\"",
        exp_in(300) + R"(,"aud":"gateway","tenant":"acme","sub":")" + marker + R"(\u0007")",
        R"("exp":")" + marker + R"(","aud":"gateway","tenant":"acme")"}) {
    EXPECT_EQ(refusal(verifier, hs256_token(kHs256Header, claims_with(members))).find(marker),
              std::string::npos)
        << members;
  }
  EXPECT_EQ(refusal(verifier, hs256_token(R"({"alg":")" + marker + "\"}", claims())).find(marker),
            std::string::npos);
}

TEST(JwtKeys, PrivateKeyPemIsRefusedWithoutEchoingIt) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  ASSERT_EQ(PEM_write_bio_PrivateKey(bio.get(), rsa_key(), nullptr, nullptr, 0, nullptr, nullptr), 1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  const std::string pem(data, static_cast<std::size_t>(size));
  try {
    JwtVerifier::rs256_from_pem(pem, policy());
    ADD_FAILURE() << "a private key was taken as the public key";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    // No line of the key's body appears in the message.
    const auto body = pem.find('\n') + 1;
    EXPECT_EQ(message.find(pem.substr(body, 32)), std::string::npos) << message;
    EXPECT_EQ(message.find(pem.substr(pem.size() / 2, 32)), std::string::npos) << message;
  }
}
