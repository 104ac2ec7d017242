#include "socks/jwt.hpp"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <climits>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <vector>

#include "tunnel/identity.hpp"

namespace gw::socks {

using json = nlohmann::json;

namespace {

// The value of one Base64 character, or -1.
int sextet(char c, bool url) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == (url ? '-' : '+')) return 62;
  if (c == (url ? '_' : '/')) return 63;
  return -1;
}

// Decodes unpadded Base64 of either alphabet.
std::optional<std::string> decode_unpadded(std::string_view text, bool url) {
  if (text.size() % 4 == 1) return std::nullopt;  // 6 bits cannot make a byte
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    const int value = sextet(c, url);
    if (value < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(value);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xFF));
      bits &= (1u << count) - 1;
    }
  }
  if (bits != 0) return std::nullopt;  // non-canonical: the unused low bits must be zero
  return out;
}

// Parses a JSON object, refusing duplicate member names at any depth.
std::optional<json> parse_object(std::string_view text) {
  std::vector<std::set<std::string>> open;  // member names seen, one set per open object or array
  bool duplicate = false;
  auto callback = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        open.emplace_back();
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!open.empty()) open.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open.empty() && parsed.is_string() && !open.back().insert(parsed.get<std::string>()).second) {
          duplicate = true;
        }
        break;
      case json::parse_event_t::value:
        break;
    }
    return true;
  };
  json document = json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/false);
  if (duplicate || document.is_discarded() || !document.is_object()) return std::nullopt;
  return document;
}

// A NumericDate (seconds since the epoch, possibly fractional).
std::optional<double> numeric_date(const json& value) {
  if (!value.is_number()) return std::nullopt;
  const double seconds = value.get<double>();
  if (!std::isfinite(seconds)) return std::nullopt;
  return seconds;
}

bool audience_matches(const json& aud, const std::string& audience, bool& malformed) {
  malformed = false;
  if (aud.is_string()) return aud.get_ref<const std::string&>() == audience;
  if (!aud.is_array()) {
    malformed = true;
    return false;
  }
  bool found = false;
  for (const auto& item : aud) {
    if (!item.is_string()) {
      malformed = true;
      return false;
    }
    if (item.get_ref<const std::string&>() == audience) found = true;
  }
  return found;
}

// The subject travels as the tunnel's principal header, whose value may not start or end with
// whitespace (RFC 9113 §8.2.1).
bool is_printable_subject(std::string_view subject) {
  if (!subject.empty() && (subject.front() == ' ' || subject.back() == ' ')) return false;
  for (unsigned char c : subject) {
    if (c < 0x20 || c == 0x7F) return false;
  }
  return true;
}

std::string openssl_reason() {
  const unsigned long code = ERR_peek_last_error();
  std::string text;
  if (code != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    text = buffer;
  }
  ERR_clear_error();
  return text;
}

}  // namespace

std::optional<std::string> base64url_decode(std::string_view text) {
  return decode_unpadded(text, true);
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  // A third '=' stays in the body and is refused there as a character outside the alphabet.
  return decode_unpadded(text.substr(0, text.size() - padding), false);
}

std::string_view algorithm_name(JwtAlgorithm algorithm) noexcept {
  return algorithm == JwtAlgorithm::hs256 ? "HS256" : "RS256";
}

struct JwtVerifier::Key {
  std::string secret;       // HS256
  EVP_PKEY* rsa = nullptr;  // RS256

  Key() = default;
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  ~Key() {
    OPENSSL_cleanse(secret.data(), secret.size());
    EVP_PKEY_free(rsa);
  }
};

namespace {

void check_policy(const JwtPolicy& policy) {
  if (policy.audience.empty()) throw std::runtime_error("JWT audience must not be empty");
  if (policy.tenant_claim.empty()) throw std::runtime_error("JWT tenant claim name must not be empty");
  if (policy.leeway.count() < 0) throw std::runtime_error("JWT leeway must not be negative");
  if (policy.max_lifetime.count() < 0) throw std::runtime_error("JWT max_lifetime must not be negative");
}

}  // namespace

JwtVerifier::JwtVerifier(JwtAlgorithm algorithm, std::shared_ptr<const Key> key, JwtPolicy policy)
    : algorithm_(algorithm), key_(std::move(key)), policy_(std::move(policy)) {}

