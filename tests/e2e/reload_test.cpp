// The configuration reloaded with SIGHUP. A connector's allowlist, against an edge and a connector as
// separate processes: streams that arrive afterwards are decided by the edited file's systems, a
// stream admitted before goes on, and a file that does not load changes nothing. An edge's
// destinations, against an HTTP server and an echo server in the test: new connections get the new
// credentials; destinations added, moved, renamed and removed open and close their entry points while
// connections opened before go on. Other sections wait for a restart.
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fstream>
#include <string>

#include "support/checks.hpp"
#include "support/client.hpp"
#include "support/gateway_process.hpp"
#include "support/http_peers.hpp"
#include "support/metrics.hpp"
#include "support/peers.hpp"
#include "support/poll.hpp"
#include "support/socks_client.hpp"
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
  EXPECT_EQ(waiting->get("sections"), "log");
  EXPECT_EQ(connector.count_log(log_event("config_reloaded"), mark), 1u);
  EXPECT_TRUE(wait_connected(pair_->edge(), 3)) << "connections_per_edge 3 applies";
  // The systems were applied all the same.
  TcpClient added(pair_->edge().port("second"));
  EXPECT_TRUE(echoes(added, "systems apply"));

  // The edge's file did not change: reloading it changes nothing.
  GatewayProcess& edge = pair_->edge();
  const auto unchanged = reload(edge, "config_reloaded");
  ASSERT_TRUE(unchanged);
  EXPECT_EQ(unchanged->get("destinations_updated"), "");
  const auto audited = edge.wait_for_audit(audit_event("config.reloaded"));
  ASSERT_EQ(audited.size(), 1u);
  EXPECT_EQ(audited[0].get("restart_needed"), "");
  TcpClient after(edge.port("first"));
  EXPECT_TRUE(echoes(after, "the edge goes on"));
}

// An edge with the http destination `api` to `sink` (bearer `token`), and `extra` destinations.
std::string http_edge(const HttpSink& sink, const std::string& token,
                      const std::string& listen = "127.0.0.1:0", const std::string& extra = "") {
  return "node: {name: edge, role: edge}\nlog: {level: info, format: text}\n"
         "audit: {level: all, file: audit.log}\ndestinations:\n"
         "  - name: api\n    route_type: http\n    address: http://127.0.0.1:" +
         std::to_string(sink.port()) + "\n    entry_point: {listen: '" + listen +
         "'}\n    settings: {authentication: bearer, token: " + token + "}\n" + extra;
}

std::string authorization_seen(const HttpSink& sink, std::uint16_t port) {
  const CommandResult got =
      run_program({"curl", "-sS", "--max-time", "20", "http://127.0.0.1:" + std::to_string(port) + "/x"});
  EXPECT_TRUE(got.status && got.status->success()) << got.err;
  const auto requests = sink.requests();
  if (requests.empty() || requests.back().headers.count("authorization") == 0) return "";
  return requests.back().headers.at("authorization");
}

TEST(ReloadEdge, AChangedDestinationServesNewConnectionsWithItsNewSettings) {
  HttpSink sink;
  GatewayProcess edge(http_edge(sink, "first-token"));
  ASSERT_TRUE(edge.wait_ready());
  const std::uint16_t port = edge.port("api");
  EXPECT_EQ(authorization_seen(sink, port), "Bearer first-token");

  // The token rotated.
  std::ofstream(edge.config_file(), std::ios::trunc) << http_edge(sink, "second-token");
  const auto reloaded = reload(edge, "config_reloaded");
  ASSERT_TRUE(reloaded);
  EXPECT_EQ(reloaded->get("destinations_updated"), "api");
  EXPECT_EQ(authorization_seen(sink, port), "Bearer second-token");
  EXPECT_EQ(reloaded->line.find("second-token"), std::string::npos) << "no secret in the record";
  const auto audited = edge.wait_for_audit(audit_event("config.reloaded", {{"destinations_updated", "api"}}));
  ASSERT_EQ(audited.size(), 1u);
  EXPECT_EQ(audited[0].line.find("second-token"), std::string::npos);

  // A changed destination whose settings the plugin refuses changes nothing.
  std::ofstream(edge.config_file(), std::ios::trunc)
      << replaced(http_edge(sink, "second-token"), "token: second-token", "tokn: second-token");
  const auto refused = reload(edge, "config_reload_failed");
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->get("problem").find("destinations[0].settings.tokn"), std::string::npos)
      << refused->get("problem");
  EXPECT_EQ(authorization_seen(sink, port), "Bearer second-token");
  std::ofstream(edge.config_file(), std::ios::trunc) << http_edge(sink, "second-token");

  // The same file again: nothing to update, so the destination keeps its handler.
  const auto again = reload(edge, "config_reloaded");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->get("destinations_updated"), "");
}

