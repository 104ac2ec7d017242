// `gatewayd certs`: the CA, edge and connector files it writes (private keys readable by the owner
// only), what the certificates say (checked with the openssl command line), refusal to overwrite, and
// errors for names that cannot be a tenant or location. That an edge and a connector accept each
// other's certificates is shown by every tunnel test; one is repeated here.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "support/checks.hpp"
#include "support/child_process.hpp"
#include "support/client.hpp"
#include "support/gateway_process.hpp"
#include "support/peers.hpp"
#include "support/temp_dir.hpp"
#include "support/tunnel_pair.hpp"

namespace gw::e2e {
namespace {

namespace fs = std::filesystem;

unsigned permissions(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

CommandResult certs(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"certs"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_gatewayd(argv);
}

// `openssl ARGS...`: its output, or nullopt if it failed.
std::optional<std::string> openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess process(argv);
  auto status = process.wait_for_exit();
  if (!status || !status->success()) return std::nullopt;
  return process.text();
}

::testing::AssertionResult failed_with_message(const CommandResult& result) {
  if (!result.status) return ::testing::AssertionFailure() << "did not finish";
  if (result.status->success()) return ::testing::AssertionFailure() << "succeeded: " << result.out;
  if (result.err.empty()) return ::testing::AssertionFailure() << "failed without a message on stderr";
  return ::testing::AssertionSuccess() << result.err;
}

class Certs : public ::testing::Test {
 protected:
  fs::path ca_dir() const { return dir_.path() / "ca"; }
  fs::path out_dir() const { return dir_.path() / "out"; }
  ::testing::AssertionResult make_ca() { return run_certs({"ca", "--out", ca_dir().string()}); }

