// Log output and defaults an operator relies on: JSON lines that parse, and a minimal configuration
// that exposes nothing beyond its entry points.
#include <gtest/gtest.h>

#include <set>

#include "support/checks.hpp"
#include "support/client.hpp"
#include "support/gateway_process.hpp"
#include "support/peers.hpp"

namespace gw::e2e {
namespace {

TEST(LogFormat, JsonFormatWritesOneObjectPerLine) {
  EchoServer echo;
  RefusingPort down;
  GatewayConfig config;
  config.log_format = "json";
  config.audit_to_file = false;  // audit records go to the log, in the log's format
  config.destinations.push_back({.name = "demo", .address = echo.address()});
  config.destinations.push_back({.name = "down", .address = down.address()});
  GatewayProcess gateway(config);
  ASSERT_TRUE(gateway.wait_ready());

  {
    TcpClient client(gateway.port("demo"));
    EXPECT_TRUE(echoes(client, "a \"quoted\" line\nwith a newline"));
  }
  {
    TcpClient client(gateway.port("down"));
    EXPECT_TRUE(closed_without_data(client));
  }
  ASSERT_TRUE(gateway.wait_for_log(log_event("connection_failed", {{"destination", "down"}})));
  gateway.terminate();
  auto status = gateway.wait_for_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->success()) << *status;

  std::set<std::string> events;
  auto lines = gateway.process().lines(Stream::err);
  ASSERT_FALSE(lines.empty());
  for (const auto& line : lines) {
    ASSERT_FALSE(line.empty());
    EXPECT_EQ(line.front(), '{') << line;
    auto record = parse_flat_json(line);
    ASSERT_TRUE(record) << "not a flat JSON object: " << line;
    EXPECT_TRUE(record->has("event")) << line;
    EXPECT_TRUE(record->has("ts")) << line;
    EXPECT_TRUE(record->has("level")) << line;
    events.insert(record->get("event"));
  }
  for (const char* expected : {"listening", "ready", "connection_failed", "audit", "draining", "stopped"}) {
    EXPECT_EQ(events.count(expected), 1u) << "no event " << expected;
  }
}

TEST(SecureDefaults, MinimalConfigurationListensOnlyOnItsEntryPoint) {
  EchoServer echo;
  GatewayProcess gateway(
      "destinations:\n"
      "  - name: demo\n"
      "    route_type: tcp\n"
      "    address: " +
      echo.address() +
      "\n"
      "    entry_point:\n"
      "      listen: 127.0.0.1:0\n");
  ASSERT_TRUE(gateway.wait_ready());

  for (const auto& record : gateway.log_records()) {
    if (record.get("event") != "listening") continue;
    EXPECT_EQ(record.get("kind"), "entry_point") << "listens on more than its entry point: " << record.line;
    EXPECT_EQ(record.get("address").rfind("127.0.0.1:", 0), 0u) << record.line;
  }
  {
    TcpClient client(gateway.port("demo"));
    EXPECT_TRUE(echoes(client, "defaults"));
  }
  gateway.terminate();
  auto status = gateway.wait_for_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->success()) << *status;
  // Audit level security by default: no access records.
  for (const auto& record : gateway.log_records()) {
    if (record.get("event") == "audit") {
      EXPECT_NE(record.get("class"), "access") << record.line;
    }
  }
}

}  // namespace
}  // namespace gw::e2e
