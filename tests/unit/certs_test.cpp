// Minting the tunnel's certificates (extensions, validity, chains, refusals of bad names) and the
// `gatewayd certs` subcommand (files, modes, overwriting, errors).
#include <gtest/gtest.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "cli/certs.hpp"
#include "support/temp_dir.hpp"
#include "tunnel/certificates.hpp"
#include "tunnel/identity.hpp"

using namespace gw;
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

tunnel::X509Ptr cert_of(const tunnel::Pem& pem) {
  auto certs = tunnel::parse_certificates(pem.cert, "cert");
  EXPECT_EQ(certs.size(), 1u);
  return std::move(certs.front());
}

// Verifies `leaf` against `ca` for `purpose` (X509_PURPOSE_SSL_SERVER / _CLIENT); "" when it verifies.
std::string verify(X509* leaf, X509* ca, int purpose) {
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  X509_STORE_add_cert(store.get(), ca);
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      X509_STORE_CTX_free);
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr);
  X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  if (X509_verify_cert(ctx.get()) == 1) return "";
  return X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

// The subject alternative names as "DNS:x", "IP:1.2.3.4", "URI:..." strings.
std::vector<std::string> alt_names(X509* cert) {
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    const auto text = [](const ASN1_STRING* s) {
      return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), ASN1_STRING_length(s));
    };
    if (name->type == GEN_DNS) out.push_back("DNS:" + text(name->d.dNSName));
    if (name->type == GEN_URI) out.push_back("URI:" + text(name->d.uniformResourceIdentifier));
    if (name->type == GEN_IPADD) {
      const std::string bytes = text(name->d.iPAddress);
      if (bytes.size() == 4) {
        asio::ip::address_v4::bytes_type v4;
        std::copy(bytes.begin(), bytes.end(), v4.begin());
        out.push_back("IP:" + asio::ip::address_v4(v4).to_string());
      } else if (bytes.size() == 16) {
        asio::ip::address_v6::bytes_type v6;
        std::copy(bytes.begin(), bytes.end(), v6.begin());
        out.push_back("IP:" + asio::ip::address_v6(v6).to_string());
      } else {
        out.push_back("IP:?");
      }
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

bool critical(X509* cert, int nid) {
  const int index = X509_get_ext_by_NID(cert, nid, -1);
  return index >= 0 && X509_EXTENSION_get_critical(X509_get_ext(cert, index)) == 1;
}

// Seconds from notBefore to notAfter.
long validity_seconds(X509* cert) {
  int days = 0;
  int seconds = 0;
  EXPECT_EQ(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert), X509_get0_notAfter(cert)), 1);
  return days * 86400L + seconds;
}

std::string mint_error(const std::function<void()>& mint) {
  try {
    mint();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "minted without error";
  return "";
}

}  // namespace

