// Edges and connectors as child processes, joined by real tunnels: certificates made with
// `gatewayd certs`, configurations written from small specs, and the waits that tell a test the tunnel
// is up (the edge's `event=connector_connected` records), never a sleep.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/gateway_process.hpp"
#include "support/socks_client.hpp"
#include "support/temp_dir.hpp"

namespace gw::e2e {

// Runs `gatewayd certs ARGS...`; fails with the command's output unless it exits 0.
::testing::AssertionResult run_certs(const std::vector<std::string>& args);

// Dead-peer detection settings for both sides of a tunnel: small, so that a frozen peer is noticed in
// well under the tests' guard, yet loose enough that a busy machine does not trip them.
struct Keepalive {
  std::string ping_interval = "300ms";
  std::string ping_timeout = "2s";
};

// An on_premise destination of an edge: clients of its entry point reach `address`, a virtual
// host:port, through a connector of `tenant` and `location_id`.
struct OnPremiseDestination {
  std::string name = "demo";
  std::string address{};  // virtual HOST:PORT
  std::string tenant = "acme";
  std::string location_id{};
  std::string listen = "127.0.0.1:0";
  std::string route_type = "tcp";
  std::string settings{};  // YAML flow mapping of plugin settings; empty: none
};

struct ProxyUser {
  std::string username{};
  std::string password{};
  std::string tenant = "acme";
  std::string location_id{};
};

// The edge's socks5 section (listening on an ephemeral port).
struct Socks5Spec {
  std::vector<std::string> auth = {"password"};  // none | password | jwt
  std::vector<ProxyUser> users{};
  std::string jwt{};        // YAML flow mapping for socks5.jwt; empty: none
  std::string anonymous{};  // YAML flow mapping for socks5.anonymous; empty: none

  std::string yaml() const;
};

// An edge: tunnel listener on an ephemeral port with the setup's CA and edge certificate, an admin
// listener, audit level all into DIR/audit.log.
struct EdgeSpec {
  std::string name = "edge-1";
  unsigned workers = 0;  // node.workers; 0: the default (one per core)
  std::vector<OnPremiseDestination> destinations{};
  std::optional<Socks5Spec> socks5{};
  Keepalive keepalive{};
  std::string drain_timeout = "10s";
};

// One entry of a connector's allowlist.
struct SystemSpec {
  std::string virtual_host{};
  std::string virtual_port{};  // "3300" or "3300-3310"
  std::string internal_host = "127.0.0.1";
  std::uint16_t internal_port = 0;
  bool enabled = true;
  std::string route_type = "tcp";
  std::string settings{};  // YAML flow mapping of plugin settings; empty: none
};

// A connector dialling the edges at `edge_ports` (server name localhost), with the certificate
// certs/CERT.pem of the setup. `tenant` and `location` are what TunnelPair puts in that certificate.
struct ConnectorSpec {
  std::string name = "connector-1";
  std::string cert = "connector";
  std::string tenant = "acme";
  std::string location{};
  std::vector<std::uint16_t> edge_ports{};
  unsigned connections_per_edge = 2;
  std::vector<SystemSpec> systems{};
  Keepalive keepalive{};
  std::string drain_timeout = "10s";
};

// Matches audit records of `name` (tunnel.stream, tcp.connection, ...) whose fields have the given
// values, as written to the audit file ("event") or to the log ("audit_event").
RecordMatcher audit_event(std::string name,
                          std::initializer_list<std::pair<std::string, std::string>> fields = {});

// Matches the edge's `event=connector_connected` records.
RecordMatcher connector_connected();
// Matches the edge's `event=connector_disconnected` records.
RecordMatcher connector_disconnected();

// A temporary directory holding certs/ (made with `gatewayd certs`) and one subdirectory per gatewayd
// process started from it (its configuration and audit.log).
class TunnelSetup {
 public:
  TunnelSetup();
  TunnelSetup(const TunnelSetup&) = delete;
  TunnelSetup& operator=(const TunnelSetup&) = delete;