JwtVerifier JwtVerifier::hs256(std::string secret, JwtPolicy policy) {
  check_policy(policy);
  if (secret.empty()) throw std::runtime_error("JWT HS256 secret must not be empty");
  if (secret.size() > static_cast<std::size_t>(INT_MAX))
    throw std::runtime_error("JWT HS256 secret too long");
  auto key = std::make_shared<Key>();
  key->secret = std::move(secret);
  return JwtVerifier(JwtAlgorithm::hs256, std::move(key), std::move(policy));
}

JwtVerifier JwtVerifier::rs256_from_pem(std::string_view pem, JwtPolicy policy) {
  check_policy(policy);
  if (pem.size() > static_cast<std::size_t>(INT_MAX)) throw std::runtime_error("JWT public key too large");
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                &BIO_free);
  if (!bio) throw std::runtime_error("out of memory reading the JWT public key");
  auto key = std::make_shared<Key>();
  key->rsa = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (key->rsa == nullptr) {
    const std::string reason = openssl_reason();
    throw std::runtime_error("JWT public key: expected a PEM public key (\"-----BEGIN PUBLIC KEY-----\")" +
                             (reason.empty() ? std::string() : " (" + reason + ")"));
  }
  if (!EVP_PKEY_is_a(key->rsa, "RSA")) throw std::runtime_error("JWT public key is not an RSA key (RS256)");
  const int bits = EVP_PKEY_get_bits(key->rsa);
  if (bits < 2048) {
    throw std::runtime_error("JWT public key has " + std::to_string(bits) +
                             " bits; RS256 needs an RSA key of at least 2048 bits");
  }
  return JwtVerifier(JwtAlgorithm::rs256, std::move(key), std::move(policy));
}

JwtVerifier JwtVerifier::rs256_from_file(const std::filesystem::path& file, JwtPolicy policy) {
  constexpr std::uintmax_t kMaxFile = 1024 * 1024;  // a PEM public key is a few KiB
  std::error_code size_error;
  const auto size = std::filesystem::file_size(file, size_error);
  if (size_error) {
    throw std::runtime_error("cannot read JWT public key file " + file.string() + ": " +
                             size_error.message());
  }
  if (size > kMaxFile) throw std::runtime_error("JWT public key file " + file.string() + " is too large");
  std::ifstream in(file, std::ios::binary);
  std::string pem(static_cast<std::size_t>(size), '\0');
  if (!in || !in.read(pem.data(), static_cast<std::streamsize>(pem.size()))) {
    throw std::runtime_error("cannot read JWT public key file " + file.string());
  }
  try {
    return rs256_from_pem(pem, std::move(policy));
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(file.string() + ": " + e.what());
  }
}

bool JwtVerifier::signature_valid(std::string_view signing_input, std::string_view signature) const {
  const auto* data = reinterpret_cast<const unsigned char*>(signing_input.data());
  const auto* sig = reinterpret_cast<const unsigned char*>(signature.data());
  if (algorithm_ == JwtAlgorithm::hs256) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_size = 0;
    if (HMAC(EVP_sha256(), key_->secret.data(), static_cast<int>(key_->secret.size()), data,
             signing_input.size(), mac, &mac_size) == nullptr) {
      ERR_clear_error();
      return false;
    }
    return signature.size() == mac_size && CRYPTO_memcmp(mac, sig, mac_size) == 0;
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  const bool valid = context &&
                     EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr, key_->rsa) == 1 &&
                     EVP_DigestVerify(context.get(), sig, signature.size(), data, signing_input.size()) == 1;
  // A failed verification leaves entries in this thread's OpenSSL error queue; TLS code on the same
  // thread would mistake them for its own.
  ERR_clear_error();
  return valid;
}