// The port of the entry point of `destination` that `edge` logged listening from `mark` on.
std::uint16_t listening_port(GatewayProcess& edge, const std::string& destination, std::size_t mark) {
  const auto record = edge.wait_for_log(log_event("listening", {{"destination", destination}}), kGuard, mark);
  EXPECT_TRUE(record) << "no listening record for " << destination;
  if (!record) return 0;
  const std::string address = record->get("address");
  return static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
}

TEST(ReloadEdge, DestinationsAreAddedMovedRenamedAndRemovedWhileOpenConnectionsGoOn) {
  HttpSink sink;
  EchoServer echo;
  GatewayProcess edge(http_edge(sink, "token"));
  ASSERT_TRUE(edge.wait_ready());
  const std::uint16_t api_port = edge.port("api");
  const std::uint16_t echo_port = free_port();
  auto echo_destination = [&](const std::string& name) {
    return "  - name: " + name +
           "\n    route_type: tcp\n    address: 127.0.0.1:" + std::to_string(echo.port()) +
           "\n    entry_point: {listen: '127.0.0.1:" + std::to_string(echo_port) + "'}\n";
  };

  // Added: its entry point listens.
  std::size_t mark = edge.log_mark();
  write_config(edge, http_edge(sink, "token", "127.0.0.1:0", echo_destination("echo")));
  auto reloaded = reload(edge, "config_reloaded");
  ASSERT_TRUE(reloaded);
  EXPECT_EQ(reloaded->get("destinations_added"), "echo");
  EXPECT_EQ(listening_port(edge, "echo", mark), echo_port);
  TcpClient held(echo_port);
  ASSERT_TRUE(echoes(held, "through the added destination"));

  // Moved: the new entry point serves, the old one is closed.
  const std::uint16_t moved_port = free_port();
  write_config(edge,
               http_edge(sink, "token", "127.0.0.1:" + std::to_string(moved_port), echo_destination("echo")));
  reloaded = reload(edge, "config_reloaded");
  ASSERT_TRUE(reloaded);
  EXPECT_EQ(reloaded->get("destinations_updated"), "api (entry point moved)");
  EXPECT_EQ(authorization_seen(sink, moved_port), "Bearer token");
  EXPECT_EQ(TcpClient::connect_error(api_port), ECONNREFUSED);

  // Renamed on the same entry point: the port is handed over, never closed.
  const std::string api_moved = http_edge(sink, "token", "127.0.0.1:" + std::to_string(moved_port));
  write_config(edge, api_moved + echo_destination("echo-renamed"));
  reloaded = reload(edge, "config_reloaded");
  ASSERT_TRUE(reloaded);
  EXPECT_EQ(reloaded->get("destinations_added"), "echo-renamed");
  EXPECT_EQ(reloaded->get("destinations_removed"), "echo");
  {
    TcpClient renamed(echo_port);
    EXPECT_TRUE(echoes(renamed, "through the renamed destination"));
  }
  EXPECT_EQ(edge.wait_for_audit(audit_event("tcp.connection", {{"destination", "echo-renamed"}})).size(), 1u);

  // An entry point on a port another process holds fails the reload, which then changes nothing.
  const std::string clash =
      "  - name: clash\n    route_type: tcp\n    address: 127.0.0.1:9\n"
      "    entry_point: {listen: '127.0.0.1:" +
      std::to_string(sink.port()) + "'}\n";
  write_config(edge, api_moved + clash);
  const auto failed = reload(edge, "config_reload_failed");
  ASSERT_TRUE(failed);
  EXPECT_NE(failed->get("problem").find("destination 'clash'"), std::string::npos) << failed->get("problem");
  {
    TcpClient still(echo_port);
    EXPECT_TRUE(echoes(still, "echo-renamed was not removed"));
  }

  // Removed: the entry point closes, and the connection opened before goes on.
  write_config(edge, api_moved);
  reloaded = reload(edge, "config_reloaded");
  ASSERT_TRUE(reloaded);
  EXPECT_EQ(reloaded->get("destinations_removed"), "echo-renamed");
  EXPECT_EQ(TcpClient::connect_error(echo_port), ECONNREFUSED);
  EXPECT_TRUE(echoes(held, "after its destination was removed"));
  EXPECT_EQ(authorization_seen(sink, moved_port), "Bearer token");
  const auto audited =
      edge.wait_for_audit(audit_event("config.reloaded", {{"destinations_removed", "echo-renamed"}}));
  ASSERT_EQ(audited.size(), 1u);
  EXPECT_EQ(audited[0].get("restart_needed"), "");
}

