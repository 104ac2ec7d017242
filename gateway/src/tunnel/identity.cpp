#include "tunnel/identity.hpp"

#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <vector>

#include "tunnel/certificates.hpp"

namespace gw::tunnel {
namespace {

constexpr std::size_t kMaxName = 64;
// Longer input is not an identity; it is cut short in messages.
constexpr std::size_t kMaxQuoted = 100;

bool lower_or_digit(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool location_char(char c) {
  return lower_or_digit(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-';
}

// `text` in quotes with control and non-ASCII bytes escaped, for error messages.
std::string quote(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < kMaxQuoted; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMaxQuoted) out += "...";
  return out + "\"";
}

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

// Why `tenant` breaks the naming rules ("" when it does not).
std::string tenant_problem(std::string_view tenant) {
  if (tenant.empty()) return "the tenant is empty";
  if (tenant.size() > kMaxName) return "the tenant is longer than 64 characters";
  if (tenant.find('%') != std::string_view::npos) return "percent-encoding is not allowed";
  if (!lower_or_digit(tenant.front())) return "the tenant must start with a lower-case letter or digit";
  for (char c : tenant) {
    if (!lower_or_digit(c) && c != '_' && c != '-') {
      return "the tenant contains " + quote(std::string_view(&c, 1)) +
             " (allowed: lower-case letters, digits, '_' and '-')";
    }
  }
  return "";
}

std::string location_problem(std::string_view location) {
  if (location.size() > kMaxName) return "the location is longer than 64 characters";
  for (char c : location) {
    if (c == '/') return "the location must not contain '/' (too many path segments)";
    if (c == '%') return "percent-encoding is not allowed";
    if (c == '?' || c == '#') return "a query or fragment is not allowed";
    if (!location_char(c)) {
      return "the location contains " + quote(std::string_view(&c, 1)) +
             " (allowed: letters, digits, '.', '_' and '-')";
    }
  }
  return "";
}

struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* names) const noexcept { GENERAL_NAMES_free(names); }
};

}  // namespace

std::string ConnectorIdentity::str() const {
  return tenant + "/" + location;
}

bool is_tenant_name(std::string_view text) {
  return tenant_problem(text).empty();
}

bool is_location_id(std::string_view text) {
  return location_problem(text).empty();
}

std::string identity_uri(const ConnectorIdentity& identity) {
  return std::string(kIdentityUriPrefix) + identity.tenant + "/" + identity.location;
}

std::optional<ConnectorIdentity> parse_identity_uri(std::string_view uri, std::string& error) {
  const auto fail = [&](const std::string& why) -> std::optional<ConnectorIdentity> {
    error = "invalid connector identity URI " + quote(uri) + ": " + why;
    return std::nullopt;
  };
  // Bounded before anything else: prefix + 64 + '/' + 64.
  if (uri.size() > kIdentityUriPrefix.size() + 2 * kMaxName + 1) return fail("too long");
  if (!uri.starts_with(kIdentityUriPrefix)) {
    if (starts_with_nocase(uri, kIdentityUriPrefix)) return fail("the scheme and host must be lower-case");
    return fail("expected gatewayd://connector/<tenant>/<location>");
  }
  const std::string_view path = uri.substr(kIdentityUriPrefix.size());
  const auto slash = path.find('/');
  if (slash == std::string_view::npos) {
    if (path.empty()) return fail("the tenant is empty");
    return fail("missing '/' after the tenant (the default location is written gatewayd://connector/" +
                std::string(path.substr(0, kMaxName)) + "/)");
  }
  ConnectorIdentity identity{std::string(path.substr(0, slash)), std::string(path.substr(slash + 1))};
  if (auto why = tenant_problem(identity.tenant); !why.empty()) return fail(why);
  if (auto why = location_problem(identity.location); !why.empty()) return fail(why);
  return identity;
}

std::optional<ConnectorIdentity> identity_from_certificate(X509* cert, std::string& error) {
  if (cert == nullptr) {
    error = "no certificate";
    return std::nullopt;
  }
  int critical = 0;
  std::unique_ptr<GENERAL_NAMES, GeneralNamesFree> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, &critical, nullptr)));
  if (!names) {
    // -1: no such extension; -2: several subjectAltName extensions; otherwise it did not decode.
    error = critical == -1
                ? "the certificate has no subject alternative names (expected one gatewayd://connector/ URI)"
            : critical == -2 ? "the certificate has more than one subjectAltName extension"
                             : "the certificate's subjectAltName extension is malformed";
    return std::nullopt;
  }
  // Every URI SAN of the gatewayd scheme (in any letter case) counts, so that a near-miss spelling
  // next to a valid one is refused as ambiguous rather than silently ignored.
  std::vector<std::string> candidates;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* value = name->d.uniformResourceIdentifier;
    std::string uri(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                    static_cast<std::size_t>(ASN1_STRING_length(value)));
    if (starts_with_nocase(uri, "gatewayd:")) candidates.push_back(std::move(uri));
  }
  if (candidates.empty()) {
    error = "the certificate has no gatewayd://connector/ URI subject alternative name";
    return std::nullopt;
  }
  if (candidates.size() > 1) {
    error = "the certificate has " + std::to_string(candidates.size()) +
            " gatewayd: URI subject alternative names; exactly one is allowed";
    return std::nullopt;
  }
  return parse_identity_uri(candidates.front(), error);
}

std::optional<ConnectorIdentity> identity_from_certificate_file(const std::string& file, std::string& error) {
  try {
    const std::string what = "certificate file " + file;
    auto certs = parse_certificates(read_text_file(file, what), what);
    auto identity = identity_from_certificate(certs.front().get(), error);
    if (!identity) error = file + ": " + error;
    return identity;
  } catch (const std::runtime_error& e) {
    error = e.what();
    return std::nullopt;
  }
}

}  // namespace gw::tunnel
