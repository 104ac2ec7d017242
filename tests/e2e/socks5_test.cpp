// The edge's SOCKS5 entry point in front of the tunnel: a client authenticates (RFC 1929 user and
// password, or the JWT + location method 0x80), which gives its tenant and location, and CONNECTs to a
// virtual host. The reply code says what became of the stream: 00 through, 02 denied by the
// connector's allowlist, 03 no connector for that location, 04 the internal system is down. curl, an
// off-the-shelf client, works through it; and so does a standalone gateway, both roles in one process.
#include <gtest/gtest.h>

#include <chrono>

#include "support/checks.hpp"
#include "support/client.hpp"
#include "support/gateway_process.hpp"
#include "support/peers.hpp"
#include "support/record.hpp"
#include "support/socks_client.hpp"
#include "support/temp_dir.hpp"
#include "support/transfer.hpp"
#include "support/tunnel_pair.hpp"

namespace gw::e2e {
namespace {

constexpr std::size_t kMiB = 1024 * 1024;
constexpr const char* kJwtSecret = "an HS256 secret of at least 32 bytes, for tests only";
constexpr const char* kAudience = "gateway";

// The SOCKS5 section used below: password users of tenant acme, and JWTs signed with kJwtSecret.
Socks5Spec socks5_section() {
  Socks5Spec socks;
  socks.auth = {"password", "jwt"};
  socks.users = {{.username = "app1", .password = "s3cret", .tenant = "acme"}};
  socks.jwt = std::string("{algorithm: HS256, secret: \"") + kJwtSecret + "\", audience: " + kAudience + "}";
  return socks;
}

// An edge with that SOCKS5 entry point, and a connector of acme with the given allowlist.
TunnelPair socks_pair(std::vector<SystemSpec> systems, const std::string& location = "",
                      Socks5Spec socks = socks5_section()) {
  EdgeSpec edge;
  edge.socks5 = std::move(socks);
  ConnectorSpec connector;
  connector.location = location;
  connector.systems = std::move(systems);
  return TunnelPair(edge, connector);
}

SystemSpec system(const std::string& host, std::uint16_t internal_port, const std::string& port = "80") {
  return {.virtual_host = host, .virtual_port = port, .internal_port = internal_port};
}

// A token for tenant `tenant`, audience `audience`, expiring `ttl` from now (negative: already expired).
std::string token(const std::string& secret, const std::string& tenant = "acme",
                  const std::string& audience = kAudience,
                  std::chrono::seconds ttl = std::chrono::seconds(300)) {
  return gw::testing::mint_hs256(gw::testing::jwt_claims(tenant, audience, ttl, "alice"), secret);
}

using gw::testing::SocksAuth;
using gw::testing::SocksClient;

SocksAuth app1() {
  return SocksAuth::with_password("app1", "s3cret");
}

TEST(Socks5, PasswordUserReachesTheBackendThroughTheTunnel) {
  EchoServer echo;
  TunnelPair pair = socks_pair({system("app.corp", echo.port())});
  ASSERT_TRUE(pair.start());

  SocksClient client(pair.edge().socks_port());
  auto result = client.connect(app1(), "app.corp", 80);
  ASSERT_EQ(result.reply, 0x00) << result.error;
  EXPECT_TRUE(socks_echo_transfer(client, 8 * kMiB, 51));

  auto admitted = pair.connector().wait_for_audit(audit_event("tunnel.stream", {{"outcome", "allowed"}}));
  ASSERT_EQ(admitted.size(), 1u);
  EXPECT_EQ(admitted[0].get("virtual_host"), "app.corp");
  EXPECT_EQ(admitted[0].get("virtual_port"), "80");
  EXPECT_EQ(admitted[0].get("tenant"), "acme");
}

TEST(Socks5, VirtualHostNotOnTheAllowlistIsRepliedNotAllowedAndAudited) {
  EchoServer echo;
  TunnelPair pair = socks_pair({system("app.corp", echo.port())});
  ASSERT_TRUE(pair.start());

  SocksClient client(pair.edge().socks_port());
  auto result = client.connect(app1(), "db.corp", 5432);
  EXPECT_EQ(result.auth_status, 0x00);
  EXPECT_EQ(result.reply, 0x02) << result.error;
  EXPECT_TRUE(client.wait_closed());
  auto denied = pair.connector().wait_for_audit(audit_event("tunnel.stream", {{"outcome", "denied"}}));
  ASSERT_EQ(denied.size(), 1u);
  EXPECT_EQ(denied[0].get("class"), "security");
  EXPECT_EQ(denied[0].get("virtual_host"), "db.corp");
  EXPECT_EQ(denied[0].get("virtual_port"), "5432");
  EXPECT_EQ(denied[0].get("tenant"), "acme");
  EXPECT_NE(denied[0].get("reason"), "");
  EXPECT_EQ(echo.accepted(), 0u);
}

TEST(Socks5, InternalSystemDownIsRepliedHostUnreachable) {
  RefusingPort down;
  TunnelPair pair = socks_pair({system("down.corp", down.port())});
  ASSERT_TRUE(pair.start());

  SocksClient client(pair.edge().socks_port());
  auto result = client.connect(app1(), "down.corp", 80);
  EXPECT_EQ(result.auth_status, 0x00);
  EXPECT_EQ(result.reply, 0x04) << result.error;
  EXPECT_TRUE(client.wait_closed());

  // The allowlist admitted the stream; connecting to the system is what failed.
  auto admitted =
      pair.connector().wait_for_audit(audit_event("tunnel.stream", {{"virtual_host", "down.corp"}}));
  ASSERT_EQ(admitted.size(), 1u);
  EXPECT_EQ(admitted[0].get("outcome"), "allowed");
  auto failed = pair.connector().wait_for_audit(audit_event("tcp.connection"));
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].get("outcome"), "connect_failed");
  EXPECT_TRUE(contains_nocase(failed[0].get("reason"), "refused")) << failed[0].line;
  EXPECT_EQ(failed[0].get("target"), down.address());
  EXPECT_EQ(failed[0].get("request_id"), admitted[0].get("request_id"));
}

