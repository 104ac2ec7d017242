// The gateway's configuration: one YAML file (see docs/configuration.md for every key).
//
// load_config() reads and validates the whole file and throws config::Problems listing every problem,
// each naming file, line and key path. Unknown keys are errors: a typo must not silently switch off a
// security setting. Plugin settings of a destination are kept as YAML here and validated against the
// plugin's manifest once plugins are loaded (see settings.hpp).
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/problem.hpp"
#include "gateway/plugin/route.hpp"

namespace gw::config {

struct Endpoint {
  std::string host;  // literal address or name; IPv6 without brackets
  std::uint16_t port = 0;
  std::string str() const;  // "host:port" or "[v6]:port"
  bool operator==(const Endpoint&) const = default;
};

enum class Role { edge, connector, standalone };
enum class LogFormat { text, json };
enum class AuditLevel { off, security, all };

struct NodeConfig {
  std::string name;  // default: the host name
  Role role = Role::edge;
  unsigned workers = 0;  // 0: one per CPU core
  std::chrono::milliseconds drain_timeout{30000};
};

struct PluginsConfig {
  std::vector<std::filesystem::path> paths;       // absolute (relative ones resolved against the config dir)
  std::optional<std::vector<std::string>> allow;  // plugin names; unset: all discovered plugins
};

struct LogConfig {
  LogLevel level = LogLevel::info;
  LogFormat format = LogFormat::text;
};

struct AuditConfig {
  AuditLevel level = AuditLevel::security;
  std::filesystem::path file;  // empty: audit records go to the log stream
};

struct AdminConfig {
  std::optional<Endpoint> listen;  // unset: no admin listener
  // The destination lookup API answers only requests with `Authorization: Bearer <lookup_token>`;
  // empty: the API is off (resolved secret, never logged).
  std::string lookup_token;
};

struct DestinationConfig {
  Destination spec;     // everything but settings, which are resolved against the manifest later
  Endpoint listen;      // entry_point.listen
  YAML::Node settings;  // raw `settings:` mapping (may be null)
  Position position;    // of the destination's list item
  std::string key;      // "destinations[3]"
};

// HTTP/2 tuning of tunnel connections, the same keys on both sides.
struct TunnelTuning {
  std::chrono::milliseconds ping_interval{10000};      // PING after this long without a frame from the peer
  std::chrono::milliseconds ping_timeout{5000};        // no frame this long after a PING: the peer is dead
  std::uint32_t max_concurrent_streams = 8192;         // streams the peer may open on one connection
  std::uint32_t stream_window = 1024 * 1024;           // receive window per stream
  std::uint32_t connection_window = 16 * 1024 * 1024;  // receive window per connection
  bool operator==(const TunnelTuning&) const = default;
};

// Files of one side of the tunnel's mutual TLS. All empty in standalone mode: certificates are then
// minted in memory at start-up.
struct TunnelTlsFiles {
  std::filesystem::path ca_file;    // CA that signed the peer's certificate
  std::filesystem::path cert_file;  // our certificate
  std::filesystem::path key_file;
  std::filesystem::path crl_file;  // optional: revoked peer certificates, a CRL of every CA in ca_file
  bool operator==(const TunnelTlsFiles&) const = default;
};

// Edge: where connectors dial in.
struct TunnelListenConfig {
  Endpoint listen{"127.0.0.1", 0};
  TunnelTlsFiles tls;
  TunnelTuning tuning;
  bool operator==(const TunnelListenConfig&) const = default;
};

struct EdgeLink {
  Endpoint address;
  std::string server_name;  // name verified in the edge's certificate; default: the address's host
  bool operator==(const EdgeLink&) const = default;
};

// Connector: which edges to dial and how.
struct ConnectorConfig {
  std::vector<EdgeLink> edges;  // empty in standalone mode (the in-process edge is dialled)
  unsigned connections_per_edge = 2;
  TunnelTlsFiles tls;
  std::chrono::milliseconds reconnect_initial{250};
  std::chrono::milliseconds reconnect_max{30000};
  TunnelTuning tuning;
  // Standalone only: the in-process connector's identity (a connector's comes from its certificate).
  std::string tenant = "default";
  std::string location_id;
  bool operator==(const ConnectorConfig&) const = default;
};

struct SystemConfig {
  System spec;          // everything but settings, which are resolved against the manifest later
  YAML::Node settings;  // raw `settings:` mapping (may be null)
  Position position;    // of the system's list item
  std::string key;      // "systems[2]"
};

struct ProxyUser {
  std::string username;
  std::string password;  // resolved secret; never logged
  std::string tenant;
  std::string location_id;
};

struct ProxyJwtConfig {
  enum class Algorithm { hs256, rs256 };
  Algorithm algorithm = Algorithm::hs256;
  std::string secret;                     // HS256 (resolved secret)
  std::filesystem::path public_key_file;  // RS256
  std::string audience;
  std::string tenant_claim = "tenant";
  std::chrono::milliseconds leeway{60000};    // clock skew allowed for exp, nbf and iat
  std::chrono::milliseconds max_lifetime{0};  // longest exp - iat accepted; 0: any
};

struct ProxyEntryConfig {
  Endpoint listen;
  bool offer_none = false;
  bool offer_password = false;
  bool offer_jwt = false;
  std::vector<ProxyUser> users;
  std::optional<ProxyJwtConfig> jwt;
  std::string anonymous_tenant;  // identity of a client that authenticated with `none`
  std::string anonymous_location;
  std::chrono::milliseconds handshake_timeout{10000};
  Limits limits;  // for streams to virtual hosts no destination describes
  Position position;
};

struct Config {
  std::filesystem::path file;
  std::string text;  // the file's YAML as read, to tell what a reload changes
  NodeConfig node;
  PluginsConfig plugins;
  LogConfig log;
  AuditConfig audit;
  AdminConfig admin;
  Limits limits;  // defaults every destination and system starts from
  std::vector<DestinationConfig> destinations;
  std::optional<TunnelListenConfig> tunnel;    // edge, standalone
  std::optional<ConnectorConfig> connector;    // connector, standalone
  std::vector<SystemConfig> systems;           // connector, standalone
  std::optional<ProxyEntryConfig> socks5;      // edge, standalone
  std::optional<ProxyEntryConfig> http_proxy;  // edge, standalone

