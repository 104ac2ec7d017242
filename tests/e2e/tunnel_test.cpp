// The reverse tunnel end to end: a client of an edge's entry point reaches a backend through a
// connector that dialled the edge. Bytes arrive intact at volume and with hundreds of streams at once;
// the connector's allowlist, the edge's check of connector certificates and the tenant of each
// destination decide what is reachable at all.
#include <gtest/gtest.h>

#include <set>

#include "support/checks.hpp"
#include "support/client.hpp"
#include "support/digest.hpp"
#include "support/gateway_process.hpp"
#include "support/peers.hpp"
#include "support/socks_client.hpp"
#include "support/transfer.hpp"
#include "support/tunnel_pair.hpp"

namespace gw::e2e {
namespace {

constexpr std::size_t kMiB = 1024 * 1024;

// An edge whose destination "demo" is app.corp:80 of tenant acme, and a connector of acme that maps
// app.corp:80 to `backend_port`.
TunnelPair pair_to(std::uint16_t backend_port) {
  EdgeSpec edge;
  edge.destinations.push_back({.name = "demo", .address = "app.corp:80"});
  ConnectorSpec connector;
  connector.systems.push_back(
      {.virtual_host = "app.corp", .virtual_port = "80", .internal_port = backend_port});
  return TunnelPair(edge, connector);
}

TEST(Tunnel, SixtyFourMebibytesArriveIntactInBothDirections) {
  EchoServer echo;
  TunnelPair pair = pair_to(echo.port());
  ASSERT_TRUE(pair.start());

  TcpClient client(pair.edge().port("demo"));
  EchoTransfer transfer(client, 64 * kMiB, 21);
  EchoTransfer::Result result = transfer.finish();

  expect_echoed_intact(result, echo, 64 * kMiB);

  // Both sides audit the stream, under the one request id the edge gave it.
  auto edge_records = pair.edge().wait_for_audit(audit_event("tcp.connection", {{"destination", "demo"}}));
  ASSERT_EQ(edge_records.size(), 1u);
  const std::string request_id = edge_records[0].get("request_id");
  EXPECT_NE(request_id, "");
  EXPECT_EQ(edge_records[0].get("outcome"), "ok");
  EXPECT_EQ(edge_records[0].integer("bytes_up"), static_cast<std::int64_t>(64 * kMiB));
  EXPECT_EQ(edge_records[0].integer("bytes_down"), static_cast<std::int64_t>(64 * kMiB));
  auto admitted = pair.connector().wait_for_audit(audit_event("tunnel.stream", {{"outcome", "allowed"}}));
  ASSERT_EQ(admitted.size(), 1u);
  EXPECT_EQ(admitted[0].get("virtual_host"), "app.corp");
  EXPECT_EQ(admitted[0].get("virtual_port"), "80");
  EXPECT_EQ(admitted[0].get("tenant"), "acme");
  EXPECT_EQ(admitted[0].get("destination"), "demo");
  EXPECT_EQ(admitted[0].get("request_id"), request_id);
  auto relayed = pair.connector().wait_for_audit(audit_event("tcp.connection", {{"request_id", request_id}}));
  ASSERT_EQ(relayed.size(), 1u) << "no tcp.connection record on the connector for the stream";
  EXPECT_EQ(relayed[0].get("outcome"), "ok");
  EXPECT_EQ(relayed[0].get("target"), echo.address());
  EXPECT_EQ(relayed[0].integer("bytes_up"), static_cast<std::int64_t>(64 * kMiB));
}

TEST(Tunnel, FiveHundredConcurrentStreamsEachEchoTheirOwnPayload) {
  constexpr std::size_t kStreams = 500;
  // Each stream holds a descriptor in the test (client and backend side) and one or two in each
  // gatewayd; the processes started below inherit the raised limit.
  ASSERT_GE(raise_open_files_limit(4 * kStreams + 256), 2 * kStreams + 256) << "ulimit -n too small";
  EchoServer echo;
  TunnelPair pair = pair_to(echo.port());
  ASSERT_TRUE(pair.start());

  ConcurrentEchoes result = run_concurrent_echoes(pair.edge().port("demo"), kStreams, 32 * 1024);
  EXPECT_EQ(result.intact, kStreams);
  for (std::size_t i = 0; i < result.failures.size() && i < 10; ++i) ADD_FAILURE() << result.failures[i];
  EXPECT_EQ(echo.wait_for_finished(kStreams).size(), kStreams);
  EXPECT_EQ(pair.connector()
                .wait_for_audit(audit_event("tunnel.stream", {{"outcome", "allowed"}}), kStreams)
                .size(),
            kStreams);
}

TEST(Tunnel, AllowlistAdmitsListedSystemsOnlyAndAuditsEachDenial) {
  EchoServer echo;
  EdgeSpec edge;
  edge.destinations = {
      {.name = "ranged", .address = "app.corp:7001"},     // second port of a mapped range
      {.name = "unlisted", .address = "secret.corp:22"},  // no system at all
      {.name = "outside", .address = "app.corp:7002"},    // just past the range
      {.name = "disabled", .address = "off.corp:80"},     // a system with enabled: false
  };
  ConnectorSpec connector;
  // 7000-7001 maps port by port onto echo-1 .. echo: 7001 reaches the echo server.
  connector.systems = {
      {.virtual_host = "app.corp",
       .virtual_port = "7000-7001",
       .internal_port = std::uint16_t(echo.port() - 1)},
      {.virtual_host = "off.corp", .virtual_port = "80", .internal_port = echo.port(), .enabled = false},
  };
  TunnelPair pair(edge, connector);
  ASSERT_TRUE(pair.start());

  {
    TcpClient client(pair.edge().port("ranged"));
    EXPECT_TRUE(echoes(client, "inside the range"));
  }
  for (const char* name : {"unlisted", "outside", "disabled"}) {
    TcpClient client(pair.edge().port(name));
    EXPECT_TRUE(closed_without_data(client)) << name;
  }

  auto& audit = pair.connector();
  auto unlisted = audit.wait_for_audit(audit_event(
      "tunnel.stream", {{"outcome", "denied"}, {"virtual_host", "secret.corp"}, {"virtual_port", "22"}}));
  ASSERT_EQ(unlisted.size(), 1u) << "no denial audited for secret.corp:22";
  EXPECT_EQ(unlisted[0].get("class"), "security");
  EXPECT_EQ(unlisted[0].get("tenant"), "acme");
  EXPECT_EQ(unlisted[0].get("destination"), "unlisted");
  EXPECT_EQ(unlisted[0].get("route_type"), "tcp");
  EXPECT_NE(unlisted[0].get("reason"), "");
  EXPECT_NE(unlisted[0].get("request_id"), "");
  auto outside = audit.wait_for_audit(audit_event(
      "tunnel.stream", {{"outcome", "denied"}, {"virtual_host", "app.corp"}, {"virtual_port", "7002"}}));
  ASSERT_EQ(outside.size(), 1u) << "no denial audited for app.corp:7002";
  EXPECT_NE(outside[0].get("reason"), "");
  auto disabled = audit.wait_for_audit(audit_event(
      "tunnel.stream", {{"outcome", "denied"}, {"virtual_host", "off.corp"}, {"virtual_port", "80"}}));
  ASSERT_EQ(disabled.size(), 1u) << "no denial audited for off.corp:80";
  EXPECT_NE(disabled[0].get("reason"), "");
  EXPECT_NE(disabled[0].get("reason"), unlisted[0].get("reason")) << "a disabled system has its own reason";
  auto allowed = audit.wait_for_audit(audit_event("tunnel.stream", {{"outcome", "allowed"}}));
  ASSERT_EQ(allowed.size(), 1u);
  EXPECT_EQ(allowed[0].get("virtual_port"), "7001");

  // A denied stream never reaches a backend, and the edge records the failed connection.
  EXPECT_EQ(echo.accepted(), 1u);
  EXPECT_EQ(pair.edge()
                .wait_for_audit(audit_event("tcp.connection",
                                            {{"destination", "unlisted"}, {"outcome", "connect_failed"}}))
                .size(),
            1u);
}

TEST(Tunnel, ConnectorWithCertificateOfAnotherCaIsRefused) {
  EchoServer echo;
  TunnelSetup setup;
  ASSERT_TRUE(setup.create_certificates());
  TempDir rogue_ca;
  ASSERT_TRUE(run_certs({"ca", "--out", rogue_ca.path().string()}));
  ASSERT_TRUE(setup.create_connector_certificate("rogue", "acme", "", rogue_ca.path()));

  EdgeSpec edge_spec;
  edge_spec.destinations.push_back({.name = "demo", .address = "app.corp:80"});
  GatewayProcess& edge = setup.start_edge(edge_spec);
  ASSERT_TRUE(edge.wait_ready());
  ConnectorSpec connector_spec;
  connector_spec.cert = "rogue";  // trusts the edge (ca_file is the real CA), but is signed by another CA
  connector_spec.edge_ports = {edge.tunnel_port()};
  connector_spec.systems.push_back(
      {.virtual_host = "app.corp", .virtual_port = "80", .internal_port = echo.port()});
  GatewayProcess& connector = setup.start_connector(connector_spec);
  ASSERT_TRUE(connector.wait_ready());

  auto refused = edge.wait_for_log(log_event("connector_refused"));
  ASSERT_TRUE(refused) << "the edge did not log event=connector_refused";
  EXPECT_NE(refused->get("reason"), "");
  auto audited = edge.wait_for_audit(audit_event("tunnel.connector", {{"outcome", "refused"}}));
  ASSERT_FALSE(audited.empty()) << "no tunnel.connector audit record with outcome refused";
  EXPECT_EQ(audited[0].get("class"), "security");
  EXPECT_NE(audited[0].get("reason"), "");
  EXPECT_NE(audited[0].get("peer"), "");
  // The connector learns that it failed (in TLS 1.3 possibly only after its side of the handshake).
  EXPECT_TRUE(connector.wait_for_log([](const Record& r) {
    return r.get("event") == "tunnel_connect_failed" || r.get("event") == "tunnel_disconnected";
  }));

  TcpClient client(edge.port("demo"));
  EXPECT_TRUE(closed_without_data(client));
  auto failed = edge.wait_for_audit(audit_event("tcp.connection", {{"destination", "demo"}}));
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].get("outcome"), "connect_failed");
  EXPECT_EQ(edge.count_log(connector_connected()), 0u);
  EXPECT_EQ(echo.accepted(), 0u);
}