TEST(ReloadEdge, SocksClientsGetANewPasswordAndTheDestinationsAddedAndRemoved) {
  HttpSink sink;
  EdgeSpec edge;
  edge.socks5 = Socks5Spec{.users = {{.username = "app1", .password = "first-pass"}}};
  ConnectorSpec connector;
  connector.systems = {{.virtual_host = "web.corp", .virtual_port = "80", .internal_port = sink.port()},
                       {.virtual_host = "api.corp",
                        .virtual_port = "80",
                        .internal_port = sink.port(),
                        .route_type = "http",
                        .settings = "{resources: [{path: /x, match: exact}]}"}};
  TunnelPair pair(edge, connector);
  ASSERT_TRUE(pair.start());
  GatewayProcess& gateway = pair.edge();
  const auto reaches = [&](const std::string& credentials) {
    const CommandResult got = curl_through_socks(gateway.socks_port(), credentials, "http://web.corp/x");
    return got.status && got.status->success();
  };
  EXPECT_TRUE(reaches("app1:first-pass"));

  edge.socks5->users[0].password = "second-pass";
  std::ofstream(gateway.config_file(), std::ios::trunc) << pair.setup().edge_yaml(edge);
  const auto reloaded = reload(gateway, "config_reloaded");
  ASSERT_TRUE(reloaded);
  EXPECT_FALSE(reaches("app1:first-pass"));
  EXPECT_TRUE(reaches("app1:second-pass"));
  const auto audited = gateway.wait_for_audit(audit_event("config.reloaded"));
  ASSERT_EQ(audited.size(), 1u);
  EXPECT_EQ(audited[0].get("restart_needed"), "");
  EXPECT_EQ(audited[0].line.find("second-pass"), std::string::npos);

  // A destination added for api.corp:80 is what SOCKS5 clients asking for that address reach from then
  // on: the http route, which sets a header, and which the connector's http system for api.corp
  // admits. Removed, the address is relayed as tcp again, which that system refuses.
  const auto api_answers = [&] {
    const std::size_t before = sink.requests().size();
    const CommandResult got =
        curl_through_socks(gateway.socks_port(), "app1:second-pass", "http://api.corp/x");
    const auto requests = sink.requests();
    if (!got.status || !got.status->success() || requests.size() == before) return std::string("no request");
    const auto& headers = requests.back().headers;
    return headers.count("x-added-by") ? headers.at("x-added-by") : std::string("no header");
  };
  EXPECT_EQ(api_answers(), "no request");
  edge.destinations.push_back({.name = "api",
                               .address = "api.corp:80",
                               .route_type = "http",
                               .settings = "{headers: [{name: x-added-by, value: reload}]}"});
  std::ofstream(gateway.config_file(), std::ios::trunc) << pair.setup().edge_yaml(edge);
  const auto added = reload(gateway, "config_reloaded");
  ASSERT_TRUE(added);
  EXPECT_EQ(added->get("destinations_added"), "api");
  EXPECT_EQ(api_answers(), "reload");
  edge.destinations.clear();
  std::ofstream(gateway.config_file(), std::ios::trunc) << pair.setup().edge_yaml(edge);
  const auto removed = reload(gateway, "config_reloaded");
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->get("destinations_removed"), "api");
  EXPECT_EQ(api_answers(), "no request");
}

