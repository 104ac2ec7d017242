// Failures and restarts around the tunnel: a connector killed or frozen mid-transfer, an edge killed
// while a connector serves two edges, one of two connectors killed, and a connector drained while a
// transfer is in flight. Clients are never left hanging, and service comes back once a connector is
// connected again.
#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "support/checks.hpp"
#include "support/client.hpp"
#include "support/gateway_process.hpp"
#include "support/peers.hpp"
#include "support/poll.hpp"
#include "support/record.hpp"
#include "support/transfer.hpp"
#include "support/tunnel_pair.hpp"

namespace gw::e2e {
namespace {

constexpr std::size_t kMiB = 1024 * 1024;

OnPremiseDestination demo() {
  return {.name = "demo", .address = "app.corp:80"};
}

SystemSpec app_system(std::uint16_t backend_port) {
  return {.virtual_host = "app.corp", .virtual_port = "80", .internal_port = backend_port};
}

TunnelPair pair_to(std::uint16_t backend_port, Keepalive keepalive = {}) {
  EdgeSpec edge;
  edge.destinations.push_back(demo());
  edge.keepalive = keepalive;
  ConnectorSpec connector;
  connector.systems.push_back(app_system(backend_port));
  connector.keepalive = keepalive;
  return TunnelPair(edge, connector);
}

// An edge and two connectors of one location (tenant acme, default location), each with two
// connections, serving app.corp:80 from an echo server.
struct TwoConnectors {
  EchoServer echo;
  TunnelSetup setup;
  GatewayProcess* edge = nullptr;
  GatewayProcess* first = nullptr;
  GatewayProcess* second = nullptr;