TEST(Certificates, CaIsASelfSignedP256CaCertificate) {
  const auto pem = tunnel::make_ca("test CA", 10);
  auto ca = cert_of(pem);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_TRUE(critical(ca.get(), NID_basic_constraints));
  EXPECT_TRUE(critical(ca.get(), NID_key_usage));
  EXPECT_EQ(X509_get_key_usage(ca.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_EQ(X509_get_pathlen(ca.get()), 0);
  EXPECT_NE(X509_get0_subject_key_id(ca.get()), nullptr);
  EXPECT_EQ(verify(ca.get(), ca.get(), X509_PURPOSE_ANY), "");
  EXPECT_EQ(X509_get_signature_nid(ca.get()), NID_ecdsa_with_SHA256);
  EVP_PKEY* key = X509_get0_pubkey(ca.get());
  ASSERT_NE(key, nullptr);
  EXPECT_TRUE(EVP_PKEY_is_a(key, "EC"));
  char group[64] = {};
  EVP_PKEY_get_group_name(key, group, sizeof group, nullptr);
  EXPECT_STREQ(group, "prime256v1");
  // Backdated five minutes, then `days` days.
  EXPECT_EQ(validity_seconds(ca.get()), 10 * 86400L + 300);
  EXPECT_LT(X509_cmp_current_time(X509_get0_notBefore(ca.get())), 0);
  // The key is an unencrypted PKCS#8 key that matches.
  EXPECT_NE(pem.key.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  auto private_key = tunnel::parse_private_key(pem.key, "key");
  EXPECT_EQ(X509_check_private_key(ca.get(), private_key.get()), 1);
}

TEST(Certificates, SerialNumbersAreRandomAndPositive) {
  const auto a = cert_of(tunnel::make_ca("test CA", 1));
  const auto b = cert_of(tunnel::make_ca("test CA", 1));
  const ASN1_INTEGER* serial_a = X509_get0_serialNumber(a.get());
  const ASN1_INTEGER* serial_b = X509_get0_serialNumber(b.get());
  EXPECT_NE(ASN1_INTEGER_cmp(serial_a, serial_b), 0);
  EXPECT_EQ(ASN1_STRING_type(serial_a), V_ASN1_INTEGER) << "not negative";
  EXPECT_GE(ASN1_STRING_length(serial_a), 8);
  EXPECT_LE(ASN1_STRING_length(serial_a), 16);
}

TEST(Certificates, EdgeCertificateIsAServerCertificateForItsNames) {
  const auto ca_pem = tunnel::make_ca("test CA", 1);
  auto ca = cert_of(ca_pem);
  auto edge = cert_of(tunnel::make_edge_cert(ca_pem, {"edge.test", "*.edges.test"}, {"127.0.0.1", "::1"}, 2));
  EXPECT_EQ(alt_names(edge.get()),
            (std::vector<std::string>{"DNS:edge.test", "DNS:*.edges.test", "IP:127.0.0.1", "IP:::1"}));
  EXPECT_EQ(X509_check_ca(edge.get()), 0);
  EXPECT_TRUE(critical(edge.get(), NID_basic_constraints));
  EXPECT_EQ(X509_get_key_usage(edge.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(edge.get()), static_cast<uint32_t>(XKU_SSL_SERVER));
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(edge.get()), X509_get0_subject_key_id(ca.get())),
            0);
  EXPECT_NE(X509_get0_subject_key_id(edge.get()), nullptr);
  EXPECT_EQ(validity_seconds(edge.get()), 2 * 86400L + 300);
  EXPECT_EQ(verify(edge.get(), ca.get(), X509_PURPOSE_SSL_SERVER), "");
  EXPECT_EQ(verify(edge.get(), ca.get(), X509_PURPOSE_SSL_CLIENT), "unsuitable certificate purpose");
  EXPECT_EQ(X509_check_host(edge.get(), "edge.test", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(edge.get(), "a.edges.test", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(edge.get(), "127.0.0.1", 0), 1);
}

TEST(Certificates, ConnectorCertificateIsAClientCertificateWithItsIdentity) {
  const auto ca_pem = tunnel::make_ca("test CA", 1);
  auto ca = cert_of(ca_pem);
  auto connector = cert_of(tunnel::make_connector_cert(ca_pem, {"acme", "berlin"}, 1));
  EXPECT_EQ(alt_names(connector.get()), (std::vector<std::string>{"URI:gatewayd://connector/acme/berlin"}));
  EXPECT_EQ(X509_get_extended_key_usage(connector.get()), static_cast<uint32_t>(XKU_SSL_CLIENT));
  EXPECT_EQ(X509_get_key_usage(connector.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(verify(connector.get(), ca.get(), X509_PURPOSE_SSL_CLIENT), "");
  EXPECT_EQ(verify(connector.get(), ca.get(), X509_PURPOSE_SSL_SERVER), "unsuitable certificate purpose");

  auto default_location = cert_of(tunnel::make_connector_cert(ca_pem, {"acme", ""}, 1));
  EXPECT_EQ(alt_names(default_location.get()), (std::vector<std::string>{"URI:gatewayd://connector/acme/"}));
}

TEST(Certificates, RefusesBadInput) {
  const auto ca = tunnel::make_ca("test CA", 1);
  EXPECT_EQ(mint_error([] { tunnel::make_ca("test CA", 0); }),
            "certificate validity must be 1 to 36500 days, got 0");
  EXPECT_NE(mint_error([] { tunnel::make_ca("test CA", 36501); }).find("got 36501"), std::string::npos);
  EXPECT_NE(mint_error([] { tunnel::make_ca("", 1); }).find("common name"), std::string::npos);
  EXPECT_EQ(mint_error([&] { tunnel::make_edge_cert(ca, {}, {}, 1); }),
            "an edge certificate needs at least one DNS name or IP address");
  // Names are never parsed as OpenSSL configuration: a comma cannot smuggle in an identity.
  for (const std::string& name :
       std::vector<std::string>{"edge.test,URI:gatewayd://connector/evil/", "bad_name.test", "-edge.test",
                                "edge-.test", "a..test", "edge.test.", "", "*", "a.*.test", "ed ge.test",
                                std::string(64, 'a') + ".test", std::string(254, 'a')}) {
    EXPECT_NE(mint_error([&] { tunnel::make_edge_cert(ca, {name}, {}, 1); }).find("invalid DNS name"),
              std::string::npos)
        << name;
  }
  for (const std::string& ip :
       std::vector<std::string>{"300.1.1.1", "localhost", "", "1.2.3.4/8", "::1,DNS:x"}) {
    EXPECT_NE(
        mint_error([&] { tunnel::make_edge_cert(ca, {"edge.test"}, {ip}, 1); }).find("invalid IP address"),
        std::string::npos)
        << ip;
  }
  EXPECT_NE(mint_error([&] {
              tunnel::make_connector_cert(ca, {"Acme", ""}, 1);
            }).find("invalid tenant \"Acme\""),
            std::string::npos);
  EXPECT_NE(mint_error([&] {
              tunnel::make_connector_cert(ca, {"acme", "a/b"}, 1);
            }).find("invalid location \"a/b\""),
            std::string::npos);
}

TEST(Certificates, RefusesABadCa) {
  const auto ca = tunnel::make_ca("test CA", 1);
  const auto other = tunnel::make_ca("other CA", 1);
  const auto edge = tunnel::make_edge_cert(ca, {"edge.test"}, {}, 1);
  EXPECT_EQ(mint_error([&] {
              tunnel::make_connector_cert(edge, {"acme", ""}, 1);
            }),
            "the CA certificate is not a CA certificate (no basicConstraints CA:TRUE)");
  EXPECT_EQ(mint_error([&] {
              tunnel::make_connector_cert({ca.cert, other.key}, {"acme", ""}, 1);
            }),
            "the CA certificate and the CA key do not match");
  EXPECT_NE(mint_error([&] {
              tunnel::make_connector_cert({"", ca.key}, {"acme", ""}, 1);
            }).find("cannot read CA certificate: no certificate found"),
            std::string::npos);
}

// ---- gatewayd certs ---------------------------------------------------------------------------------

namespace {

struct Run {
  int code;
  std::string out;
  std::string err;
};

Run certs(std::vector<std::string> args) {
  args.insert(args.begin(), "certs");
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const int code = cli::command_certs(static_cast<int>(argv.size()), argv.data());
  Run run{code, ::testing::internal::GetCapturedStdout(), ::testing::internal::GetCapturedStderr()};
  return run;
}

unsigned mode_of(const fs::path& file) {
  struct stat st {};
  EXPECT_EQ(::stat(file.c_str(), &st), 0) << file;
  return st.st_mode & 0777;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST(CertsCommand, CreatesACaEdgeAndConnector) {
  gw::testing::TempDir dir;
  const std::string ca_dir = (dir.path() / "ca").string();
  const std::string out = (dir.path() / "out").string();

  auto run = certs({"ca", "--out", ca_dir, "--days", "30"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(has(run.out, "wrote " + ca_dir + "/ca.pem")) << run.out;
  EXPECT_TRUE(has(run.out, "wrote " + ca_dir + "/ca.key")) << run.out;
  EXPECT_EQ(mode_of(ca_dir + "/ca.key"), 0600u);
  EXPECT_EQ(mode_of(ca_dir + "/ca.pem") & 0600u, 0600u);

  run = certs({"edge", "--ca", ca_dir, "--out", out, "--name", "edge.test", "--name=edge2.test", "--ip",
               "127.0.0.1"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(has(run.out, "DNS:edge.test, DNS:edge2.test, IP:127.0.0.1")) << run.out;
  EXPECT_EQ(mode_of(out + "/edge.key"), 0600u);
  const tunnel::Pem edge{gw::testing::read_file(out + "/edge.pem"),
                         gw::testing::read_file(out + "/edge.key")};
  auto edge_cert = cert_of(edge);
  EXPECT_EQ(alt_names(edge_cert.get()),
            (std::vector<std::string>{"DNS:edge.test", "DNS:edge2.test", "IP:127.0.0.1"}));
  EXPECT_EQ(validity_seconds(edge_cert.get()), 825 * 86400L + 300);

  run = certs({"connector", "--ca", ca_dir, "--out", out, "--tenant", "acme", "--location", "berlin",
               "--file-prefix", "conn-berlin"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(has(run.out, "gatewayd://connector/acme/berlin")) << run.out;
  EXPECT_EQ(mode_of(out + "/conn-berlin.key"), 0600u);
  std::string error;
  auto identity = tunnel::identity_from_certificate_file(out + "/conn-berlin.pem", error);
  ASSERT_TRUE(identity) << error;
  EXPECT_EQ(*identity, (tunnel::ConnectorIdentity{"acme", "berlin"}));
  // Signed by the CA in ca_dir.
  auto ca = tunnel::parse_certificates(gw::testing::read_file(ca_dir + "/ca.pem"), "ca");
  auto connector = tunnel::parse_certificates(gw::testing::read_file(out + "/conn-berlin.pem"), "connector");
  EXPECT_EQ(verify(connector.front().get(), ca.front().get(), X509_PURPOSE_SSL_CLIENT), "");

  run = certs({"connector", "--ca", ca_dir, "--out", out, "--tenant", "acme"});
  ASSERT_EQ(run.code, 0) << run.err;
  identity = tunnel::identity_from_certificate_file(out + "/connector.pem", error);
  ASSERT_TRUE(identity) << error;
  EXPECT_EQ(identity->location, "");
}

// The serial numbers a CRL lists, after checking that `ca` signed it.
std::vector<std::string> revoked_serials(const std::string& crl_pem, const std::string& ca_pem) {
  auto crls = tunnel::parse_crls(crl_pem, "crl");
  auto ca = tunnel::parse_certificates(ca_pem, "ca");
  EXPECT_EQ(crls.size(), 1u);
  EXPECT_EQ(X509_CRL_verify(crls.front().get(), X509_get0_pubkey(ca.front().get())), 1);
  std::vector<std::string> serials;
  STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crls.front().get());
  for (int i = 0; i < sk_X509_REVOKED_num(entries); ++i) {
    BIGNUM* number =
        ASN1_INTEGER_to_BN(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(entries, i)), nullptr);
    char* hex = BN_bn2hex(number);
    serials.emplace_back(hex);
    OPENSSL_free(hex);
    BN_free(number);
  }
  std::sort(serials.begin(), serials.end());
  return serials;
}

std::string serial_of(const std::string& cert_pem) {
  auto cert = tunnel::parse_certificates(cert_pem, "cert");
  BIGNUM* number = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.front().get()), nullptr);
  char* hex = BN_bn2hex(number);
  std::string out = hex;
  OPENSSL_free(hex);
  BN_free(number);
  return out;
}

TEST(CertsCommand, RevokesIntoACrlThatKeepsWhatItListedBefore) {
  gw::testing::TempDir dir;
  const std::string ca_dir = (dir.path() / "ca").string();
  ASSERT_EQ(certs({"ca", "--out", ca_dir}).code, 0);
  for (const char* prefix : {"first", "second"}) {
    ASSERT_EQ(
        certs({"connector", "--ca", ca_dir, "--out", ca_dir, "--tenant", "acme", "--file-prefix", prefix})
            .code,
        0);
  }
  const std::string ca = gw::testing::read_file(ca_dir + "/ca.pem");
  const std::string first = serial_of(gw::testing::read_file(ca_dir + "/first.pem"));
  const std::string second = serial_of(gw::testing::read_file(ca_dir + "/second.pem"));

  auto run = certs({"revoke", "--ca", ca_dir, "--cert", ca_dir + "/first.pem"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(has(run.out, "wrote " + ca_dir + "/crl.pem")) << run.out;
  EXPECT_EQ(revoked_serials(gw::testing::read_file(ca_dir + "/crl.pem"), ca),
            std::vector<std::string>{first});

  // A second revocation adds to the first; one already listed is listed once.
  run = certs({"revoke", "--ca", ca_dir, "--cert", ca_dir + "/second.pem", "--cert", ca_dir + "/first.pem",
               "--days", "7"});
  ASSERT_EQ(run.code, 0) << run.err;
  auto both = std::vector<std::string>{first, second};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(revoked_serials(gw::testing::read_file(ca_dir + "/crl.pem"), ca), both);
  // Issued again without --cert: the same list.
  ASSERT_EQ(certs({"revoke", "--ca", ca_dir}).code, 0);
  EXPECT_EQ(revoked_serials(gw::testing::read_file(ca_dir + "/crl.pem"), ca), both);

  // Another CA's certificate, or its CRL, is refused, and the CRL is left as it was.
  const std::string other_dir = (dir.path() / "other").string();
  ASSERT_EQ(certs({"ca", "--out", other_dir}).code, 0);
  run = certs({"revoke", "--ca", other_dir, "--cert", ca_dir + "/first.pem", "--out", ca_dir + "/crl.pem"});
  EXPECT_EQ(run.code, 1);
  EXPECT_TRUE(has(run.err, "the CRL " + ca_dir + "/crl.pem was not issued by this CA")) << run.err;
  run = certs({"revoke", "--ca", other_dir, "--cert", ca_dir + "/first.pem"});
  EXPECT_EQ(run.code, 1);
  EXPECT_TRUE(has(run.err, ca_dir + "/first.pem was not issued by this CA")) << run.err;
  EXPECT_EQ(revoked_serials(gw::testing::read_file(ca_dir + "/crl.pem"), ca), both);
}

TEST(CertsCommand, RefusesToOverwriteWithoutForce) {
  gw::testing::TempDir dir;
  const std::string out = dir.path().string();
  ASSERT_EQ(certs({"ca", "--out", out}).code, 0);
  const std::string first = gw::testing::read_file(out + "/ca.key");

  auto run = certs({"ca", "--out", out});
  EXPECT_EQ(run.code, 1);
  EXPECT_TRUE(
      has(run.err, out + "/ca.pem and " + out + "/ca.key already exist (use --force to replace them)"))
      << run.err;
  EXPECT_EQ(gw::testing::read_file(out + "/ca.key"), first);

  // Only one of the two exists: still nothing is written.
  fs::remove(out + "/ca.pem");
  run = certs({"ca", "--out", out});
  EXPECT_EQ(run.code, 1);
  EXPECT_TRUE(has(run.err, out + "/ca.key already exists (use --force to replace it)")) << run.err;
  EXPECT_FALSE(fs::exists(out + "/ca.pem"));

  // --force replaces, and a replaced key is 0600 even if the old file was not.
  ::chmod((out + "/ca.key").c_str(), 0644);
  run = certs({"ca", "--out", out, "--force"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(gw::testing::read_file(out + "/ca.key"), first);
  EXPECT_EQ(mode_of(out + "/ca.key"), 0600u);
}

TEST(CertsCommand, DoesNotWriteThroughASymlink) {
  gw::testing::TempDir dir;
  const auto target = dir.write("elsewhere", "precious");
  fs::create_symlink(target, dir.path() / "ca.key");
  auto run = certs({"ca", "--out", dir.path().string()});
  EXPECT_EQ(run.code, 1);
  EXPECT_TRUE(has(run.err, "already exists")) << run.err;
  EXPECT_EQ(gw::testing::read_file(target), "precious");
}

TEST(CertsCommand, ExplainsErrors) {
  gw::testing::TempDir dir;
  const std::string out = dir.path().string();
  const std::string no_ca = (dir.path() / "no-ca").string();

  auto run = certs({"ca"});
  EXPECT_EQ(run.code, 2);
  EXPECT_TRUE(has(run.err, "gatewayd certs ca: --out is required")) << run.err;

  run = certs({"edge", "--ca", no_ca, "--out", out, "--name", "edge.test"});
  EXPECT_EQ(run.code, 1);
  EXPECT_TRUE(has(run.err, "cannot read CA certificate " + no_ca +
                               "/ca.pem: No such file or directory "
                               "(create a CA with: gatewayd certs ca --out " +
                               no_ca + ")"))
      << run.err;

  ASSERT_EQ(certs({"ca", "--out", out}).code, 0);
  run = certs({"edge", "--ca", out, "--out", out});
  EXPECT_EQ(run.code, 2);
  EXPECT_TRUE(has(run.err, "at least one --name or --ip is required")) << run.err;

  run = certs({"edge", "--ca", out, "--out", out, "--name", "bad_name"});
  EXPECT_EQ(run.code, 1);
  EXPECT_TRUE(has(run.err, "invalid DNS name \"bad_name\"")) << run.err;

  run = certs({"connector", "--ca", out, "--out", out, "--tenant", "Acme"});
  EXPECT_EQ(run.code, 2);
  EXPECT_TRUE(has(run.err,
                  "invalid --tenant 'Acme': a tenant is 1-64 lower-case letters, digits, '_' or '-', "
                  "starting with a letter or digit"))
      << run.err;

  run = certs({"connector", "--ca", out, "--out", out, "--tenant", "acme", "--location", "a b"});
  EXPECT_EQ(run.code, 2);
  EXPECT_TRUE(has(run.err, "invalid --location 'a b'")) << run.err;

  run = certs({"connector", "--ca", out, "--out", out, "--tenant", "acme", "--file-prefix", "ca"});
  EXPECT_EQ(run.code, 2);
  EXPECT_TRUE(has(run.err, "it is the CA's own file")) << run.err;

  run = certs({"connector", "--ca", out + "/ca.pem", "--out", out, "--tenant", "acme"});
  EXPECT_EQ(run.code, 2);
  EXPECT_TRUE(has(run.err, "--ca expects the directory holding ca.pem and ca.key")) << run.err;

  run = certs({"ca", "--out", out, "--days", "ten"});
  EXPECT_EQ(run.code, 2);
  EXPECT_TRUE(has(run.err, "--days must be a whole number from 1 to 36500, got 'ten'")) << run.err;

  run = certs({"ca", "--out", out, "--tenant", "acme"});
  EXPECT_EQ(run.code, 2);
  EXPECT_TRUE(has(run.err, "unknown option '--tenant'")) << run.err;

  run = certs({"ca", "--out"});
  EXPECT_EQ(run.code, 2);
  EXPECT_TRUE(has(run.err, "--out needs a value")) << run.err;

  run = certs({"ca", "--out", out, "--out", out});
  EXPECT_EQ(run.code, 2);
  EXPECT_TRUE(has(run.err, "--out is given more than once")) << run.err;

  run = certs({"server"});
  EXPECT_EQ(run.code, 2);
  EXPECT_TRUE(has(run.err, "unknown command 'server'")) << run.err;

  run = certs({});
  EXPECT_EQ(run.code, 2);
  EXPECT_TRUE(has(run.err, "usage: gatewayd certs COMMAND")) << run.err;
}

TEST(CertsCommand, PrintsHelp) {
  for (const char* command : {"ca", "edge", "connector"}) {
    auto run = certs({command, "--help"});
    EXPECT_EQ(run.code, 0);
    EXPECT_TRUE(has(run.out, std::string("usage: gatewayd certs ") + command)) << run.out;
    EXPECT_TRUE(run.err.empty()) << run.err;
  }
  auto run = certs({"--help"});
  EXPECT_EQ(run.code, 0);
  EXPECT_TRUE(has(run.out, "usage: gatewayd certs COMMAND")) << run.out;
}
