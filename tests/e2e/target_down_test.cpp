// A destination whose target refuses connections: the client is let go promptly and the failure is
// logged, audited and counted.
#include <gtest/gtest.h>

#include "support/checks.hpp"
#include "support/client.hpp"
#include "support/gateway_process.hpp"
#include "support/metrics.hpp"
#include "support/peers.hpp"

namespace gw::e2e {
namespace {

TEST(TargetDown, ClientIsClosedAndFailureIsLoggedAuditedAndCounted) {
  RefusingPort target;
  GatewayConfig config;
  config.destinations.push_back({.name = "down", .address = target.address()});
  GatewayProcess gateway(config);
  ASSERT_TRUE(gateway.wait_ready());

  TcpClient client(gateway.port("down"));
  EXPECT_TRUE(closed_without_data(client));

  auto failure = gateway.wait_for_log(log_event("connection_failed", {{"destination", "down"}}));
  ASSERT_TRUE(failure) << "no event=connection_failed for destination down";
  EXPECT_EQ(failure->get("level"), "warn");
  EXPECT_TRUE(contains_nocase(failure->get("reason"), "refused")) << failure->line;
  EXPECT_NE(failure->get("request_id"), "");

  auto audit = gateway.wait_for_audit(
      [](const Record& r) { return r.get("event") == "tcp.connection" && r.get("destination") == "down"; });
  ASSERT_EQ(audit.size(), 1u) << "no tcp.connection audit record for destination down";
  const Record& record = audit[0];
  EXPECT_EQ(record.get("class"), "access");
  EXPECT_EQ(record.get("outcome"), "connect_failed");
  EXPECT_TRUE(contains_nocase(record.get("reason"), "refused")) << record.line;
  EXPECT_EQ(record.get("target"), target.address());
  EXPECT_EQ(record.get("client"), client.local_address());
  EXPECT_EQ(record.get("request_id"), failure->get("request_id"));
  EXPECT_EQ(record.integer("bytes_down"), 0);

  EXPECT_TRUE(wait_for_metric(gateway.admin_port(), "gateway_errors_total",
                              {{"destination", "down"}, {"reason", "connect_failed"}},
                              [](double v) { return v >= 1; }))
      << "gateway_errors_total{reason=\"connect_failed\"} never reached 1";
}

}  // namespace
}  // namespace gw::e2e