// An edge with one on-premise destination, `app`, and its connector, with a client connection held
// open through them.
class ReloadTunnel : public ::testing::Test {
 protected:
  void SetUp() override {
    edge_spec_.destinations = {{.name = "app", .address = "app.corp:80"}};
    ConnectorSpec connector_spec;
    connector_spec.systems = {
        {.virtual_host = "app.corp", .virtual_port = "80", .internal_port = echo_.port()}};
    pair_.emplace(edge_spec_, connector_spec);
    ASSERT_TRUE(pair_->start());
    held_ = std::make_unique<TcpClient>(pair_->edge().port("app"));
    ASSERT_TRUE(echoes(*held_, "before the reload"));
  }

  // `revoked` (a certificate file of the pair's CA) is revoked (`certs revoke`, with `options`), and
  // `process` reloaded with `yaml` plus a crl_file line after the one naming `key_file`: the first of
  // the two `event` records (one per tunnel connection) it logs.
  std::optional<Record> revoke_and_reload(const std::string& revoked, std::vector<std::string> options,
                                          GatewayProcess& process, const std::string& yaml,
                                          const std::string& key_file, const char* event) {
    const std::string certs = pair_->setup().certs().string();
    options.insert(options.begin(), {"revoke", "--ca", certs, "--cert", certs + "/" + revoked});
    if (!run_certs(options)) return std::nullopt;
    const std::size_t mark = process.log_mark();
    write_config(process,
                 replaced(yaml, key_file + "\n", key_file + "\n  crl_file: " + certs + "/crl.pem\n"));
    if (!reload(process, "config_reloaded") || !process.wait_for_log_count(log_event(event), 2, kGuard, mark))
      return std::nullopt;
    return process.wait_for_log(log_event(event), kGuard, mark);
  }
  // The held connection's stream was cut with its tunnel connection: its client sees the end.
  ::testing::AssertionResult held_is_cut() {
    const Received cut = held_->receive_all();
    if (cut.end == End::eof || cut.end == End::reset) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "the held connection " << cut.end;
  }

  EchoServer echo_;
  EdgeSpec edge_spec_;
  std::optional<TunnelPair> pair_;
  std::unique_ptr<TcpClient> held_;
};

// `yaml` (an edge's or a connector's) with its tunnel TLS files replaced.
std::string with_tls(std::string yaml, const std::string& ca, const std::string& cert,
                     const std::string& key) {
  for (const auto& [key_name, value] :
       {std::pair{"ca_file: ", ca}, {"cert_file: ", cert}, {"key_file: ", key}}) {
    const auto at = yaml.find(key_name);
    EXPECT_NE(at, std::string::npos) << key_name;
    if (at == std::string::npos) continue;
    const auto from = at + std::string_view(key_name).size();
    yaml.replace(from, yaml.find('\n', from) - from, value);
  }
  return yaml;
}

