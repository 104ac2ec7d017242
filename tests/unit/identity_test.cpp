// Connector identities: the URI's one accepted spelling, the naming rules, and reading the identity
// from a certificate's subject alternative names.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <string>
#include <vector>

#include "support/temp_dir.hpp"
#include "tunnel/certificates.hpp"
#include "tunnel/identity.hpp"

using namespace gw;
using namespace std::string_literals;
using tunnel::ConnectorIdentity;

namespace {

std::optional<ConnectorIdentity> parse(std::string_view uri) {
  std::string error;
  auto identity = tunnel::parse_identity_uri(uri, error);
  if (identity) {
    EXPECT_TRUE(error.empty()) << error;
  } else {
    EXPECT_FALSE(error.empty()) << "a refusal must say why";
  }
  return identity;
}

// The refusal message for `uri` (the test fails if it parses).
std::string refusal(std::string_view uri) {
  std::string error;
  auto identity = tunnel::parse_identity_uri(uri, error);
  EXPECT_FALSE(identity) << "accepted: " << uri;
  return error;
}

}  // namespace

TEST(IdentityUri, ParsesTenantAndLocation) {
  auto identity = parse("gatewayd://connector/acme/berlin");
  ASSERT_TRUE(identity);
  EXPECT_EQ(identity->tenant, "acme");
  EXPECT_EQ(identity->location, "berlin");
  EXPECT_EQ(identity->str(), "acme/berlin");
}

TEST(IdentityUri, TrailingSlashMeansTheDefaultLocation) {
  auto identity = parse("gatewayd://connector/acme/");
  ASSERT_TRUE(identity);
  EXPECT_EQ(identity->tenant, "acme");
  EXPECT_EQ(identity->location, "");
  EXPECT_EQ(identity->str(), "acme/");
}

TEST(IdentityUri, MissingTrailingSlashIsRefusedWithTheCorrectSpelling) {
  const auto error = refusal("gatewayd://connector/acme");
  EXPECT_NE(error.find("missing '/' after the tenant"), std::string::npos) << error;
  EXPECT_NE(error.find("gatewayd://connector/acme/"), std::string::npos) << error;
}

TEST(IdentityUri, AcceptsTheFullCharacterSetsAndMaximumLengths) {
  auto identity = parse("gatewayd://connector/0a_b-c9/Loc.1_x-Y");
  ASSERT_TRUE(identity);
  EXPECT_EQ(identity->tenant, "0a_b-c9");
  EXPECT_EQ(identity->location, "Loc.1_x-Y");

  const std::string tenant(64, 't');
  const std::string location(64, 'L');
  identity = parse("gatewayd://connector/" + tenant + "/" + location);
  ASSERT_TRUE(identity);
  EXPECT_EQ(identity->tenant, tenant);
  EXPECT_EQ(identity->location, location);
}

TEST(IdentityUri, RoundTripsThroughIdentityUri) {
  for (const ConnectorIdentity& identity :
       {ConnectorIdentity{"acme", "berlin"}, ConnectorIdentity{"acme", ""},
        ConnectorIdentity{"x", "a.b_c-D"}}) {
    const std::string uri = tunnel::identity_uri(identity);
    auto parsed = parse(uri);
    ASSERT_TRUE(parsed) << uri;
    EXPECT_EQ(*parsed, identity);
  }
  EXPECT_EQ(tunnel::identity_uri({"acme", "berlin"}), "gatewayd://connector/acme/berlin");
  EXPECT_EQ(tunnel::identity_uri({"acme", ""}), "gatewayd://connector/acme/");
}

TEST(IdentityUri, RefusesOtherSchemesAndAuthorities) {
  for (std::string_view uri : {
           "",
           "acme/berlin",
           "https://connector/acme/berlin",
           "gatewayd:/connector/acme/berlin",
           "gatewayd:connector/acme/berlin",
           "gatewayd://connectors/acme/berlin",
           "gatewayd://edge/acme/berlin",
           "gatewayd://connector:443/acme/berlin",
           "gatewayd://user@connector/acme/berlin",
           "gatewayd:///acme/berlin",
           " gatewayd://connector/acme/berlin",
           "spiffe://connector/acme/berlin",
       }) {
    const auto error = refusal(uri);
    EXPECT_NE(error.find("expected gatewayd://connector/<tenant>/<location>"), std::string::npos)
        << uri << ": " << error;
  }
}