TEST(Tunnel, DestinationsReachOnlyConnectorsOfTheirTenantAndLocation) {
  EchoServer echo;
  EdgeSpec edge;
  edge.destinations = {
      {.name = "a-app", .address = "app.corp:80", .tenant = "tenant-a"},
      {.name = "b-app", .address = "app.corp:80", .tenant = "tenant-b"},
      {.name = "b-elsewhere", .address = "app.corp:80", .tenant = "tenant-b", .location_id = "elsewhere"},
  };
  edge.socks5 = Socks5Spec{.users = {{.username = "alice", .password = "alice-pw", .tenant = "tenant-a"},
                                     {.username = "bob", .password = "bob-pw", .tenant = "tenant-b"}}};
  ConnectorSpec connector;
  connector.tenant = "tenant-b";
  connector.systems.push_back(
      {.virtual_host = "app.corp", .virtual_port = "80", .internal_port = echo.port()});
  TunnelPair pair(edge, connector);
  ASSERT_TRUE(pair.start());
  auto connected = pair.edge().wait_for_log(connector_connected());
  ASSERT_TRUE(connected);
  EXPECT_EQ(connected->get("tenant"), "tenant-b");
  EXPECT_EQ(connected->get("location"), "");

  {
    TcpClient client(pair.edge().port("b-app"));
    EXPECT_TRUE(echoes(client, "tenant b reaches its own connector"));
  }
  for (const char* name : {"a-app", "b-elsewhere"}) {
    TcpClient client(pair.edge().port(name));
    EXPECT_TRUE(closed_without_data(client)) << name;
    auto failed = pair.edge().wait_for_audit(audit_event("tcp.connection", {{"destination", name}}));
    ASSERT_EQ(failed.size(), 1u) << name;
    EXPECT_EQ(failed[0].get("outcome"), "connect_failed") << name;
  }

  // The same through SOCKS5: the user's tenant decides.
  using gw::testing::SocksAuth;
  gw::testing::SocksClient alice(pair.edge().socks_port());
  auto refused = alice.connect(SocksAuth::with_password("alice", "alice-pw"), "app.corp", 80);
  EXPECT_EQ(refused.auth_status, 0x00);
  EXPECT_EQ(refused.reply, 0x03) << "tenant a has no connector; " << refused.error;
  gw::testing::SocksClient bob(pair.edge().socks_port());
  auto admitted = bob.connect(SocksAuth::with_password("bob", "bob-pw"), "app.corp", 80);
  ASSERT_EQ(admitted.reply, 0x00) << admitted.error;
  EXPECT_TRUE(socks_echoes(bob, "tenant b through socks"));

  // Only tenant b's streams ever reached the connector.
  pair.connector().wait_for_audit(audit_event("tunnel.stream"), 2);
  for (const auto& record : pair.connector().audit_records()) {
    if (!audit_event("tunnel.stream")(record)) continue;
    EXPECT_EQ(record.get("tenant"), "tenant-b") << record.line;
    EXPECT_NE(record.get("destination"), "a-app") << record.line;
    EXPECT_NE(record.get("destination"), "b-elsewhere") << record.line;
  }
  EXPECT_EQ(echo.accepted(), 2u);
}

}  // namespace
}  // namespace gw::e2e
