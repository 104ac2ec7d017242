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
  std::vector<std::filesystem::path> paths;  // absolute (relative ones resolved against the config dir)
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
};

struct DestinationConfig {
  Destination spec;        // everything but settings, which are resolved against the manifest later
  Endpoint listen;         // entry_point.listen
  YAML::Node settings;     // raw `settings:` mapping (may be null)
  Position position;       // of the destination's list item
  std::string key;         // "destinations[3]"
};

struct Config {
  std::filesystem::path file;
  NodeConfig node;
  PluginsConfig plugins;
  LogConfig log;
  AuditConfig audit;
  AdminConfig admin;
  Limits limits;  // defaults every destination starts from
  std::vector<DestinationConfig> destinations;
};

// Reads and validates `file`. Throws Problems.
Config load_config(const std::filesystem::path& file);
// Same, from text; `file` is used for error positions and to resolve relative paths.
Config parse_config(std::string_view yaml_text, const std::filesystem::path& file);

// Value parsers shared by the config and manifest readers; each returns nullopt on malformed input.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);  // "250ms" "5s" "2m" "1h"
std::optional<std::uint64_t> parse_size(std::string_view text);  // "65536" "64KiB" "1MiB" "1GiB"
std::optional<Endpoint> parse_endpoint(std::string_view text);   // "host:port" "[::1]:port"

}  // namespace gw::config
