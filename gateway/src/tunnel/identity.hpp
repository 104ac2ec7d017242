// A connector's identity: the tenant it serves and its location within the tenant.
//
// It travels in the connector's client certificate as exactly one URI subject alternative name
//
//   gatewayd://connector/<tenant>/<location>      e.g. gatewayd://connector/acme/berlin
//   gatewayd://connector/<tenant>/                the tenant's default (empty) location
//
// tenant:   1-64 of [a-z0-9_-], starting with a letter or digit
// location: 0-64 of [A-Za-z0-9._-]
//
// The URI has one spelling only: no percent-encoding, no upper-case scheme or host, no query or
// fragment, and the '/' after the tenant is always present. An identity decides where streams are
// routed, so anything that is not exactly this form is refused rather than normalised.
#pragma once

#include <openssl/x509.h>

#include <optional>
#include <string>
#include <string_view>

namespace gw::tunnel {

// The scheme and authority every identity URI starts with.
inline constexpr std::string_view kIdentityUriPrefix = "gatewayd://connector/";

struct ConnectorIdentity {
  std::string tenant;
  std::string location;  // empty: the tenant's default location

  // "tenant/location" ("acme/berlin", "acme/") for logs and messages.
  std::string str() const;

  friend bool operator==(const ConnectorIdentity&, const ConnectorIdentity&) = default;
};

// The naming rules above.
bool is_tenant_name(std::string_view text);
bool is_location_id(std::string_view text);

// "gatewayd://connector/<tenant>/<location>". The identity must satisfy the naming rules (it is not
// checked here; certificates.hpp checks before minting).
std::string identity_uri(const ConnectorIdentity& identity);

// Parses an identity URI. On any deviation from the one accepted form returns nullopt and sets
// `error` to a sentence saying what is wrong.
std::optional<ConnectorIdentity> parse_identity_uri(std::string_view uri, std::string& error);

// The identity carried by a (verified) connector certificate. Other URI SANs (any scheme but
// gatewayd:) are ignored; there must be exactly one gatewayd: URI SAN and it must parse. `cert` is
// borrowed; null is an error ("no certificate").
std::optional<ConnectorIdentity> identity_from_certificate(X509* cert, std::string& error);

// The same for the first certificate of a PEM file (a connector reading its own identity at
// start-up). Errors name the file.
std::optional<ConnectorIdentity> identity_from_certificate_file(const std::string& file, std::string& error);

}  // namespace gw::tunnel