TEST(IdentityUri, RefusesUpperCaseSchemeOrHost) {
  for (std::string_view uri : {"GATEWAYD://connector/acme/berlin", "gatewayd://CONNECTOR/acme/berlin",
                               "Gatewayd://Connector/acme/"}) {
    const auto error = refusal(uri);
    EXPECT_NE(error.find("lower-case"), std::string::npos) << uri << ": " << error;
  }
}

TEST(IdentityUri, RefusesBadTenants) {
  struct Case {
    std::string uri;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"gatewayd://connector//berlin", "the tenant is empty"},
      {"gatewayd://connector/", "the tenant is empty"},
      {"gatewayd://connector/Acme/berlin", "must start with a lower-case letter or digit"},
      {"gatewayd://connector/acMe/berlin", "the tenant contains \"M\""},
      {"gatewayd://connector/-acme/berlin", "must start with a lower-case letter or digit"},
      {"gatewayd://connector/_acme/berlin", "must start with a lower-case letter or digit"},
      {"gatewayd://connector/ac.me/berlin", "the tenant contains \".\""},
      {"gatewayd://connector/ac me/berlin", "the tenant contains \" \""},
      {"gatewayd://connector/ac%6De/berlin", "percent-encoding"},
      {"gatewayd://connector/%61cme/berlin", "percent-encoding"},
      {"gatewayd://connector/ac\xc3\xa9/berlin", "the tenant contains \"\\xc3\""},
      {"gatewayd://connector/ac\0me/berlin"s, "the tenant contains \"\\x00\""},
      {"gatewayd://connector/" + std::string(65, 'a') + "/berlin", "the tenant is longer than 64 characters"},
  };
  for (const auto& c : cases) {
    const auto error = refusal(c.uri);
    EXPECT_NE(error.find(c.expect), std::string::npos) << c.uri << ": " << error;
  }
}

TEST(IdentityUri, RefusesBadLocations) {
  struct Case {
    std::string uri;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"gatewayd://connector/acme/berlin/x", "too many path segments"},
      {"gatewayd://connector/acme/berlin/", "too many path segments"},
      {"gatewayd://connector/acme//", "too many path segments"},
      {"gatewayd://connector/acme/ber%20lin", "percent-encoding"},
      {"gatewayd://connector/acme/%2F", "percent-encoding"},
      {"gatewayd://connector/acme/berlin?x=1", "query or fragment"},
      {"gatewayd://connector/acme/berlin#top", "query or fragment"},
      {"gatewayd://connector/acme/?", "query or fragment"},
      {"gatewayd://connector/acme/ber lin", "the location contains \" \""},
      {"gatewayd://connector/acme/ber:lin", "the location contains \":\""},
      {"gatewayd://connector/acme/berlin\n", "the location contains \"\\x0a\""},
      {"gatewayd://connector/acme/" + std::string(65, 'b'), "the location is longer than 64 characters"},
  };
  for (const auto& c : cases) {
    const auto error = refusal(c.uri);
    EXPECT_NE(error.find(c.expect), std::string::npos) << c.uri << ": " << error;
  }
}

TEST(IdentityUri, RefusesOverlongInputBeforeLookingAtIt) {
  const std::string huge = "gatewayd://connector/acme/" + std::string(100000, 'x');
  const auto error = refusal(huge);
  EXPECT_NE(error.find("too long"), std::string::npos) << error;
  EXPECT_LT(error.size(), 300u) << "the message quotes a bounded prefix only";
}