std::optional<JwtClaims> JwtVerifier::verify(std::string_view token,
                                             std::chrono::system_clock::time_point now,
                                             std::string& error) const {
  auto fail = [&error](std::string text) -> std::optional<JwtClaims> {
    error = std::move(text);
    return std::nullopt;
  };
  if (token.empty()) return fail("token empty");
  if (token.size() > kMaxTokenSize)
    return fail("token larger than " + std::to_string(kMaxTokenSize) + " bytes");

  const auto first_dot = token.find('.');
  const auto second_dot = first_dot == std::string_view::npos ? first_dot : token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos || token.find('.', second_dot + 1) != std::string_view::npos ||
      first_dot == 0 || second_dot == first_dot + 1 || second_dot + 1 == token.size()) {
    return fail("token is not three non-empty parts separated by '.'");
  }
  const std::string_view header_part = token.substr(0, first_dot);
  const std::string_view claims_part = token.substr(first_dot + 1, second_dot - first_dot - 1);
  const std::string_view signature_part = token.substr(second_dot + 1);

  const auto header_text = base64url_decode(header_part);
  if (!header_text) return fail("token header is not valid base64url");
  const auto header = parse_object(*header_text);
  if (!header) return fail("token header is not a JSON object with unique member names");
  const auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string()) return fail("token header has no alg");
  if (alg->get_ref<const std::string&>() != algorithm_name(algorithm_)) {
    return fail("token algorithm is not " + std::string(algorithm_name(algorithm_)));
  }
  if (header->contains("crit")) return fail("token header has crit, which is not supported");

  const auto signature = base64url_decode(signature_part);
  if (!signature) return fail("token signature is not valid base64url");
  if (!signature_valid(token.substr(0, second_dot), *signature)) return fail("signature invalid");

  const auto claims_text = base64url_decode(claims_part);
  if (!claims_text) return fail("token claims are not valid base64url");
  const auto claims = parse_object(*claims_text);
  if (!claims) return fail("token claims are not a JSON object with unique member names");

  const double now_seconds = std::chrono::duration<double>(now.time_since_epoch()).count();
  const double leeway_seconds = std::chrono::duration<double>(policy_.leeway).count();
  const auto exp = claims->find("exp");
  if (exp == claims->end()) return fail("exp claim missing");
  const auto expires = numeric_date(*exp);
  if (!expires) return fail("exp claim is not a number");
  if (now_seconds >= *expires + leeway_seconds) return fail("token expired");
  if (const auto nbf = claims->find("nbf"); nbf != claims->end()) {
    const auto not_before = numeric_date(*nbf);
    if (!not_before) return fail("nbf claim is not a number");
    if (now_seconds + leeway_seconds < *not_before) return fail("token not yet valid (nbf)");
  }
  const auto iat = claims->find("iat");
  if (iat == claims->end() && policy_.max_lifetime.count() > 0) {
    return fail("iat claim missing (needed with a maximum token lifetime)");
  }
  if (iat != claims->end()) {
    const auto issued = numeric_date(*iat);
    if (!issued) return fail("iat claim is not a number");
    if (*issued > now_seconds + leeway_seconds) return fail("token issued in the future (iat)");
    const double max_lifetime = std::chrono::duration<double>(policy_.max_lifetime).count();
    if (max_lifetime > 0 && *expires - *issued > max_lifetime) {
      return fail("token lifetime (exp - iat) exceeds the maximum of " +
                  std::to_string(policy_.max_lifetime.count() / 1000) + " s");
    }
  }

  const auto aud = claims->find("aud");
  if (aud == claims->end()) return fail("aud claim missing");
  bool malformed = false;
  if (!audience_matches(*aud, policy_.audience, malformed)) {
    return fail(malformed ? "aud claim is neither a string nor an array of strings" : "audience mismatch");
  }

  JwtClaims result;
  const auto tenant = claims->find(policy_.tenant_claim);
  if (tenant == claims->end()) return fail("tenant claim \"" + policy_.tenant_claim + "\" missing");
  if (!tenant->is_string()) return fail("tenant claim \"" + policy_.tenant_claim + "\" is not a string");
  result.tenant = tenant->get<std::string>();
  if (!tunnel::is_tenant_name(result.tenant)) {
    return fail("tenant claim \"" + policy_.tenant_claim + "\" is not a valid tenant name");
  }
  if (const auto sub = claims->find("sub"); sub != claims->end()) {
    if (!sub->is_string()) return fail("sub claim is not a string");
    result.subject = sub->get<std::string>();
    if (result.subject.size() > kMaxSubjectSize || !is_printable_subject(result.subject)) {
      return fail("sub claim longer than " + std::to_string(kMaxSubjectSize) +
                  " bytes, or with control characters or leading or trailing spaces");
    }
  }
  error.clear();
  return result;
}

}  // namespace gw::socks