// The documented way to move a fleet to a new CA, with a client connection held throughout: the edge
// trusts both CAs, the connector takes a certificate of the new one, the edge drops the old CA. The
// connector's connections, established with its old certificate, are then no longer trusted: they get
// GOAWAY, the stream they carry finishes, and the connector dials again with its new certificate.
TEST_F(ReloadTunnel, AFleetMovesToANewCaWithoutARestart) {
  TunnelPair& pair = *pair_;
  GatewayProcess& edge = pair.edge();
  GatewayProcess& connector = pair.connector();
  std::unique_ptr<TcpClient>& held = held_;
  const EdgeSpec& edge_spec = edge_spec_;

  // A new CA, with a new edge certificate and new certificates for the connector's identity and another.
  const std::string old_dir = pair.setup().certs().string();
  const std::string new_dir = (pair.setup().root() / "renewed").string();
  ASSERT_TRUE(run_certs({"ca", "--out", new_dir}));
  ASSERT_TRUE(
      run_certs({"edge", "--ca", new_dir, "--out", new_dir, "--name", "localhost", "--ip", "127.0.0.1"}));
  ASSERT_TRUE(run_certs(
      {"connector", "--ca", new_dir, "--out", new_dir, "--tenant", "acme", "--file-prefix", "connector"}));
  ASSERT_TRUE(run_certs(
      {"connector", "--ca", new_dir, "--out", new_dir, "--tenant", "other", "--file-prefix", "other"}));
  const std::string both_cas = (pair.setup().root() / "both-cas.pem").string();
  std::ofstream(both_cas) << read_file(old_dir + "/ca.pem") << read_file(new_dir + "/ca.pem");
  const std::string edge_yaml = pair.setup().edge_yaml(edge_spec);
  const std::string connector_yaml = pair.setup().connector_yaml(pair.connector_spec());

  // 1. The edge trusts both CAs: the connector's certificate still verifies, nothing is cut.
  const std::size_t start = edge.log_mark();
  write_config(edge, with_tls(edge_yaml, both_cas, old_dir + "/edge.pem", old_dir + "/edge.key"));
  auto reloaded = reload(edge, "config_reloaded");
  ASSERT_TRUE(reloaded);
  EXPECT_EQ(reloaded->get("tunnel_tls"), "reloaded");
  EXPECT_EQ(edge.count_log(log_event("restart_needed"), start), 0u);
  EXPECT_TRUE(echoes(*held, "after the edge trusts both CAs"));

  // 2. The connector: a certificate of another identity is refused; one of its own identity, from the
  // new CA, goes in force, and it trusts both CAs too. Its connections still trust the edge.
  write_config(connector, with_tls(connector_yaml, both_cas, new_dir + "/other.pem", new_dir + "/other.key"));
  const auto refused = reload(connector, "config_reload_failed");
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->get("problem").find("connector.cert_file"), std::string::npos)
      << refused->get("problem");
  EXPECT_NE(refused->get("problem").find("changing the identity takes a restart"), std::string::npos);
  write_config(connector,
               with_tls(connector_yaml, both_cas, new_dir + "/connector.pem", new_dir + "/connector.key"));
  reloaded = reload(connector, "config_reloaded");
  ASSERT_TRUE(reloaded);
  EXPECT_EQ(reloaded->get("tunnel_tls"), "reloaded");
  EXPECT_EQ(connector.count_log(log_event("edge_untrusted")), 0u);
  EXPECT_EQ(edge.count_log(log_event("connector_untrusted")), 0u);

  // 3. The edge drops the old CA and presents a certificate of the new one. The connector's two
  // connections carry its old certificate: both are no longer trusted. The held stream goes on to its
  // end on its connection; each connection closes once it carries no stream, and the connector dials
  // again with its new certificate.
  const std::size_t mark = edge.log_mark();
  write_config(edge, with_tls(edge_yaml, new_dir + "/ca.pem", new_dir + "/edge.pem", new_dir + "/edge.key"));
  ASSERT_TRUE(reload(edge, "config_reloaded"));
  ASSERT_TRUE(
      edge.wait_for_log_count(log_event("connector_untrusted", {{"tenant", "acme"}}), 2, kGuard, mark));
  const auto untrusted = edge.wait_for_log(log_event("connector_untrusted"), kGuard, mark);
  ASSERT_TRUE(untrusted);
  EXPECT_EQ(untrusted->get("reason"),
            "certificate no longer trusted: self-signed certificate in certificate chain");
  EXPECT_TRUE(echoes(*held, "on a connection that is going away"));
  held.reset();
  ASSERT_TRUE(wait_connected(edge, 2, mark));
  EXPECT_EQ(edge.count_log(log_event("connector_refused"), mark), 0u);
  TcpClient after(edge.port("app"));
  EXPECT_TRUE(echoes(after, "through the connector's new certificate"));
}