TEST(IdentityNames, FollowTheNamingRules) {
  EXPECT_TRUE(tunnel::is_tenant_name("acme"));
  EXPECT_TRUE(tunnel::is_tenant_name("0"));
  EXPECT_TRUE(tunnel::is_tenant_name("a_b-c"));
  EXPECT_TRUE(tunnel::is_tenant_name(std::string(64, 'a')));
  EXPECT_FALSE(tunnel::is_tenant_name(""));
  EXPECT_FALSE(tunnel::is_tenant_name(std::string(65, 'a')));
  EXPECT_FALSE(tunnel::is_tenant_name("Acme"));
  EXPECT_FALSE(tunnel::is_tenant_name("-acme"));
  EXPECT_FALSE(tunnel::is_tenant_name("ac.me"));
  EXPECT_FALSE(tunnel::is_tenant_name("ac/me"));

  EXPECT_TRUE(tunnel::is_location_id(""));
  EXPECT_TRUE(tunnel::is_location_id("Berlin.DC-1_a"));
  EXPECT_TRUE(tunnel::is_location_id(std::string(64, 'L')));
  EXPECT_FALSE(tunnel::is_location_id(std::string(65, 'L')));
  EXPECT_FALSE(tunnel::is_location_id("a/b"));
  EXPECT_FALSE(tunnel::is_location_id("a b"));
  EXPECT_FALSE(tunnel::is_location_id("a%20b"));
}

// ---- identities in certificates -------------------------------------------------------------------

namespace {

// A leaf certificate signed by a fresh CA with exactly the given subjectAltName configuration text
// ("" for no SAN extension), for shapes make_connector_cert never produces.
tunnel::X509Ptr cert_with_sans(const std::string& san) {
  const tunnel::Pem ca = tunnel::make_ca("identity test CA", 1);
  auto ca_cert = tunnel::parse_certificates(ca.cert, "ca");
  auto ca_key = tunnel::parse_private_key(ca.key, "ca key");
  tunnel::EvpPkeyPtr key(EVP_EC_gen("P-256"));
  tunnel::X509Ptr cert(X509_new());
  X509* c = cert.get();
  X509_set_version(c, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(c), 7);
  X509_gmtime_adj(X509_getm_notBefore(c), 0);
  X509_gmtime_adj(X509_getm_notAfter(c), 3600);
  X509_set_issuer_name(c, X509_get_subject_name(ca_cert.front().get()));
  X509_set_pubkey(c, key.get());
  if (!san.empty()) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, ca_cert.front().get(), c, nullptr, nullptr, 0);
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str());
    EXPECT_NE(extension, nullptr) << san;
    X509_add_ext(c, extension, -1);
    X509_EXTENSION_free(extension);
  }
  X509_sign(c, ca_key.get(), EVP_sha256());
  return cert;
}

}  // namespace

TEST(IdentityCertificate, ReadsTheOneIdentityUri) {
  const tunnel::Pem ca = tunnel::make_ca("identity test CA", 1);
  const tunnel::Pem connector = tunnel::make_connector_cert(ca, {"acme", "berlin"}, 1);
  auto certs = tunnel::parse_certificates(connector.cert, "connector");
  std::string error;
  auto identity = tunnel::identity_from_certificate(certs.front().get(), error);
  ASSERT_TRUE(identity) << error;
  EXPECT_EQ(*identity, (ConnectorIdentity{"acme", "berlin"}));
}

TEST(IdentityCertificate, OtherSubjectAltNamesAreIgnored) {
  auto cert = cert_with_sans(
      "DNS:conn.example,URI:spiffe://example.org/x,URI:gatewayd://connector/acme/,IP:10.0.0.1");
  std::string error;
  auto identity = tunnel::identity_from_certificate(cert.get(), error);
  ASSERT_TRUE(identity) << error;
  EXPECT_EQ(*identity, (ConnectorIdentity{"acme", ""}));
}