  ::testing::AssertionResult start(const EdgeSpec& edge_spec) {
    for (auto made : {setup.create_certificates(), setup.create_connector_certificate("connector-1", "acme"),
                      setup.create_connector_certificate("connector-2", "acme")}) {
      if (!made) return made;
    }
    edge = &setup.start_edge(edge_spec);
    if (auto ready = edge->wait_ready(); !ready) return ready << " (edge)";
    ConnectorSpec spec;
    spec.edge_ports = {edge->tunnel_port()};
    spec.systems.push_back(app_system(echo.port()));
    spec.name = spec.cert = "connector-1";
    first = &setup.start_connector(spec);
    spec.name = spec.cert = "connector-2";
    second = &setup.start_connector(spec);
    for (GatewayProcess* connector : {first, second}) {
      if (auto ready = connector->wait_ready(); !ready) return ready << " (connector)";
    }
    return wait_connected(*edge, 4);
  }
};

TEST(TunnelHa, ConnectorKilledMidTransferEndsTheClientAndServiceResumesAfterRestart) {
  EchoServer echo;
  TunnelPair pair = pair_to(echo.port());
  ASSERT_TRUE(pair.start());
  GatewayProcess& edge = pair.edge();

  TcpClient client(edge.port("demo"));
  EchoTransfer transfer(client, 64 * kMiB, 41, 4 * kMiB);
  ASSERT_TRUE(transfer.wait_received(4 * kMiB)) << "the first 4 MiB never came back";

  const std::size_t mark = edge.log_mark();
  pair.connector().kill();
  EXPECT_TRUE(edge.wait_for_log_count(connector_disconnected(), 2, kGuard, mark))
      << "the edge did not notice both tunnel connections going";
  transfer.resume();
  EchoTransfer::Result result = transfer.finish();
  EXPECT_TRUE(is_closed(result.end)) << "the client's connection was not ended: " << result.end;
  EXPECT_LT(result.received, 64 * kMiB);
  auto audited = edge.wait_for_audit(audit_event("tcp.connection", {{"destination", "demo"}}));
  ASSERT_EQ(audited.size(), 1u);
  EXPECT_NE(audited[0].get("outcome"), "ok") << audited[0].line;

  // While no connector is connected, clients are let go at once.
  {
    TcpClient waiting(edge.port("demo"));
    EXPECT_TRUE(closed_without_data(waiting));
  }

  ASSERT_TRUE(pair.restart_connector());
  TcpClient again(edge.port("demo"));
  EXPECT_TRUE(echoes(again, "served by the restarted connector"));
}

TEST(TunnelHa, FrozenConnectorIsDeclaredDeadByPingTimeoutAndComesBackWhenThawed) {
  EchoServer echo;
  TunnelPair pair = pair_to(echo.port(), Keepalive{.ping_interval = "100ms", .ping_timeout = "1s"});
  ASSERT_TRUE(pair.start());
  GatewayProcess& edge = pair.edge();

  // One tunnel connection carries a transfer, the other is idle: both must be found dead.
  TcpClient client(edge.port("demo"));
  EchoTransfer transfer(client, 64 * kMiB, 42, 4 * kMiB);
  ASSERT_TRUE(transfer.wait_received(4 * kMiB)) << "the first 4 MiB never came back";

  const std::size_t mark = edge.log_mark();
  // The kernel keeps the frozen connector's sockets open: only the missing PING answers tell.
  pair.connector().process().signal(SIGSTOP);
  transfer.resume();
  ASSERT_TRUE(edge.wait_for_log_count(connector_disconnected(), 2, kGuard, mark))
      << "the edge did not declare the frozen connector's connections dead";
  for (const auto& record : edge.log_records()) {
    if (connector_disconnected()(record)) {
      EXPECT_TRUE(contains_nocase(record.get("reason"), "ping")) << "not a ping timeout: " << record.line;
    }
  }
  EchoTransfer::Result result = transfer.finish();
  EXPECT_TRUE(is_closed(result.end)) << "the client's connection was not ended: " << result.end;
  EXPECT_LT(result.received, 64 * kMiB);
  {
    TcpClient waiting(edge.port("demo"));
    EXPECT_TRUE(closed_without_data(waiting));
  }

  // Thawed, the connector finds its connections closed and dials again.
  const std::size_t thawed = edge.log_mark();
  pair.connector().process().signal(SIGCONT);
  ASSERT_TRUE(wait_connected(edge, 2, thawed));
  TcpClient again(edge.port("demo"));
  EXPECT_TRUE(echoes(again, "served after the thaw"));
}

TEST(TunnelHa, WithOneOfTwoEdgesKilledTheOtherServesNewConnections) {
  EchoServer echo;
  TunnelSetup setup;
  ASSERT_TRUE(setup.create_certificates());
  ASSERT_TRUE(setup.create_connector_certificate("connector", "acme"));
  EdgeSpec spec_a{.name = "edge-a", .destinations = {demo()}};
  EdgeSpec spec_b{.name = "edge-b", .destinations = {demo()}};
  GatewayProcess& edge_a = setup.start_edge(spec_a);
  GatewayProcess& edge_b = setup.start_edge(spec_b);
  ASSERT_TRUE(edge_a.wait_ready());
  ASSERT_TRUE(edge_b.wait_ready());
  ConnectorSpec connector_spec;
  connector_spec.edge_ports = {edge_a.tunnel_port(), edge_b.tunnel_port()};
  connector_spec.systems.push_back(app_system(echo.port()));
  GatewayProcess& connector = setup.start_connector(connector_spec);
  ASSERT_TRUE(connector.wait_ready());
  ASSERT_TRUE(wait_connected(edge_a, 2)) << "edge a";
  ASSERT_TRUE(wait_connected(edge_b, 2)) << "edge b";
  {
    TcpClient via_a(edge_a.port("demo"));
    EXPECT_TRUE(echoes(via_a, "through edge a"));
    TcpClient via_b(edge_b.port("demo"));
    EXPECT_TRUE(echoes(via_b, "through edge b"));
  }

  const std::uint16_t port_a = edge_a.port("demo");
  edge_a.kill();
  ASSERT_TRUE(edge_a.wait_for_exit());
  EXPECT_TRUE(connector.wait_for_log_count(
      log_event("tunnel_disconnected", {{"edge", loopback_address(edge_a.tunnel_port())}}), 2))
      << "the connector did not notice edge a going";
  for (int i = 0; i < 5; ++i) {
    TcpClient via_b(edge_b.port("demo"));
    EXPECT_TRUE(echoes(via_b, "edge b still serves, connection " + std::to_string(i)));
  }
  EXPECT_EQ(TcpClient::connect_error(port_a), ECONNREFUSED);
  EXPECT_EQ(edge_b.count_log(connector_disconnected()), 0u);
}

TEST(TunnelHa, StreamsGoToTheRemainingConnectorWhenOneOfTwoIsKilled) {
  TwoConnectors two;
  ASSERT_TRUE(two.start(EdgeSpec{.destinations = {demo()}}));
  GatewayProcess& edge = *two.edge;
  GatewayProcess& first = *two.first;
  GatewayProcess& second = *two.second;

  // Streams are spread over all four connections of the location: both connectors serve.
  for (int i = 0; i < 8; ++i) {
    TcpClient client(edge.port("demo"));
    EXPECT_TRUE(echoes(client, "spread " + std::to_string(i)));
  }
  const auto allowed = audit_event("tunnel.stream", {{"outcome", "allowed"}});
  EXPECT_FALSE(first.wait_for_audit(allowed).empty()) << "connector 1 served no stream";
  EXPECT_FALSE(second.wait_for_audit(allowed).empty()) << "connector 2 served no stream";

  const std::size_t mark = edge.log_mark();
  first.kill();
  ASSERT_TRUE(edge.wait_for_log_count(connector_disconnected(), 2, kGuard, mark));
  const std::size_t served_before = second.audit_records().size();
  for (int i = 0; i < 8; ++i) {
    TcpClient client(edge.port("demo"));
    EXPECT_TRUE(echoes(client, "after the kill " + std::to_string(i)));
  }
  EXPECT_GE(second.wait_for_audit(allowed, 8).size(), 8u);
  EXPECT_GT(second.audit_records().size(), served_before);
}

// The workers of `edge` that hold the tunnel connections of `connector`'s current process, matched by
// the connector's local address, which the edge logs as the connection's peer.
std::multiset<std::string> workers_holding(GatewayProcess& edge, GatewayProcess& connector) {
  std::set<std::string> locals;
  for (const auto& record : connector.log_records())
    if (log_event("tunnel_connected")(record)) locals.insert(record.get("local"));
  std::multiset<std::string> workers;
  for (const auto& record : edge.log_records())
    if (connector_connected()(record) && locals.count(record.get("peer")))
      workers.insert(record.get("worker"));
  return workers;
}

TEST(TunnelHa, EveryEdgeWorkerHoldsAConnectionOfEveryConnectorOfALocation) {
  TwoConnectors two;
  ASSERT_TRUE(two.start(EdgeSpec{.workers = 2, .destinations = {demo()}}));
  GatewayProcess& edge = *two.edge;
  GatewayProcess& first = *two.first;
  GatewayProcess& second = *two.second;
  ASSERT_TRUE(first.wait_for_log_count(log_event("tunnel_connected"), 2));
  ASSERT_TRUE(second.wait_for_log_count(log_event("tunnel_connected"), 2));

  // The kernel hands the four connections to the two workers' acceptors at random; the edge moves them
  // so that each worker has one of each connector.
  const std::multiset<std::string> one_each{"0", "1"};
  EXPECT_EQ(workers_holding(edge, first), one_each);
  EXPECT_EQ(workers_holding(edge, second), one_each);
  for (int i = 0; i < 4; ++i) {
    TcpClient client(edge.port("demo"));
    EXPECT_TRUE(echoes(client, "through a moved connection " + std::to_string(i)));
  }

  // A connector that comes back is spread the same way.
  std::size_t mark = edge.log_mark();
  first.kill();
  ASSERT_TRUE(edge.wait_for_log_count(connector_disconnected(), 2, kGuard, mark));
  mark = edge.log_mark();
  first.restart();
  ASSERT_TRUE(first.wait_ready());
  ASSERT_TRUE(wait_connected(edge, 2, mark));
  ASSERT_TRUE(first.wait_for_log_count(log_event("tunnel_connected"), 2));
  EXPECT_EQ(workers_holding(edge, first), one_each);
}

TEST(TunnelHa, DrainingConnectorFinishesTheTransferInFlightAndTakesNoNewStreams) {
  EchoServer echo;
  TunnelPair pair = pair_to(echo.port());
  ASSERT_TRUE(pair.start());
  GatewayProcess& edge = pair.edge();
  GatewayProcess& connector = pair.connector();

  TcpClient client(edge.port("demo"));
  EchoTransfer transfer(client, 32 * kMiB, 43, 8 * kMiB);
  ASSERT_TRUE(transfer.wait_received(8 * kMiB)) << "the first 8 MiB never came back";

  const std::size_t mark = edge.log_mark();
  connector.terminate();
  ASSERT_TRUE(connector.wait_for_log(log_event("draining"))) << "no event=draining after SIGTERM";
  // The draining connector tells the edge to open no more streams (GOAWAY after a PING round trip, so
  // that streams already on their way are still taken). Its connection without streams then ends,
  // which is what the edge can be seen to notice; the one carrying the transfer stays.
  auto idle_gone = edge.wait_for_log(connector_disconnected(), kGuard, mark);
  ASSERT_TRUE(idle_gone) << "the connector's idle connection did not end after its GOAWAY";
  EXPECT_FALSE(contains_nocase(idle_gone->get("reason"), "ping")) << idle_gone->line;
  EXPECT_FALSE(contains_nocase(idle_gone->get("reason"), "error")) << idle_gone->line;
  EXPECT_EQ(edge.count_log(connector_disconnected(), mark), 1u)
      << "the connection carrying the transfer went";
  // The other connection's GOAWAY may still be on its way: a stream the edge opens before it arrives
  // is taken and served to its end, as streams in flight should be. Once it has arrived, with no other
  // connector there, a new client is let go at once without data.
  std::size_t served_late = 0;
  std::string refused_client;
  ASSERT_TRUE(poll_until([&] {
    TcpClient late(edge.port("demo"));
    late.send("late");
    late.shutdown_write();
    Received answer = late.receive_all();
    if (answer.end == End::eof && answer.data == "late") {
      ++served_late;
      return false;
    }
    EXPECT_TRUE(is_closed(answer.end) && answer.data.empty())
        << "neither served nor let go: " << answer.end << " after " << answer.data.size() << " bytes";
    refused_client = late.local_address();
    return true;
  })) << "the edge kept sending new streams to the draining connector";
  auto failed = edge.wait_for_audit(audit_event("tcp.connection", {{"client", refused_client}}));
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].get("outcome"), "connect_failed");
  EXPECT_TRUE(connector.process().running());