  TempDir dir_;
};

TEST_F(Certs, CaWritesCertificateAndOwnerOnlyKey) {
  ASSERT_TRUE(make_ca());
  ASSERT_TRUE(fs::is_regular_file(ca_dir() / "ca.pem"));
  ASSERT_TRUE(fs::is_regular_file(ca_dir() / "ca.key"));
  EXPECT_EQ(permissions(ca_dir() / "ca.key"), 0600u);
  EXPECT_EQ(permissions(ca_dir() / "ca.pem") & 0022u, 0u) << "the certificate is writable by others";

  auto text = openssl({"x509", "-in", (ca_dir() / "ca.pem").string(), "-noout", "-ext", "basicConstraints"});
  ASSERT_TRUE(text) << "openssl cannot read ca.pem";
  EXPECT_NE(text->find("CA:TRUE"), std::string::npos) << *text;
  EXPECT_TRUE(openssl({"pkey", "-in", (ca_dir() / "ca.key").string(), "-noout"})) << "ca.key is not a key";
}

TEST_F(Certs, EdgeCertificateNamesItsHostsAndChainsToTheCa) {
  ASSERT_TRUE(make_ca());
  ASSERT_TRUE(run_certs({"edge", "--ca", ca_dir().string(), "--out", out_dir().string(), "--name",
                         "edge.test", "--name", "localhost", "--ip", "127.0.0.1"}));
  EXPECT_EQ(permissions(out_dir() / "edge.key"), 0600u);
  auto sans = openssl({"x509", "-in", (out_dir() / "edge.pem").string(), "-noout", "-ext", "subjectAltName"});
  ASSERT_TRUE(sans);
  EXPECT_NE(sans->find("DNS:edge.test"), std::string::npos) << *sans;
  EXPECT_NE(sans->find("DNS:localhost"), std::string::npos) << *sans;
  EXPECT_NE(sans->find("IP Address:127.0.0.1"), std::string::npos) << *sans;
  EXPECT_TRUE(
      openssl({"verify", "-CAfile", (ca_dir() / "ca.pem").string(), (out_dir() / "edge.pem").string()}))
      << "edge.pem does not verify against ca.pem";
}

TEST_F(Certs, ConnectorCertificateCarriesTenantAndLocation) {
  ASSERT_TRUE(make_ca());
  ASSERT_TRUE(run_certs({"connector", "--ca", ca_dir().string(), "--out", out_dir().string(), "--tenant",
                         "acme", "--location", "berlin"}));
  ASSERT_TRUE(run_certs({"connector", "--ca", ca_dir().string(), "--out", out_dir().string(), "--tenant",
                         "acme", "--file-prefix", "default-location"}));
  for (const char* prefix : {"connector", "default-location"}) {
    SCOPED_TRACE(prefix);
    EXPECT_EQ(permissions(out_dir() / (std::string(prefix) + ".key")), 0600u);
    EXPECT_TRUE(openssl({"verify", "-CAfile", (ca_dir() / "ca.pem").string(),
                         (out_dir() / (std::string(prefix) + ".pem")).string()}));
  }
  auto sans =
      openssl({"x509", "-in", (out_dir() / "connector.pem").string(), "-noout", "-ext", "subjectAltName"});
  ASSERT_TRUE(sans);
  EXPECT_NE(sans->find("URI:gatewayd://connector/acme/berlin"), std::string::npos) << *sans;
  sans = openssl(
      {"x509", "-in", (out_dir() / "default-location.pem").string(), "-noout", "-ext", "subjectAltName"});
  ASSERT_TRUE(sans);
  EXPECT_NE(sans->find("URI:gatewayd://connector/acme/\n"), std::string::npos) << *sans;
}

TEST_F(Certs, ExistingFilesAreNeverOverwritten) {
  ASSERT_TRUE(make_ca());
  const std::string ca_cert = read_file(ca_dir() / "ca.pem");
  const std::string ca_key = read_file(ca_dir() / "ca.key");
  CommandResult again = certs({"ca", "--out", ca_dir().string()});
  EXPECT_TRUE(failed_with_message(again));
  EXPECT_NE(again.err.find("already exist"), std::string::npos) << again.err;
  EXPECT_EQ(read_file(ca_dir() / "ca.pem"), ca_cert);
  EXPECT_EQ(read_file(ca_dir() / "ca.key"), ca_key);

  // Only the key exists: nothing is written, not even the missing certificate.
  ASSERT_TRUE(fs::create_directories(out_dir()));
  { std::ofstream(out_dir() / "connector.key") << "precious"; }
  CommandResult connector =
      certs({"connector", "--ca", ca_dir().string(), "--out", out_dir().string(), "--tenant", "acme"});
  EXPECT_TRUE(failed_with_message(connector));
  EXPECT_EQ(read_file(out_dir() / "connector.key"), "precious");
  EXPECT_FALSE(fs::exists(out_dir() / "connector.pem"));
}

TEST_F(Certs, BadTenantOrLocationIsAnErrorAndWritesNothing) {
  ASSERT_TRUE(make_ca());
  const std::vector<std::vector<std::string>> bad = {
      {"--tenant", "Acme"},                // upper case
      {"--tenant", "-acme"},               // must start with a letter or digit
      {"--tenant", ""},                    // empty
      {"--tenant", std::string(65, 'a')},  // too long
      {"--tenant", "acme/other"},          // '/' would split the identity URI
      {"--tenant", "acme", "--location", "ber/lin"},
      {"--tenant", "acme", "--location", std::string(65, 'l')},
      {"--tenant", "acme", "--location", "b e r"},
  };
  for (const auto& options : bad) {
    std::vector<std::string> args{"connector", "--ca", ca_dir().string(), "--out", out_dir().string()};
    args.insert(args.end(), options.begin(), options.end());
    CommandResult result = certs(args);
    SCOPED_TRACE(options[1] + (options.size() > 2 ? " " + options[3] : ""));
    EXPECT_TRUE(failed_with_message(result));
    EXPECT_FALSE(fs::exists(out_dir() / "connector.pem"));
    EXPECT_FALSE(fs::exists(out_dir() / "connector.key"));
  }
  // A missing --tenant, and a CA directory without a CA.
  EXPECT_TRUE(
      failed_with_message(certs({"connector", "--ca", ca_dir().string(), "--out", out_dir().string()})));
  EXPECT_TRUE(failed_with_message(certs({"connector", "--ca", (dir_.path() / "nothing").string(), "--out",
                                         out_dir().string(), "--tenant", "a"})));
  EXPECT_TRUE(failed_with_message(certs({"edge", "--ca", ca_dir().string(), "--out", out_dir().string()})))
      << "an edge certificate without any name";
}

TEST_F(Certs, CreatedCertificatesAreAcceptedByARealEdgeAndConnector) {
  EchoServer echo;
  EdgeSpec edge;
  edge.destinations.push_back(
      {.name = "demo", .address = "app.corp:80", .tenant = "acme", .location_id = "berlin"});
  ConnectorSpec connector{.tenant = "acme", .location = "berlin"};
  connector.systems.push_back(
      {.virtual_host = "app.corp", .virtual_port = "80", .internal_port = echo.port()});
  TunnelPair pair(edge, connector);
  ASSERT_TRUE(pair.start());
  auto connected = pair.edge().wait_for_log(connector_connected());
  ASSERT_TRUE(connected);
  EXPECT_EQ(connected->get("tenant"), "acme");
  EXPECT_EQ(connected->get("location"), "berlin");
  auto dialled = pair.connector().wait_for_log(log_event("tunnel_connected"));
  ASSERT_TRUE(dialled);
  EXPECT_EQ(dialled->get("tenant"), "acme");
  EXPECT_EQ(dialled->get("location"), "berlin");
  TcpClient client(pair.edge().port("demo"));
  EXPECT_TRUE(echoes(client, "signed by the CA of gatewayd certs"));
}

}  // namespace
}  // namespace gw::e2e