TEST(IdentityCertificate, RefusesACertificateWithoutIdentity) {
  std::string error;
  EXPECT_FALSE(tunnel::identity_from_certificate(nullptr, error));
  EXPECT_EQ(error, "no certificate");

  auto no_san = cert_with_sans("");
  EXPECT_FALSE(tunnel::identity_from_certificate(no_san.get(), error));
  EXPECT_NE(error.find("no subject alternative names"), std::string::npos) << error;

  auto no_uri = cert_with_sans("DNS:connector.example,URI:https://example.org/");
  EXPECT_FALSE(tunnel::identity_from_certificate(no_uri.get(), error));
  EXPECT_NE(error.find("no gatewayd://connector/ URI"), std::string::npos) << error;

  // An edge certificate is not a connector certificate.
  const tunnel::Pem ca = tunnel::make_ca("identity test CA", 1);
  auto edge = tunnel::parse_certificates(tunnel::make_edge_cert(ca, {"edge.test"}, {}, 1).cert, "edge");
  EXPECT_FALSE(tunnel::identity_from_certificate(edge.front().get(), error));
  EXPECT_NE(error.find("no gatewayd://connector/ URI"), std::string::npos) << error;
}

TEST(IdentityCertificate, RefusesTwoIdentities) {
  auto two = cert_with_sans("URI:gatewayd://connector/acme/berlin,URI:gatewayd://connector/acme/paris");
  std::string error;
  EXPECT_FALSE(tunnel::identity_from_certificate(two.get(), error));
  EXPECT_NE(error.find("2 gatewayd: URI subject alternative names; exactly one is allowed"),
            std::string::npos)
      << error;

  // A near-miss spelling next to a valid identity makes it ambiguous, not ignored.
  auto near_miss = cert_with_sans("URI:gatewayd://connector/acme/berlin,URI:GATEWAYD://connector/evil/");
  EXPECT_FALSE(tunnel::identity_from_certificate(near_miss.get(), error));
  EXPECT_NE(error.find("exactly one is allowed"), std::string::npos) << error;
}

TEST(IdentityCertificate, RefusesAMalformedIdentity) {
  std::string error;
  auto upper = cert_with_sans("URI:gatewayd://connector/Acme/berlin");
  EXPECT_FALSE(tunnel::identity_from_certificate(upper.get(), error));
  EXPECT_NE(error.find("must start with a lower-case letter or digit"), std::string::npos) << error;

  auto segments = cert_with_sans("URI:gatewayd://connector/acme/berlin/x");
  EXPECT_FALSE(tunnel::identity_from_certificate(segments.get(), error));
  EXPECT_NE(error.find("too many path segments"), std::string::npos) << error;

  auto other_host = cert_with_sans("URI:gatewayd://edge/acme/");
  EXPECT_FALSE(tunnel::identity_from_certificate(other_host.get(), error));
  EXPECT_NE(error.find("expected gatewayd://connector/"), std::string::npos) << error;
}

TEST(IdentityCertificate, ReadsTheIdentityFromAFile) {
  gw::testing::TempDir dir;
  const tunnel::Pem ca = tunnel::make_ca("identity test CA", 1);
  const auto file = dir.write("connector.pem", tunnel::make_connector_cert(ca, {"acme", "paris"}, 1).cert);
  std::string error;
  auto identity = tunnel::identity_from_certificate_file(file.string(), error);
  ASSERT_TRUE(identity) << error;
  EXPECT_EQ(*identity, (ConnectorIdentity{"acme", "paris"}));

  const auto edge = dir.write("edge.pem", tunnel::make_edge_cert(ca, {"edge.test"}, {}, 1).cert);
  EXPECT_FALSE(tunnel::identity_from_certificate_file(edge.string(), error));
  EXPECT_NE(error.find(edge.string()), std::string::npos) << error;

  const auto missing = (dir.path() / "missing.pem").string();
  EXPECT_FALSE(tunnel::identity_from_certificate_file(missing, error));
  EXPECT_EQ(error, "cannot read certificate file " + missing + ": No such file or directory");

  const auto garbage = dir.write("garbage.pem", "not a certificate\n");
  EXPECT_FALSE(tunnel::identity_from_certificate_file(garbage.string(), error));
  EXPECT_NE(error.find("no certificate found"), std::string::npos) << error;
}