// A connector reloaded with a CA that its edge's certificate does not chain to leaves that edge: its
// connections get GOAWAY (a stream they carry finishes) and dialling again is refused until a reload
// trusts the edge again.
TEST_F(ReloadTunnel, AConnectorLeavesAnEdgeItNoLongerTrusts) {
  TunnelPair& pair = *pair_;
  GatewayProcess& edge = pair.edge();
  GatewayProcess& connector = pair.connector();
  std::unique_ptr<TcpClient>& held = held_;

  const std::string elsewhere = (pair.setup().root() / "elsewhere").string();
  ASSERT_TRUE(run_certs({"ca", "--out", elsewhere}));
  const std::string connector_yaml = pair.setup().connector_yaml(pair.connector_spec());
  const std::string certs = pair.setup().certs().string();
  std::size_t mark = connector.log_mark();
  const std::size_t edge_mark = edge.log_mark();
  write_config(connector, with_tls(connector_yaml, elsewhere + "/ca.pem", certs + "/connector.pem",
                                   certs + "/connector.key"));
  ASSERT_TRUE(reload(connector, "config_reloaded"));
  ASSERT_TRUE(connector.wait_for_log_count(log_event("edge_untrusted"), 2, kGuard, mark));
  const auto untrusted = connector.wait_for_log(log_event("edge_untrusted"), kGuard, mark);
  ASSERT_TRUE(untrusted);
  EXPECT_NE(untrusted->get("reason").find("certificate no longer trusted: "), std::string::npos)
      << untrusted->get("reason");
  // Dialling again fails: the edge's certificate does not chain to the CA in force.
  const auto failed = connector.wait_for_log(log_event("tunnel_connect_failed"), kGuard, mark);
  ASSERT_TRUE(failed);
  EXPECT_NE(failed->get("reason").find("TLS handshake"), std::string::npos) << failed->get("reason");
  EXPECT_TRUE(echoes(*held, "on a connection that is going away"));
  held.reset();
  ASSERT_TRUE(edge.wait_for_log_count(connector_disconnected(), 2, kGuard, edge_mark));

  // Trusted again: the connector is back.
  mark = edge.log_mark();
  write_config(connector, connector_yaml);
  ASSERT_TRUE(reload(connector, "config_reloaded"));
  ASSERT_TRUE(wait_connected(edge, 2, mark));
  TcpClient after(edge.port("app"));
  EXPECT_TRUE(echoes(after, "after the connector trusts its edge again"));
}

// A connector's certificate revoked (`gatewayd certs revoke`) and the CRL given to the edge: at the
// reload the connector's connections are closed, the stream they carry cut (a revoked key may be in
// the wrong hands), its dialling again is refused, and a connector with another certificate of the
// same CA is accepted.
TEST_F(ReloadTunnel, ARevokedConnectorIsSentAwayAtTheReload) {
  TunnelPair& pair = *pair_;
  GatewayProcess& edge = pair.edge();
  const std::string certs = pair.setup().certs().string();
  ASSERT_TRUE(
      run_certs({"connector", "--ca", certs, "--out", certs, "--tenant", "acme", "--file-prefix", "fresh"}));

  // The validity of what the edge's tunnel TLS holds, in days from now, from its /metrics.
  const auto days_left = [&edge](const char* gauge) -> double {
    const auto value = metric_value(edge.admin_port(), gauge, {});
    EXPECT_TRUE(value) << gauge;
    const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    return value ? (*value - static_cast<double>(now)) / 86400 : 0;
  };
  EXPECT_NEAR(days_left("gateway_tunnel_certificate_expiry_timestamp_seconds"), 825, 1);  // `certs edge`
  EXPECT_NEAR(days_left("gateway_tunnel_ca_expiry_timestamp_seconds"), 3650, 1);          // `certs ca`
  EXPECT_EQ(metric_value(edge.admin_port(), "gateway_tunnel_crl_next_update_timestamp_seconds", {}), 0.0);

  const std::size_t mark = edge.log_mark();
  const auto untrusted = revoke_and_reload("connector.pem", {}, edge, pair.setup().edge_yaml(edge_spec_),
                                           "edge.key", "connector_untrusted");
  ASSERT_TRUE(untrusted);
  EXPECT_EQ(untrusted->get("reason"),
            "certificate no longer trusted: certificate revoked; its streams were cut");
  EXPECT_NEAR(days_left("gateway_tunnel_crl_next_update_timestamp_seconds"), 30, 1);  // `certs revoke`
  EXPECT_TRUE(held_is_cut());
  held_.reset();
  const auto refused = edge.wait_for_log(log_event("connector_refused"), kGuard, mark);
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->get("reason").find("certificate revoked"), std::string::npos) << refused->get("reason");

  ConnectorSpec fresh = pair.connector_spec();
  fresh.name = "connector-2";
  fresh.cert = "fresh";
  const std::size_t before_fresh = edge.log_mark();
  GatewayProcess& second = pair.setup().start("connector-2", pair.setup().connector_yaml(fresh));
  ASSERT_TRUE(second.wait_ready());
  ASSERT_TRUE(wait_connected(edge, 2, before_fresh));
  TcpClient after(edge.port("app"));
  EXPECT_TRUE(echoes(after, "through a connector whose certificate is not revoked"));
}