  bool runs_edge() const noexcept { return node.role != Role::connector; }
  bool runs_connector() const noexcept { return node.role != Role::edge; }
};

std::string_view role_name(Role role);

// Reads and validates `file`. Throws Problems.
Config load_config(const std::filesystem::path& file);
// Same, from text; `file` is used for error positions and to resolve relative paths.
Config parse_config(std::string_view yaml_text, const std::filesystem::path& file);

// The top-level sections (`node`, `log`, `destinations`, ...) whose values differ between two texts
// that parse_config() accepted: those of `after` in its order, then those only `before` has.
// Comments and the order of sections do not count; a change of style within a value (flow or block)
// does.
std::vector<std::string> changed_sections(std::string_view before, std::string_view after);
// The entries of the list `section` of such a text, as (their `key` value, the entry as YAML), in
// order: how a reload tells which destinations changed.
using ListEntries = std::vector<std::pair<std::string, std::string>>;
ListEntries list_entries(std::string_view text, const std::string& section, const std::string& key);
// The keys of the entries that differ or were added (in the order of `after`), then of those removed.
std::vector<std::string> changed_entries(const ListEntries& before, const ListEntries& after);

// Value parsers shared by the config and manifest readers; each returns nullopt on malformed input.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);  // "250ms" "5s" "2m" "1h"
std::optional<std::uint64_t> parse_size(std::string_view text);  // "65536" "64KiB" "1MiB" "1GiB"
std::optional<Endpoint> parse_endpoint(std::string_view text);   // "host:port" "[::1]:port"

}  // namespace gw::config