  // `gatewayd certs ca --out certs` and `gatewayd certs edge` for localhost and 127.0.0.1.
  ::testing::AssertionResult create_certificates();
  // `gatewayd certs connector` into certs/PREFIX.pem and certs/PREFIX.key, signed by the CA in `ca_dir`
  // (default: certs/).
  ::testing::AssertionResult create_connector_certificate(const std::string& prefix,
                                                          const std::string& tenant,
                                                          const std::string& location = "",
                                                          const std::filesystem::path& ca_dir = {});

  const std::filesystem::path& root() const { return root_.path(); }
  std::filesystem::path certs() const { return root() / "certs"; }

  std::string edge_yaml(const EdgeSpec& spec) const;
  std::string connector_yaml(const ConnectorSpec& spec) const;

  // Starts gatewayd in root()/NAME; the caller waits for it (wait_ready, connector_connected).
  GatewayProcess& start_edge(const EdgeSpec& spec);
  GatewayProcess& start_connector(const ConnectorSpec& spec);
  GatewayProcess& start(const std::string& name, const std::string& yaml);

 private:
  TempDir root_;
  std::vector<std::unique_ptr<GatewayProcess>> processes_;  // destroyed before root_
};

// The usual arrangement: one edge and one connector dialling it, with certificates of one CA.
class TunnelPair {
 public:
  TunnelPair(EdgeSpec edge, ConnectorSpec connector)
      : edge_spec_(std::move(edge)), connector_spec_(std::move(connector)) {}

  // Creates the certificates, starts the edge, reads its tunnel port, starts the connector and waits
  // until the edge has logged connector_connected once per tunnel connection.
  ::testing::AssertionResult start();

  TunnelSetup& setup() { return setup_; }
  GatewayProcess& edge() { return *edge_; }
  GatewayProcess& connector() { return *connector_; }
  const ConnectorSpec& connector_spec() const { return connector_spec_; }

  // Kills the connector, starts it again on the same configuration and waits until the edge has
  // logged connector_connected for each of its new connections.
  ::testing::AssertionResult restart_connector();

 private:
  EdgeSpec edge_spec_;
  ConnectorSpec connector_spec_;
  TunnelSetup setup_;
  GatewayProcess* edge_ = nullptr;
  GatewayProcess* connector_ = nullptr;
};

// Waits until `edge` has logged `count` connector_connected records from `from` on.
::testing::AssertionResult wait_connected(GatewayProcess& edge, std::size_t count, std::size_t from = 0);

// Many clients at once through one port, each sending its own payload and reading it back (driven by
// one event loop in the test process, so a few hundred connections cost no threads).
struct ConcurrentEchoes {
  std::size_t connections = 0;
  std::size_t intact = 0;             // received back exactly what they sent, then end of stream
  std::vector<std::string> failures;  // "connection N: what went wrong", for the others
};
ConcurrentEchoes run_concurrent_echoes(std::uint16_t port, std::size_t connections, std::size_t payload_size);

// Raises this process's soft limit of open files to at least `wanted` (up to the hard limit); child
// processes started afterwards inherit it. Returns the soft limit in effect.
std::uint64_t raise_open_files_limit(std::uint64_t wanted);

// The data phase of a SOCKS5 connection whose CONNECT reached an echo server: sends `payload` and
// receives the same bytes back.
::testing::AssertionResult socks_echoes(gw::testing::SocksClient& client, std::string_view payload);
// The same at volume: `size` pseudo-random bytes sent on a thread of their own while this one receives,
// then the client's end of stream; everything must come back intact before the server's end of stream.
::testing::AssertionResult socks_echo_transfer(gw::testing::SocksClient& client, std::size_t size,
                                               std::uint64_t seed);

// `curl --socks5-hostname USER:PASSWORD@127.0.0.1:PORT URL`, run to completion.
CommandResult curl_through_socks(std::uint16_t socks_port, const std::string& credentials,
                                 const std::string& url);

}  // namespace gw::e2e