TEST(Socks5, JwtMethodReachesItsLocationAndUnknownLocationIsRepliedNetworkUnreachable) {
  EchoServer echo;
  TunnelPair pair = socks_pair({system("app.corp", echo.port())}, "berlin");
  ASSERT_TRUE(pair.start());
  const std::uint16_t port = pair.edge().socks_port();

  SocksClient client(port);
  auto result = client.connect(SocksAuth::with_jwt(token(kJwtSecret), "berlin"), "app.corp", 80);
  ASSERT_EQ(result.reply, 0x00) << result.error;
  EXPECT_TRUE(socks_echoes(client, "through location berlin with a JWT"));
  auto admitted = pair.connector().wait_for_audit(audit_event("tunnel.stream", {{"outcome", "allowed"}}));
  ASSERT_EQ(admitted.size(), 1u);
  EXPECT_EQ(admitted[0].get("location"), "berlin");

  // The only connector is at berlin: neither another location nor the default one has a connector.
  for (const char* location : {"nowhere", ""}) {
    SCOPED_TRACE(std::string("location '") + location + "'");
    SocksClient elsewhere(port);
    auto refused = elsewhere.connect(SocksAuth::with_jwt(token(kJwtSecret), location), "app.corp", 80);
    EXPECT_EQ(refused.auth_status, 0x00);
    EXPECT_EQ(refused.reply, 0x03) << refused.error;
    EXPECT_TRUE(elsewhere.wait_closed());
  }
  EXPECT_EQ(echo.accepted(), 1u);
}