// The same on a connector: an edge whose certificate its new CRL revokes is left at once.
TEST_F(ReloadTunnel, AConnectorCutsAnEdgeWhoseCertificateIsRevoked) {
  GatewayProcess& connector = pair_->connector();
  const std::size_t mark = connector.log_mark();
  // Valid for three days only: the connector warns that it must be issued again soon.
  const auto untrusted = revoke_and_reload("edge.pem", {"--days", "3"}, connector,
                                           pair_->setup().connector_yaml(pair_->connector_spec()),
                                           "connector.key", "edge_untrusted");
  ASSERT_TRUE(untrusted);
  EXPECT_EQ(untrusted->get("reason"),
            "certificate no longer trusted: certificate revoked; its streams were cut");
  EXPECT_TRUE(held_is_cut());
  const auto expiring =
      connector.wait_for_log(log_event("tunnel_tls_expiring", {{"what", "crl"}}), kGuard, mark);
  ASSERT_TRUE(expiring);
  EXPECT_TRUE(expiring->get("hours_left") == "71" || expiring->get("hours_left") == "72")
      << expiring->get("hours_left");
  EXPECT_EQ(connector.count_log(log_event("tunnel_tls_expiring", {{"what", "certificate"}}), mark), 0u);
  const auto failed = connector.wait_for_log(log_event("tunnel_connect_failed"), kGuard, mark);
  ASSERT_TRUE(failed);
  EXPECT_NE(failed->get("reason").find("certificate revoked"), std::string::npos) << failed->get("reason");
}

TEST(ReloadConnector, EdgesAreAddedAndRemovedAndAStreamOnARemovedEdgeFinishes) {
  EchoServer echo;
  TunnelSetup setup;
  ASSERT_TRUE(setup.create_certificates());
  ASSERT_TRUE(setup.create_connector_certificate("connector", "acme"));
  const OnPremiseDestination demo{.name = "demo", .address = "app.corp:80"};
  GatewayProcess& edge_a = setup.start_edge(EdgeSpec{.name = "edge-a", .destinations = {demo}});
  GatewayProcess& edge_b = setup.start_edge(EdgeSpec{.name = "edge-b", .destinations = {demo}});
  ASSERT_TRUE(edge_a.wait_ready());
  ASSERT_TRUE(edge_b.wait_ready());
  ConnectorSpec spec;
  spec.systems = {{.virtual_host = "app.corp", .virtual_port = "80", .internal_port = echo.port()}};
  spec.edge_ports = {edge_a.tunnel_port()};
  GatewayProcess& connector = setup.start_connector(spec);
  ASSERT_TRUE(connector.wait_ready());
  ASSERT_TRUE(wait_connected(edge_a, 2));
  TcpClient held(edge_a.port("demo"));
  ASSERT_TRUE(echoes(held, "through edge a"));

  // Edge b added: the connector dials it too.
  spec.edge_ports = {edge_a.tunnel_port(), edge_b.tunnel_port()};
  write_config(connector, setup.connector_yaml(spec));
  ASSERT_TRUE(reload(connector, "config_reloaded"));
  EXPECT_EQ(connector.count_log(log_event("edge_added", {{"edge", loopback_address(edge_b.tunnel_port())}})),
            1u);
  ASSERT_TRUE(wait_connected(edge_b, 2));
  {
    TcpClient via_b(edge_b.port("demo"));
    EXPECT_TRUE(echoes(via_b, "through the added edge"));
  }

  // Edge a removed: its idle connection goes, the one carrying a stream goes once the stream ends.
  spec.edge_ports = {edge_b.tunnel_port()};
  write_config(connector, setup.connector_yaml(spec));
  const std::size_t mark = edge_a.log_mark();
  ASSERT_TRUE(reload(connector, "config_reloaded"));
  EXPECT_TRUE(edge_a.wait_for_log_count(connector_disconnected(), 1, kGuard, mark));
  EXPECT_TRUE(echoes(held, "after edge a was removed"));
  held.close();
  EXPECT_TRUE(edge_a.wait_for_log_count(connector_disconnected(), 2, kGuard, mark));
  {
    TcpClient via_a(edge_a.port("demo"));
    EXPECT_TRUE(closed_without_data(via_a)) << "edge a has no connector left";
    TcpClient via_b(edge_b.port("demo"));
    EXPECT_TRUE(echoes(via_b, "edge b goes on"));
  }
  EXPECT_EQ(edge_b.count_log(connector_disconnected()), 0u);
}

