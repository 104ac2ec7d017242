// Per-destination limits: a connection cap that refuses the excess and frees its slots again, and an
// idle timeout that ends silent connections.
#include <gtest/gtest.h>

#include "support/checks.hpp"
#include "support/client.hpp"
#include "support/gateway_process.hpp"
#include "support/metrics.hpp"
#include "support/peers.hpp"

namespace gw::e2e {
namespace {

TEST(Limits, MaxConnectionsRefusesTheExcessAndFreesSlotsOnClose) {
  EchoServer echo;
  GatewayConfig config;
  config.destinations.push_back(
      {.name = "capped", .address = echo.address(), .limits = "{max_connections: 2}"});
  GatewayProcess gateway(config);
  ASSERT_TRUE(gateway.wait_ready());
  const std::uint16_t port = gateway.port("capped");

  TcpClient first(port);
  TcpClient second(port);
  ASSERT_TRUE(echoes(first, "first"));
  ASSERT_TRUE(echoes(second, "second"));

  TcpClient third(port);  // the kernel completes the handshake; the gateway must then let it go
  EXPECT_TRUE(closed_without_data(third));
  auto refused = gateway.wait_for_log(log_event("connection_refused", {{"destination", "capped"}}));
  ASSERT_TRUE(refused) << "no event=connection_refused";
  EXPECT_TRUE(contains_nocase(refused->get("reason"), "max_connections (2) reached")) << refused->line;
  EXPECT_EQ(echo.accepted(), 2u) << "the refused connection reached the target";
  EXPECT_TRUE(wait_for_metric(gateway.admin_port(), "gateway_connections_refused_total",
                              {{"destination", "capped"}, {"reason", "max_connections"}},
                              [](double v) { return v >= 1; }))
      << "gateway_connections_refused_total never counted the refusal";
  auto refusal_audit = gateway.wait_for_audit(
      [](const Record& r) { return r.get("destination") == "capped" && r.get("outcome") == "refused"; });
  EXPECT_EQ(refusal_audit.size(), 1u) << "no audit record with outcome refused";

  first.close();
  // The slot is free once the gateway has finished with the first connection.
  EXPECT_TRUE(wait_for_metric(gateway.admin_port(), "gateway_connections_active",
                              {{"destination", "capped"}, {"route_type", "tcp"}},
                              [](double v) { return v == 1; }))
      << "gateway_connections_active never went back to 1";

  TcpClient fourth(port);
  EXPECT_TRUE(echoes(fourth, "fourth"));
  EXPECT_TRUE(echoes(second, "second, still"));
}

TEST(Limits, IdleTimeoutEndsSilentConnection) {
  EchoServer echo;
  GatewayConfig config;
  config.destinations.push_back(
      {.name = "idle", .address = echo.address(), .limits = "{idle_timeout: 300ms}"});
  GatewayProcess gateway(config);
  ASSERT_TRUE(gateway.wait_ready());

  TcpClient client(gateway.port("idle"));
  ASSERT_TRUE(echoes(client, "ping"));
  // From here on neither side sends anything.
  EXPECT_TRUE(closed_without_data(client));

  auto audit = gateway.wait_for_audit(
      [](const Record& r) { return r.get("event") == "tcp.connection" && r.get("destination") == "idle"; });
  ASSERT_EQ(audit.size(), 1u) << "no tcp.connection audit record";
  EXPECT_EQ(audit[0].get("outcome"), "idle_timeout") << audit[0].line;
  EXPECT_EQ(audit[0].integer("bytes_up"), 4);
  EXPECT_EQ(audit[0].integer("bytes_down"), 4);
  EXPECT_TRUE(wait_for_metric(gateway.admin_port(), "gateway_errors_total",
                              {{"destination", "idle"}, {"reason", "idle_timeout"}},
                              [](double v) { return v >= 1; }))
      << "gateway_errors_total{reason=\"idle_timeout\"} never reached 1";
}

}  // namespace
}  // namespace gw::e2e