  transfer.resume();
  EchoTransfer::Result result = transfer.finish();
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(result.sent, 32 * kMiB);
  EXPECT_EQ(result.end, End::eof);
  EXPECT_EQ(result.received, 32 * kMiB);
  EXPECT_EQ(result.received_sha256, result.sent_sha256);
  bool backend_got_everything = false;
  for (const auto& connection : echo.wait_for_finished(1 + served_late)) {
    if (connection.bytes == 32 * kMiB && connection.received_sha256 == result.sent_sha256) {
      backend_got_everything = true;
    }
  }
  EXPECT_TRUE(backend_got_everything) << "the backend did not receive the 32 MiB intact";
  client.close();

  auto status = connector.wait_for_exit();
  ASSERT_TRUE(status) << "the connector did not exit after its last stream ended";
  EXPECT_TRUE(status->success()) << *status;
  EXPECT_TRUE(connector.wait_for_log(log_event("stopped"), 0ms)) << "no event=stopped";
  EXPECT_TRUE(edge.wait_for_log_count(connector_disconnected(), 2, kGuard, mark))
      << "the edge did not see both connections go";
  EXPECT_EQ(connector.wait_for_audit(audit_event("tunnel.stream")).size(), 1 + served_late)
      << "the refused client's stream reached the connector";
}

}  // namespace
}  // namespace gw::e2e