TEST(ReloadEdge, TheSocksEntryPointMovesAndTakesNewLimits) {
  EchoServer echo;
  EdgeSpec edge;
  edge.socks5 = Socks5Spec{.users = {{.username = "app1", .password = "pass"}}};
  ConnectorSpec connector;
  connector.systems = {{.virtual_host = "echo.corp", .virtual_port = "7", .internal_port = echo.port()}};
  TunnelPair pair(edge, connector);
  ASSERT_TRUE(pair.start());
  GatewayProcess& gateway = pair.edge();
  const auto login = gw::testing::SocksAuth::with_password("app1", "pass");

  // Another port, and a limit of one connection.
  const std::uint16_t old_port = gateway.socks_port();
  const std::uint16_t new_port = free_port();
  const std::size_t mark = gateway.log_mark();
  std::ofstream(gateway.config_file(), std::ios::trunc) << replaced(
      pair.setup().edge_yaml(edge), "socks5:\n  listen: 127.0.0.1:0\n",
      "socks5:\n  listen: 127.0.0.1:" + std::to_string(new_port) + "\n  limits: {max_connections: 1}\n");
  ASSERT_TRUE(reload(gateway, "config_reloaded"));
  EXPECT_EQ(gateway.count_log(log_event("restart_needed"), mark), 0u);
  EXPECT_EQ(gateway.count_log(log_event("listener_closed", {{"kind", "socks5"}}), mark), 1u);
  EXPECT_EQ(TcpClient::connect_error(old_port), ECONNREFUSED);

  gw::testing::SocksClient first(new_port);
  ASSERT_TRUE(first.connect(login, "echo.corp", 7).ok());
  first.send("moved");
  EXPECT_EQ(first.receive_exact(5), "moved");
  gw::testing::SocksClient second(new_port);
  EXPECT_TRUE(second.wait_closed()) << "a second client is refused while the first is connected";
  EXPECT_TRUE(
      gateway.wait_for_log(log_event("connection_refused", {{"destination", "socks5"}}), kGuard, mark));
  first.close();
  EXPECT_TRUE(poll_until([&] {
    gw::testing::SocksClient third(new_port);
    return third.connect(login, "echo.corp", 7).ok();
  })) << "once the first has gone, the next is served";

  // The file as it was: back on an ephemeral port, with the default limits.
  const std::size_t back = gateway.log_mark();
  std::ofstream(gateway.config_file(), std::ios::trunc) << pair.setup().edge_yaml(edge);
  ASSERT_TRUE(reload(gateway, "config_reloaded"));
  const auto listening = gateway.wait_for_log(log_event("listening", {{"kind", "socks5"}}), kGuard, back);
  ASSERT_TRUE(listening) << "the entry point did not move back";
  const std::string address = listening->get("address");
  const auto port = static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
  EXPECT_EQ(TcpClient::connect_error(new_port), ECONNREFUSED);
  gw::testing::SocksClient one(port);
  gw::testing::SocksClient two(port);
  EXPECT_TRUE(one.connect(login, "echo.corp", 7).ok());
  EXPECT_TRUE(two.connect(login, "echo.corp", 7).ok()) << "the limit of one is gone";
}

}  // namespace
}  // namespace gw::e2e