TEST(Socks5, Rs256TokensAreVerifiedWithTheConfiguredPublicKeyOnly) {
  EchoServer echo;
  const auto key = gw::testing::generate_rsa_key_pair();
  const auto other_key = gw::testing::generate_rsa_key_pair();
  TempDir keys;
  const auto public_key_file = keys.write("jwt-pub.pem", key.public_pem);
  Socks5Spec socks;
  socks.auth = {"jwt"};
  socks.jwt = "{algorithm: RS256, public_key_file: \"" + public_key_file.string() +
              "\", audience: " + kAudience + "}";
  TunnelPair pair = socks_pair({system("app.corp", echo.port())}, "", socks);
  ASSERT_TRUE(pair.start());
  const std::uint16_t port = pair.edge().socks_port();
  const std::string claims = gw::testing::jwt_claims("acme", kAudience);

  SocksClient client(port);
  auto result =
      client.connect(SocksAuth::with_jwt(gw::testing::mint_rs256(claims, key.private_pem)), "app.corp", 80);
  ASSERT_EQ(result.reply, 0x00) << result.error;
  EXPECT_TRUE(socks_echoes(client, "RS256"));

  struct Case {
    const char* what;
    std::string jwt;
  };
  const std::vector<Case> cases = {
      {"signed with another key", gw::testing::mint_rs256(claims, other_key.private_pem)},
      // The classic confusion: the public key used as an HS256 secret.
      {"HS256 keyed with the public key", gw::testing::mint_hs256(claims, key.public_pem)},
      {"alg none", gw::testing::mint_with_header(R"({"alg":"none","typ":"JWT"})", claims, "")},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    SocksClient refused(port);
    auto attempt = refused.connect(SocksAuth::with_jwt(c.jwt), "app.corp", 80);
    EXPECT_GT(attempt.auth_status, 0x00) << "the token was accepted; " << attempt.error;
    EXPECT_TRUE(refused.wait_closed());
  }
  EXPECT_EQ(echo.accepted(), 1u);
}

TEST(Socks5, BadJwtFailsAuthenticationAndClosesTheConnection) {
  EchoServer echo;
  TunnelPair pair = socks_pair({system("app.corp", echo.port())});
  ASSERT_TRUE(pair.start());
  const std::uint16_t port = pair.edge().socks_port();

  struct Case {
    const char* what;
    std::string jwt;
  };
  const std::vector<Case> cases = {
      {"wrong signature", token("another secret, also at least 32 bytes long")},
      {"expired", token(kJwtSecret, "acme", kAudience, -std::chrono::hours(1))},
      {"wrong audience", token(kJwtSecret, "acme", "someone-else")},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    SocksClient client(port);
    auto result = client.connect(SocksAuth::with_jwt(c.jwt), "app.corp", 80);
    EXPECT_EQ(result.method, 0x80);
    EXPECT_GT(result.auth_status, 0x00) << "the token was accepted; " << result.error;
    EXPECT_EQ(result.reply, -1) << "the server answered a request after a failed authentication";
    EXPECT_TRUE(client.wait_closed()) << "the server did not close after the failed authentication";
  }
  auto refused = pair.edge().wait_for_audit(audit_event("socks5.authentication", {{"outcome", "refused"}}),
                                            cases.size());
  EXPECT_EQ(refused.size(), cases.size());
  for (const auto& record : refused) EXPECT_EQ(record.get("class"), "security");
  EXPECT_EQ(echo.accepted(), 0u);
  for (const auto& record : pair.connector().audit_records()) {
    EXPECT_FALSE(audit_event("tunnel.stream")(record)) << "a stream reached the connector: " << record.line;
  }
}

