// A connector's allowlist reloaded with SIGHUP, against an edge and a connector as separate processes:
// streams that arrive afterwards are decided by the edited file's systems, a stream admitted before
// goes on, and a file that does not load changes nothing. Other sections wait for a restart.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <string>

#include "support/checks.hpp"
#include "support/client.hpp"
#include "support/gateway_process.hpp"
#include "support/peers.hpp"
#include "support/tunnel_pair.hpp"

namespace gw::e2e {
namespace {

void write_config(GatewayProcess& process, const std::string& yaml) {
  std::ofstream(process.config_file(), std::ios::trunc) << yaml;
}

// Sends SIGHUP and waits for the record the reload ends with.
std::optional<Record> reload(GatewayProcess& process, const std::string& outcome) {
  const std::size_t mark = process.log_mark();
  process.process().signal(SIGHUP);
  return process.wait_for_log(log_event(outcome), kGuard, mark);
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

class Reload : public ::testing::Test {
 protected:
  Reload() {
    EdgeSpec edge;
    edge.destinations = {{.name = "first", .address = "first.corp:80"},
                         {.name = "second", .address = "second.corp:80"}};
    ConnectorSpec connector;
    connector.systems = {{.virtual_host = "first.corp", .virtual_port = "80", .internal_port = echo_.port()}};
    pair_.emplace(edge, connector);
  }

  // The connector's configuration with `systems` instead of the ones it started with.
  std::string connector_yaml(std::vector<SystemSpec> systems) {
    ConnectorSpec spec = pair_->connector_spec();
    spec.systems = std::move(systems);
    return pair_->setup().connector_yaml(spec);
  }
  SystemSpec system(const std::string& host) {
    return {.virtual_host = host, .virtual_port = "80", .internal_port = echo_.port()};
  }

  EchoServer echo_;
  std::optional<TunnelPair> pair_;
};

TEST_F(Reload, SighupPutsTheEditedAllowlistInForceForNewStreams) {
  ASSERT_TRUE(pair_->start());
  GatewayProcess& connector = pair_->connector();
  GatewayProcess& edge = pair_->edge();

  TcpClient held(edge.port("first"));  // admitted by the allowlist the connector started with
  ASSERT_TRUE(echoes(held, "before the reload"));
  {
    TcpClient refused(edge.port("second"));
    EXPECT_TRUE(closed_without_data(refused));
  }

  // second.corp added, first.corp removed.
  write_config(connector, connector_yaml({system("second.corp")}));
  const auto reloaded = reload(connector, "config_reloaded");
  ASSERT_TRUE(reloaded) << "no config_reloaded record";
  EXPECT_EQ(reloaded->get("systems"), "1");
  EXPECT_EQ(reloaded->get("previous_systems"), "1");
  {
    TcpClient added(edge.port("second"));
    EXPECT_TRUE(echoes(added, "through the added system"));
  }
  {
    TcpClient removed(edge.port("first"));
    EXPECT_TRUE(closed_without_data(removed));
  }
  EXPECT_TRUE(echoes(held, "after the reload")) << "a stream admitted before the reload goes on";
  const auto audited = connector.wait_for_audit(audit_event("config.reloaded", {{"systems", "1"}}));
  ASSERT_EQ(audited.size(), 1u);
  EXPECT_EQ(audited[0].get("class"), "security");
  EXPECT_EQ(audited[0].get("restart_needed"), "");
  EXPECT_EQ(audited[0].get("sha256").size(), 64u);
  const auto denied = connector.wait_for_audit(
      audit_event("tunnel.stream", {{"outcome", "denied"}, {"virtual_host", "first.corp"}}));
  EXPECT_EQ(denied.size(), 1u);
}

TEST_F(Reload, AFileThatDoesNotLoadChangesNothing) {
  ASSERT_TRUE(pair_->start());
  GatewayProcess& connector = pair_->connector();
  const std::string good = connector_yaml({system("first.corp"), system("second.corp")});

  write_config(connector, replaced(good, "virtual_host: second.corp", "virtual_host: 'second corp'"));
  const auto failed = reload(connector, "config_reload_failed");
  ASSERT_TRUE(failed) << "no config_reload_failed record";
  EXPECT_NE(failed->get("problem").find("gateway.yaml:"), std::string::npos) << failed->get("problem");
  EXPECT_NE(failed->get("problem").find("systems[1].virtual_host"), std::string::npos)
      << failed->get("problem");
  EXPECT_EQ(connector.wait_for_audit(audit_event("config.reload_failed")).size(), 1u);
  {
    TcpClient still(pair_->edge().port("first"));
    EXPECT_TRUE(echoes(still, "the old allowlist stays in force"));
    TcpClient not_yet(pair_->edge().port("second"));
    EXPECT_TRUE(closed_without_data(not_yet));
  }

  // Another role is refused as a whole, however good its systems.
  write_config(connector, "node: {name: connector-1, role: standalone}\nconnector: {tenant: acme}\n" +
                              good.substr(good.find("systems:\n")));
  const auto role = reload(connector, "config_reload_failed");
  ASSERT_TRUE(role);
  EXPECT_NE(role->get("problem").find("node.role"), std::string::npos) << role->get("problem");

  // Fixed: the reload goes through.
  write_config(connector, good);
  ASSERT_TRUE(reload(connector, "config_reloaded"));
  TcpClient now(pair_->edge().port("second"));
  EXPECT_TRUE(echoes(now, "once the file loads"));
}

TEST_F(Reload, OtherSectionsAreReportedAsWaitingForARestart) {
  ASSERT_TRUE(pair_->start());
  GatewayProcess& connector = pair_->connector();
  std::string edited = connector_yaml({system("first.corp"), system("second.corp")});
  edited = replaced(edited, "level: info", "level: debug");
  edited = replaced(edited, "connections_per_edge: 2", "connections_per_edge: 3");
  write_config(connector, edited);
  const std::size_t mark = connector.log_mark();
  connector.process().signal(SIGHUP);
  const auto waiting = connector.wait_for_log(log_event("restart_needed"), kGuard, mark);
  ASSERT_TRUE(waiting) << "no restart_needed record";
  EXPECT_EQ(waiting->get("sections"), "log,connector");
  EXPECT_EQ(connector.count_log(log_event("config_reloaded"), mark), 1u);
  // The systems were applied all the same.
  TcpClient added(pair_->edge().port("second"));
  EXPECT_TRUE(echoes(added, "systems apply"));

  // An edge has nothing to reload.
  GatewayProcess& edge = pair_->edge();
  const std::size_t edge_mark = edge.log_mark();
  edge.process().signal(SIGHUP);
  EXPECT_TRUE(edge.wait_for_log(log_event("reload_ignored"), kGuard, edge_mark));
  TcpClient after(edge.port("first"));
  EXPECT_TRUE(echoes(after, "the edge goes on"));
}

}  // namespace
}  // namespace gw::e2e