TEST(Socks5, CurlWithUserAndPasswordFetchesFromAnInternalSystem) {
  // The internal system is the edge's own admin listener, as in config/quickstart.yaml; the connector
  // is started after the edge, so its port is known.
  TunnelSetup setup;
  ASSERT_TRUE(setup.create_certificates());
  ASSERT_TRUE(setup.create_connector_certificate("connector", "acme"));
  GatewayProcess& edge = setup.start_edge(EdgeSpec{.socks5 = socks5_section()});
  ASSERT_TRUE(edge.wait_ready());
  ConnectorSpec spec;
  spec.edge_ports = {edge.tunnel_port()};
  spec.systems.push_back(system("admin.internal", edge.admin_port()));
  GatewayProcess& connector = setup.start_connector(spec);
  ASSERT_TRUE(connector.wait_ready());
  ASSERT_TRUE(wait_connected(edge, 2));

  CommandResult ok = curl_through_socks(edge.socks_port(), "app1:s3cret", "http://admin.internal/healthz");
  ASSERT_TRUE(ok.status);
  EXPECT_TRUE(ok.status->success()) << *ok.status << "\n" << ok.err;
  EXPECT_EQ(ok.out, "ok\n");
  // The connector learns who the edge authenticated.
  auto allowed = connector.wait_for_audit(audit_event("tunnel.stream", {{"outcome", "allowed"}}));
  ASSERT_EQ(allowed.size(), 1u);
  EXPECT_EQ(allowed[0].get("principal"), "app1");

  CommandResult wrong =
      curl_through_socks(edge.socks_port(), "app1:Xyzzy-not-it", "http://admin.internal/healthz");
  ASSERT_TRUE(wrong.status);
  EXPECT_FALSE(wrong.status->success()) << "curl got through with a wrong password: " << wrong.out;
  EXPECT_EQ(wrong.out, "");
  auto refused = edge.wait_for_audit(audit_event("socks5.authentication", {{"outcome", "refused"}}));
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].line.find("Xyzzy"), std::string::npos)
      << "the audit record must not quote the password: " << refused[0].line;

  CommandResult denied =
      curl_through_socks(edge.socks_port(), "app1:s3cret", "http://admin.internal:81/healthz");
  ASSERT_TRUE(denied.status);
  EXPECT_FALSE(denied.status->success()) << "a port not on the allowlist was reached";
}

TEST(Socks5, StandaloneGatewayServesEntryPointAndSocksThroughItsInProcessTunnel) {
  EchoServer echo;
  GatewayProcess gateway(std::string(R"(node:
  name: standalone
  role: standalone
log:
  level: info
audit:
  level: all
  file: audit.log
admin:
  listen: 127.0.0.1:0
connector:
  tenant: acme
  location_id: ""
systems:
  - virtual_host: app.corp
    virtual_port: 80
    internal_host: 127.0.0.1
    internal_port: )") + std::to_string(echo.port()) +
                         R"(
    route_type: tcp
destinations:
  - name: demo
    route_type: tcp
    address: app.corp:80
    proxy_type: on_premise
    tenant: acme
    entry_point: {listen: 127.0.0.1:0}
socks5:
  listen: 127.0.0.1:0
  auth: [password]
  users:
    - {username: app1, password: s3cret, tenant: acme}
)");
  ASSERT_TRUE(gateway.wait_ready());
  ASSERT_TRUE(gateway.wait_for_log(connector_connected())) << "the in-process connector did not connect";

  {
    TcpClient client(gateway.port("demo"));
    EchoTransfer transfer(client, 16 * kMiB, 52);
    EchoTransfer::Result result = transfer.finish();
    EXPECT_EQ(result.error, "");
    EXPECT_EQ(result.end, End::eof);
    EXPECT_EQ(result.received, 16 * kMiB);
    EXPECT_EQ(result.received_sha256, result.sent_sha256);
  }
  SocksClient client(gateway.socks_port());
  auto result = client.connect(app1(), "app.corp", 80);
  ASSERT_EQ(result.reply, 0x00) << result.error;
  EXPECT_TRUE(socks_echoes(client, "standalone socks"));
  SocksClient other(gateway.socks_port());
  EXPECT_EQ(other.connect(app1(), "db.corp", 5432).reply, 0x02);

  EXPECT_EQ(gateway.wait_for_audit(audit_event("tunnel.stream", {{"outcome", "allowed"}}), 2).size(), 2u);
  EXPECT_EQ(gateway.wait_for_audit(audit_event("tunnel.stream", {{"outcome", "denied"}})).size(), 1u);
}

}  // namespace
}  // namespace gw::e2e
