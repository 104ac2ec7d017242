#include "config/config.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <map>
#include <utility>

#include "config/yaml_reader.hpp"
#include "net/host_name.hpp"
#include "tunnel/identity.hpp"

namespace gw::config {

namespace {

namespace fs = std::filesystem;
using yaml::child_key;
using yaml::describe;
using yaml::Fields;
using yaml::item_key;
using yaml::Reader;

constexpr std::int64_t kMaxWorkers = 1024;
constexpr std::uint64_t kMaxBufferSize = std::uint64_t{1024} * 1024 * 1024;
constexpr std::size_t kMaxDestinationName = 200;
constexpr std::size_t kMaxHostName = 253;

const char* const kEndpointExample = "an address such as 127.0.0.1:7000 or [::1]:7000";

bool is_alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

std::string host_name() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0 || buffer[0] == '\0') return "gatewayd";
  return buffer;
}

bool is_ipv6_literal(const std::string& text) {
  // An optional zone ("%eth0") follows the address.
  const auto percent = text.find('%');
  const std::string address = text.substr(0, percent);
  if (percent != std::string::npos) {
    const std::string_view zone = std::string_view(text).substr(percent + 1);
    if (zone.empty() || !std::all_of(zone.begin(), zone.end(), [](char c) {
          return is_alnum(c) || c == '_' || c == '-' || c == '.';
        })) {
      return false;
    }
  }
  in6_addr parsed{};
  return ::inet_pton(AF_INET6, address.c_str(), &parsed) == 1;
}

// A host name or IPv4 literal.
bool is_host_name(const std::string& text) {
  if (text.empty() || text.size() > kMaxHostName) return false;
  const bool numeric = std::all_of(text.begin(), text.end(), [](char c) {
    return c == '.' || std::isdigit(static_cast<unsigned char>(c));
  });
  if (numeric) {
    in_addr parsed{};
    return ::inet_pton(AF_INET, text.c_str(), &parsed) == 1;
  }
  std::size_t label_length = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '.') {
      if (label_length == 0) return false;  // empty label; a single trailing dot is allowed below
      label_length = 0;
      continue;
    }
    if (!is_alnum(c) && c != '-' && c != '_') return false;
    if (++label_length > 63) return false;
  }
  return true;
}

bool is_destination_name(std::string_view text) {
  return !text.empty() && text.size() <= kMaxDestinationName &&
         std::all_of(text.begin(), text.end(), [](char c) { return is_alnum(c) || c == '_' || c == '-'; });
}

bool is_node_name(std::string_view text) {
  return !text.empty() && text.size() <= kMaxHostName && std::all_of(text.begin(), text.end(), [](char c) {
    return is_alnum(c) || c == '_' || c == '-' || c == '.';
  });
}

bool is_scheme(std::string_view text) {
  if (text.empty() || !std::islower(static_cast<unsigned char>(text.front()))) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
           c == '+' || c == '-' || c == '.';
  });
}

bool is_wildcard(const std::string& host) {
  return host == "0.0.0.0" || host == "::";
}

// Reads an entry point or admin listen address.
std::optional<Endpoint> read_endpoint(Reader& reader, const YAML::Node& node, const std::string& key) {
  auto text = reader.string(node, key);
  if (!text) return std::nullopt;
  auto endpoint = parse_endpoint(*text);
  if (!endpoint) {
    reader.add(node, key, std::string("expected ") + kEndpointExample + ", got " + describe(node));
  }
  return endpoint;
}

struct Address {
  std::string scheme;
  Endpoint endpoint;
};

// "[scheme://]host:port" with a port from 1 to 65535.
std::optional<Address> read_address(Reader& reader, const YAML::Node& node, const std::string& key) {
  auto text = reader.string(node, key);
  if (!text) return std::nullopt;
  const auto bad = [&](const std::string& detail) {
    reader.add(node, key,
               "expected an address such as 127.0.0.1:7000, tcp://db.internal:5432 or [::1]:7000, got " +
                   describe(node) + detail);
    return std::nullopt;
  };
  Address address;
  std::string_view rest = *text;
  if (const auto separator = rest.find("://"); separator != std::string_view::npos) {
    address.scheme = std::string(rest.substr(0, separator));
    if (!is_scheme(address.scheme))
      return bad(" (the scheme must be lower-case letters, digits, '+', '-' or '.')");
    rest = rest.substr(separator + 3);
  }
  if (rest.empty() || rest.front() != '[') {
    if (std::count(rest.begin(), rest.end(), ':') > 1) {
      return bad(" (write IPv6 addresses in brackets, e.g. [::1]:7000)");
    }
    if (rest.find(':') == std::string_view::npos) return bad(" (the port is missing)");
  }
  auto endpoint = parse_endpoint(rest);
  if (!endpoint) return bad("");
  if (endpoint->port == 0) {
    reader.add(node, key, "the target port must be from 1 to 65535, got " + describe(node));
    return std::nullopt;
  }
  address.endpoint = std::move(*endpoint);
  return address;
}

// Reads a limits mapping over `limits`, which holds the values to start from.
void read_limits(Reader& reader, Fields& fields, Limits& limits) {
  std::chrono::milliseconds duration{};
  if (fields.read("connect_timeout", duration)) {
    if (duration.count() <= 0) {
      reader.add(*fields.get("connect_timeout"), fields.key("connect_timeout"),
                 "must be longer than 0 (e.g. 5s)");
    } else {
      limits.connect_timeout = duration;
    }
  }
  if (fields.read("idle_timeout", duration)) limits.idle_timeout = duration;
  if (fields.read("half_close_timeout", duration)) limits.half_close_timeout = duration;
  std::int64_t connections = 0;
  if (fields.read_integer("max_connections", 1, std::numeric_limits<std::uint32_t>::max(), connections)) {
    limits.max_connections = static_cast<std::uint32_t>(connections);
  }
  std::uint64_t buffer_size = 0;
  if (fields.read_size("buffer_size", buffer_size)) {
    if (buffer_size == 0 || buffer_size > kMaxBufferSize) {
      reader.add(*fields.get("buffer_size"), fields.key("buffer_size"),
                 "must be from 1 byte to 1GiB, got " + describe(*fields.get("buffer_size")));
    } else {
      limits.buffer_size = static_cast<std::size_t>(buffer_size);
    }
  }
}

const std::initializer_list<std::string_view> kLimitKeys = {
    "connect_timeout", "idle_timeout", "half_close_timeout", "max_connections", "buffer_size"};

class ConfigReader {
 public:
  ConfigReader(Reader& reader, const fs::path& file) : reader_(reader), base_dir_(yaml::directory_of(file)) {}

  void read(const YAML::Node& document, Config& config) {
    Fields top(reader_, document, "",
               {"node", "plugins", "log", "audit", "admin", "limits", "destinations", "tunnel", "connector",
                "systems", "socks5", "http_proxy"});
    if (auto node = top.get("node"))
      read_node(
          Fields(reader_, *node, "node", {"name", "role", "workers", "drain_timeout"}, top.position("node")),
          config.node);
    if (auto node = top.get("plugins"))
      read_plugins(Fields(reader_, *node, "plugins", {"paths", "allow"}, top.position("plugins")),
                   config.plugins);
    if (auto node = top.get("log"))
      read_log(Fields(reader_, *node, "log", {"level", "format"}, top.position("log")), config.log);
    if (auto node = top.get("audit"))
      read_audit(Fields(reader_, *node, "audit", {"level", "file"}, top.position("audit")), config.audit);
    if (auto node = top.get("admin"))
      read_admin(Fields(reader_, *node, "admin", {"listen", "lookup_token"}, top.position("admin")),
                 config.admin);
    if (auto node = top.get("limits")) {
      Fields fields(reader_, *node, "limits", kLimitKeys, top.position("limits"));
      read_limits(reader_, fields, config.limits);
    }
    if (auto node = top.get("destinations")) read_destinations(*node, config);
    if (auto node = top.get("tunnel")) {
      config.tunnel.emplace();
      read_tunnel(Fields(reader_, *node, "tunnel",
                         {"listen", "ca_file", "cert_file", "key_file", "crl_file", "ping_interval",
                          "ping_timeout", "max_concurrent_streams", "stream_window", "connection_window"},
                         top.position("tunnel")),
                  *config.tunnel);
    }
    if (auto node = top.get("connector")) {
      config.connector.emplace();
      read_connector(Fields(reader_, *node, "connector",
                            {"edges", "connections_per_edge", "ca_file", "cert_file", "key_file", "crl_file",
                             "reconnect_initial", "reconnect_max", "tenant", "location_id", "ping_interval",
                             "ping_timeout", "max_concurrent_streams", "stream_window", "connection_window"},
                            top.position("connector")),
                     *config.connector);
    }
    if (auto node = top.get("systems")) read_systems(*node, config);
    for (auto [key, entry] :
         {std::pair{"socks5", &config.socks5}, std::pair{"http_proxy", &config.http_proxy}}) {
      auto node = top.get(key);
      if (!node) continue;
      entry->emplace();
      (*entry)->limits = config.limits;
      (*entry)->position = top.position(key);
      read_proxy_entry(Fields(reader_, *node, key,
                              {"listen", "auth", "users", "jwt", "anonymous", "handshake_timeout", "limits"},
                              top.position(key)),
                       **entry);
    }
    check_role(top, config);
    if (config.node.role == Role::standalone) {
      if (!config.tunnel) config.tunnel.emplace();
      if (!config.connector) config.connector.emplace();
    }
    check_listen_conflicts();
  }

 private:
  struct Listener {
    Endpoint endpoint;
    std::string key;
    Position where;
  };

  void read_node(Fields fields, NodeConfig& node) {
    std::string name;
    if (fields.read("name", name)) {
      if (is_node_name(name)) {
        node.name = name;
      } else {
        reader_.add(
            *fields.get("name"), fields.key("name"),
            "expected a node name of 1 to 253 letters, digits, '.', '-' or '_', got " + yaml::quote(name));
      }
    }
    if (auto role = fields.get("role")) {
      if (auto index = reader_.choice(*role, fields.key("role"), {"edge", "connector", "standalone"})) {
        node.role = static_cast<Role>(*index);
      }
    }
    std::int64_t workers = 0;
    if (fields.read_integer("workers", 0, kMaxWorkers, workers))
      node.workers = static_cast<unsigned>(workers);
    fields.read("drain_timeout", node.drain_timeout);
  }

  void read_plugins(Fields fields, PluginsConfig& plugins) {
    if (auto paths = fields.get("paths")) {
      if (auto items = reader_.string_list(*paths, fields.key("paths"))) {
        std::size_t index = 0;
        for (auto& [text, item] : *items) {
          if (text.empty()) {
            reader_.add(item, item_key(fields.key("paths"), index),
                        "expected a directory, got an empty string");
          } else {
            plugins.paths.push_back(yaml::resolve_path(base_dir_, text));
          }
          ++index;
        }
      }
    }
    if (auto allow = fields.get("allow")) {
      if (auto items = reader_.string_list(*allow, fields.key("allow"))) {
        std::vector<std::string> names;
        std::size_t index = 0;
        for (auto& [text, item] : *items) {
          if (yaml::is_lower_name(text, 64)) {
            names.push_back(text);
          } else {
            reader_.add(
                item, item_key(fields.key("allow"), index),
                "expected a plugin name (a lower-case letter, then lower-case letters, digits, '_' or "
                "'-'), got " +
                    yaml::quote(text));
          }
          ++index;
        }
        plugins.allow = std::move(names);
      }
    }
  }

  void read_log(Fields fields, LogConfig& log) {
    if (auto level = fields.get("level")) {
      if (auto index = reader_.choice(*level, fields.key("level"), {"debug", "info", "warn", "error"})) {
        log.level = static_cast<LogLevel>(*index);
      }
    }
    if (auto format = fields.get("format")) {
      if (auto index = reader_.choice(*format, fields.key("format"), {"text", "json"})) {
        log.format = static_cast<LogFormat>(*index);
      }
    }
  }

  void read_audit(Fields fields, AuditConfig& audit) {
    if (auto level = fields.get("level")) {
      if (auto index = reader_.choice(*level, fields.key("level"), {"off", "security", "all"})) {
        audit.level = static_cast<AuditLevel>(*index);
      }
    }
    fields.read_path("file", base_dir_, audit.file);
  }

  void read_admin(Fields fields, AdminConfig& admin) {
    if (auto listen = fields.get("listen")) {
      admin.listen = read_endpoint(reader_, *listen, fields.key("listen"));
      if (admin.listen) add_listener(*admin.listen, fields.key("listen"), reader_.position(*listen));
    }
    if (auto token = fields.get("lookup_token")) {
      if (auto secret = yaml::read_secret(reader_, *token, fields.key("lookup_token"), base_dir_)) {
        if (secret->size() < 16) {
          reader_.add(*token, fields.key("lookup_token"),
                      "must be at least 16 bytes (it guards credentials)");
        }
        admin.lookup_token = std::move(*secret);
      }
    }
  }

  void read_destinations(const YAML::Node& node, Config& config) {
    if (node.IsNull()) return;
    if (!reader_.expect(node, "destinations", YAML::NodeType::Sequence, "a list of destinations")) return;
    std::size_t index = 0;
    for (const auto& item : node) {
      const std::string key = item_key("destinations", index++);
      if (!reader_.expect(item, key, YAML::NodeType::Map, "a destination (a mapping)")) continue;
      config.destinations.push_back(read_destination(item, key, config.limits));
    }
  }

  DestinationConfig read_destination(const YAML::Node& node, const std::string& key, const Limits& defaults) {
    DestinationConfig destination;
    destination.key = key;
    destination.position = reader_.position(node);
    destination.spec.limits = defaults;
    Destination& spec = destination.spec;
    Fields fields(reader_, node, key,
                  {"name", "route_type", "address", "proxy_type", "tenant", "location_id", "entry_point",
                   "tls", "limits", "settings"});
    for (auto required : {"name", "route_type", "address", "entry_point"}) fields.require(required);

    std::string name;
    if (fields.read("name", name)) {
      const YAML::Node name_node = *fields.get("name");
      if (!is_destination_name(name)) {
        reader_.add(
            name_node, fields.key("name"),
            "expected a destination name of 1 to 200 letters, digits, '-' or '_', got " + yaml::quote(name));
      } else if (auto first = destination_names_.find(name); first != destination_names_.end()) {
        reader_.add(name_node, fields.key("name"),
                    "destination name " + yaml::quote(name) + " is already used on line " +
                        std::to_string(first->second));
      } else {
        destination_names_.emplace(name, reader_.position(name_node).line);
      }
      spec.name = name;
    }
    read_route_type(fields, spec.route_type);
    if (auto address_node = fields.get("address")) {
      if (auto address = read_address(reader_, *address_node, fields.key("address"))) {
        spec.scheme = address->scheme;
        spec.host = address->endpoint.host;
        spec.port = address->endpoint.port;
      }
    }
    if (auto proxy_type = fields.get("proxy_type")) {
      if (auto index = reader_.choice(*proxy_type, fields.key("proxy_type"), {"internet", "on_premise"})) {
        spec.proxy_type = *index == 0 ? ProxyType::internet : ProxyType::on_premise;
      }
    }
    read_tenant(fields, "tenant", spec.tenant);
    read_location(fields, "location_id", spec.location_id);
    if (spec.proxy_type == ProxyType::internet) {
      for (auto field : {"tenant", "location_id"}) {
        if (fields.has(field)) {
          reader_.add(fields.position(field), fields.key(field),
                      std::string(field) + " applies only to proxy_type on_premise destinations");
        }
      }
    }
    if (auto entry_point = fields.get("entry_point")) {
      Fields entry(reader_, *entry_point, fields.key("entry_point"), {"listen"},
                   fields.position("entry_point"));
      entry.require("listen");
      if (auto listen = entry.get("listen")) {
        if (auto endpoint = read_endpoint(reader_, *listen, entry.key("listen"))) {
          destination.listen = *endpoint;
          add_listener(*endpoint, entry.key("listen"), reader_.position(*listen));
        }
      }
    }
    read_target_options(fields, spec.tls, spec.limits, destination.settings);
    return destination;
  }

  // Reads a string field that must satisfy `valid`; `rule` says what is expected in the problem.
  template <class Valid>
  void read_checked(Fields& fields, std::string_view name, std::string& out, Valid valid, const char* rule) {
    std::string text;
    if (!fields.read(name, text)) return;
    if (valid(text)) {
      out = text;
    } else {
      reader_.add(*fields.get(name), fields.key(name),
                  std::string("expected ") + rule + ", got " + yaml::quote(text));
    }
  }

  void read_route_type(Fields& fields, std::string& out) {
    read_checked(
        fields, "route_type", out, [](const std::string& t) { return yaml::is_lower_name(t, 32); },
        "a route type name (a lower-case letter, then up to 31 lower-case letters, digits, '_' or '-')");
  }

  void read_tenant(Fields& fields, std::string_view name, std::string& out) {
    read_checked(
        fields, name, out, tunnel::is_tenant_name,
        "a tenant name (a lower-case letter or digit, then up to 63 lower-case letters, digits, '_' or "
        "'-')");
  }

  void read_location(Fields& fields, std::string_view name, std::string& out) {
    read_checked(fields, name, out, tunnel::is_location_id,
                 "a location id (up to 64 letters, digits, '.', '_' or '-'; empty for the default location)");
  }

  void read_tunnel_files(Fields& fields, TunnelTlsFiles& files) {
    fields.read_path("ca_file", base_dir_, files.ca_file);
    fields.read_path("cert_file", base_dir_, files.cert_file);
    fields.read_path("key_file", base_dir_, files.key_file);
    fields.read_path("crl_file", base_dir_, files.crl_file);
  }

  void read_tuning(Fields& fields, TunnelTuning& tuning) {
    std::chrono::milliseconds duration{};
    for (auto [name, out] : {std::pair{"ping_interval", &tuning.ping_interval},
                             std::pair{"ping_timeout", &tuning.ping_timeout}}) {
      if (!fields.read(name, duration)) continue;
      if (duration < std::chrono::milliseconds(10)) {
        reader_.add(*fields.get(name), fields.key(name), "must be at least 10ms (e.g. 10s)");
      } else {
        *out = duration;
      }
    }
    std::int64_t streams = 0;
    if (fields.read_integer("max_concurrent_streams", 1, 1 << 20, streams))
      tuning.max_concurrent_streams = static_cast<std::uint32_t>(streams);
    // HTTP/2 windows are 31-bit; below the initial 64 KiB the peer could not send a full frame.
    for (auto [name, out] : {std::pair{"stream_window", &tuning.stream_window},
                             std::pair{"connection_window", &tuning.connection_window}}) {
      std::uint64_t size = 0;
      if (!fields.read_size(name, size)) continue;
      if (size < 65535 || size > 0x7fffffff) {
        reader_.add(*fields.get(name), fields.key(name),
                    "must be from 64KiB to 2GiB-1, got " + describe(*fields.get(name)));
      } else {
        *out = static_cast<std::uint32_t>(size);
      }
    }
  }

  void read_tunnel(Fields fields, TunnelListenConfig& tunnel) {
    if (auto listen = fields.get("listen")) {
      if (auto endpoint = read_endpoint(reader_, *listen, fields.key("listen"))) {
        tunnel.listen = *endpoint;
        add_listener(*endpoint, fields.key("listen"), reader_.position(*listen));
      }
    }
    read_tunnel_files(fields, tunnel.tls);
    read_tuning(fields, tunnel.tuning);
    tunnel_fields_.emplace(fields);
  }

  void read_connector(Fields fields, ConnectorConfig& connector) {
    if (auto edges = fields.get("edges")) {
      if (reader_.expect(*edges, fields.key("edges"), YAML::NodeType::Sequence, "a list of edges")) {
        std::size_t index = 0;
        for (const auto& item : *edges) {
          const std::string key = item_key(fields.key("edges"), index++);
          Fields edge(reader_, item, key, {"address", "server_name"});
          if (!edge.valid()) continue;
          edge.require("address");
          EdgeLink link;
          if (auto address = edge.get("address")) {
            auto endpoint = read_endpoint(reader_, *address, edge.key("address"));
            if (!endpoint) continue;
            if (endpoint->port == 0) {
              reader_.add(*address, edge.key("address"), "the edge's port must be from 1 to 65535");
              continue;
            }
            link.address = *endpoint;
          } else {
            continue;
          }
          link.server_name = link.address.host;
          edge.read("server_name", link.server_name);
          connector.edges.push_back(std::move(link));
        }
      }
    }
    std::int64_t connections = 0;
    if (fields.read_integer("connections_per_edge", 1, 64, connections))
      connector.connections_per_edge = static_cast<unsigned>(connections);
    read_tunnel_files(fields, connector.tls);
    std::chrono::milliseconds duration{};
    if (fields.read("reconnect_initial", duration)) {
      if (duration < std::chrono::milliseconds(10)) {
        reader_.add(*fields.get("reconnect_initial"), fields.key("reconnect_initial"),
                    "must be at least 10ms");
      } else {
        connector.reconnect_initial = duration;
      }
    }
    if (fields.read("reconnect_max", duration)) connector.reconnect_max = duration;
    if (connector.reconnect_max < connector.reconnect_initial) {
      reader_.add(fields.position("reconnect_max"), fields.key("reconnect_max"),
                  "must not be shorter than reconnect_initial (" +
                      yaml::format_duration(connector.reconnect_initial) + ")");
    }
    read_tenant(fields, "tenant", connector.tenant);
    read_location(fields, "location_id", connector.location_id);
    read_tuning(fields, connector.tuning);
    connector_fields_.emplace(fields);
  }

  void read_systems(const YAML::Node& node, Config& config) {
    if (node.IsNull()) return;
    if (!reader_.expect(node, "systems", YAML::NodeType::Sequence, "a list of systems")) return;
    std::size_t index = 0;
    for (const auto& item : node) {
      const std::string key = item_key("systems", index++);
      if (!reader_.expect(item, key, YAML::NodeType::Map, "a system (a mapping)")) continue;
      config.systems.push_back(read_system(item, key, config.limits));
    }
  }

  // "3300" or "3300-3310".
  bool read_port_range(Fields& fields, std::string_view name, std::uint16_t& first, std::uint16_t& last) {
    auto node = fields.get(name);
    if (!node) return false;
    auto text = reader_.string(*node, fields.key(name));
    if (!text) return false;
    const auto bad = [&] {
      reader_.add(*node, fields.key(name),
                  "expected a port (1-65535) or a range such as 3300-3310, got " + describe(*node));
      return false;
    };
    const auto dash = text->find('-');
    auto first_port = parse_endpoint("h:" + text->substr(0, dash));
    auto last_port = dash == std::string::npos ? first_port : parse_endpoint("h:" + text->substr(dash + 1));
    if (!first_port || !last_port || first_port->port == 0 || last_port->port < first_port->port)
      return bad();
    first = first_port->port;
    last = last_port->port;
    return true;
  }

  SystemConfig read_system(const YAML::Node& node, const std::string& key, const Limits& defaults) {
    SystemConfig system;
    system.key = key;
    system.position = reader_.position(node);
    System& spec = system.spec;
    spec.limits = defaults;
    Fields fields(reader_, node, key,
                  {"virtual_host", "virtual_port", "internal_host", "internal_port", "route_type", "enabled",
                   "tls", "limits", "settings"});
    for (auto required : {"virtual_host", "virtual_port", "internal_host", "route_type"})
      fields.require(required);
    for (auto [name, out] :
         {std::pair{"virtual_host", &spec.virtual_host}, std::pair{"internal_host", &spec.internal_host}}) {
      std::string host;
      if (!fields.read(name, host)) continue;
      if (is_host_name(host) || is_ipv6_literal(host)) {
        *out = name == std::string_view("virtual_host") ? net::canonical_host(host) : host;
      } else {
        reader_.add(*fields.get(name), fields.key(name),
                    "expected a host name or IP address, got " + yaml::quote(host));
      }
    }
    const bool ports_read =
        read_port_range(fields, "virtual_port", spec.virtual_port_first, spec.virtual_port_last);
    spec.internal_port_first = spec.virtual_port_first;
    std::int64_t internal_port = 0;
    if (fields.read_integer("internal_port", 1, 65535, internal_port)) {
      spec.internal_port_first = static_cast<std::uint16_t>(internal_port);
    }
    if (ports_read && spec.internal_port_first + (spec.virtual_port_last - spec.virtual_port_first) > 65535) {
      reader_.add(fields.position("internal_port"), fields.key("internal_port"),
                  "the virtual port range maps past port 65535");
    }
    read_route_type(fields, spec.route_type);
    fields.read("enabled", spec.enabled);
    read_target_options(fields, spec.tls, spec.limits, system.settings);
    if (ports_read && !spec.virtual_host.empty()) {
      for (const auto& [earlier, line] : system_ranges_) {
        if (earlier.virtual_host == spec.virtual_host &&
            earlier.virtual_port_first <= spec.virtual_port_last &&
            spec.virtual_port_first <= earlier.virtual_port_last) {
          reader_.add(*fields.get("virtual_port"), fields.key("virtual_port"),
                      spec.virtual_host + ":" + std::to_string(spec.virtual_port_first) +
                          " overlaps the system on line " + std::to_string(line));
          break;
        }
      }
      system_ranges_.emplace_back(spec, reader_.position(*fields.get("virtual_port")).line);
    }
    return system;
  }

  // socks5 and http_proxy: where they listen and how clients authenticate (password: RFC 1929 or
  // Proxy-Authorization Basic; jwt: method 0x80 or Proxy-Authorization Bearer).
  void read_proxy_entry(Fields fields, ProxyEntryConfig& socks) {
    fields.require("listen");
    fields.require("auth");
    if (auto listen = fields.get("listen")) {
      if (auto endpoint = read_endpoint(reader_, *listen, fields.key("listen"))) {
        socks.listen = *endpoint;
        add_listener(*endpoint, fields.key("listen"), reader_.position(*listen));
      }
    }
    if (auto auth = fields.get("auth")) {
      if (auto items = reader_.string_list(*auth, fields.key("auth"))) {
        std::size_t index = 0;
        for (auto& [text, item] : *items) {
          const std::string key = item_key(fields.key("auth"), index++);
          if (auto method = reader_.choice(item, key, {"none", "password", "jwt"})) {
            bool& offered = *method == 0   ? socks.offer_none
                            : *method == 1 ? socks.offer_password
                                           : socks.offer_jwt;
            offered = true;
          }
        }
        if (items->empty())
          reader_.add(*auth, fields.key("auth"), "list at least one of none, password, jwt");
      }
    }
    if (auto users = fields.get("users")) {
      if (reader_.expect(*users, fields.key("users"), YAML::NodeType::Sequence, "a list of users")) {
        std::size_t index = 0;
        std::map<std::string, int> names;
        for (const auto& item : *users) {
          const std::string key = item_key(fields.key("users"), index++);
          Fields user_fields(reader_, item, key, {"username", "password", "tenant", "location_id"});
          if (!user_fields.valid()) continue;
          for (auto required : {"username", "password", "tenant"}) user_fields.require(required);
          ProxyUser user;
          if (user_fields.read("username", user.username)) {
            // RFC 1929 carries each in one length byte.
            if (user.username.empty() || user.username.size() > 255) {
              reader_.add(*user_fields.get("username"), user_fields.key("username"),
                          "must be 1 to 255 bytes");
            } else if (!names.emplace(user.username, reader_.position(item).line).second) {
              reader_.add(*user_fields.get("username"), user_fields.key("username"),
                          "user " + yaml::quote(user.username) + " is already listed on line " +
                              std::to_string(names[user.username]));
            }
          }
          if (auto password = user_fields.get("password")) {
            if (auto secret = yaml::read_secret(reader_, *password, user_fields.key("password"), base_dir_)) {
              if (secret->empty() || secret->size() > 255) {
                reader_.add(*password, user_fields.key("password"), "must be 1 to 255 bytes");
              }
              user.password = std::move(*secret);
            }
          }
          read_tenant(user_fields, "tenant", user.tenant);
          read_location(user_fields, "location_id", user.location_id);
          socks.users.push_back(std::move(user));
        }
      }
    }
    if (auto jwt = fields.get("jwt")) {
      Fields jwt_fields(
          reader_, *jwt, fields.key("jwt"),
          {"algorithm", "secret", "public_key_file", "audience", "tenant_claim", "leeway", "max_lifetime"},
          fields.position("jwt"));
      ProxyJwtConfig config;
      jwt_fields.require("algorithm");
      jwt_fields.require("audience");
      if (auto algorithm = jwt_fields.get("algorithm")) {
        if (auto index = reader_.choice(*algorithm, jwt_fields.key("algorithm"), {"HS256", "RS256"})) {
          config.algorithm =
              *index == 0 ? ProxyJwtConfig::Algorithm::hs256 : ProxyJwtConfig::Algorithm::rs256;
          const char* needed = *index == 0 ? "secret" : "public_key_file";
          const char* other = *index == 0 ? "public_key_file" : "secret";
          if (!jwt_fields.has(needed)) {
            reader_.add(jwt_fields.position("algorithm"), jwt_fields.key(needed),
                        std::string("algorithm ") + algorithm->Scalar() + " needs " + needed);
          }
          if (jwt_fields.has(other)) {
            reader_.add(jwt_fields.position(other), jwt_fields.key(other),
                        std::string(other) + " does not apply to algorithm " + algorithm->Scalar());
          }
        }
      }
      if (auto secret = jwt_fields.get("secret")) {
        if (auto value = yaml::read_secret(reader_, *secret, jwt_fields.key("secret"), base_dir_)) {
          // RFC 7518 3.2: an HS256 key must be at least as long as the hash.
          if (value->size() < 32) {
            reader_.add(*secret, jwt_fields.key("secret"), "an HS256 secret must be at least 32 bytes");
          }
          config.secret = std::move(*value);
        }
      }
      jwt_fields.read_path("public_key_file", base_dir_, config.public_key_file);
      if (jwt_fields.read("audience", config.audience) && config.audience.empty()) {
        reader_.add(*jwt_fields.get("audience"), jwt_fields.key("audience"), "must not be empty");
      }
      if (jwt_fields.read("tenant_claim", config.tenant_claim) && config.tenant_claim.empty()) {
        reader_.add(*jwt_fields.get("tenant_claim"), jwt_fields.key("tenant_claim"), "must not be empty");
      }
      jwt_fields.read("leeway", config.leeway);
      jwt_fields.read("max_lifetime", config.max_lifetime);
      socks.jwt = std::move(config);
    }
    if (auto anonymous = fields.get("anonymous")) {
      Fields anonymous_fields(reader_, *anonymous, fields.key("anonymous"), {"tenant", "location_id"},
                              fields.position("anonymous"));
      anonymous_fields.require("tenant");
      read_tenant(anonymous_fields, "tenant", socks.anonymous_tenant);
      read_location(anonymous_fields, "location_id", socks.anonymous_location);
    }
    fields.read("handshake_timeout", socks.handshake_timeout);
    if (auto limits = fields.get("limits")) {
      Fields limit_fields(reader_, *limits, fields.key("limits"), kLimitKeys, fields.position("limits"));
      read_limits(reader_, limit_fields, socks.limits);
    }
    // Each offered method needs what it authenticates against, and nothing is configured in vain.
    const auto mismatch = [&](bool offered, std::string_view key, const char* method) {
      if (offered && !fields.has(key)) {
        reader_.add(fields.position("auth"), fields.key(key),
                    std::string("auth offers ") + method + " but " + std::string(key) + " is not set");
      } else if (!offered && fields.has(key)) {
        reader_.add(fields.position(key), fields.key(key),
                    std::string(key) + " is set but auth does not offer " + method);
      }
    };
    if (fields.has("auth")) {
      mismatch(socks.offer_password, "users", "password");
      mismatch(socks.offer_jwt, "jwt", "jwt");
      mismatch(socks.offer_none, "anonymous", "none");
    }
  }

  // Which sections a role uses; a section that would be ignored is an error, not a surprise.
  void check_role(Fields& top, const Config& config) {
    const Role role = config.node.role;
    const std::string role_text(role_name(role));
    auto not_for_role = [&](std::string_view key, const char* why) {
      if (top.has(key)) {
        reader_.add(top.position(key), std::string(key),
                    std::string(key) + " does not apply to role " + role_text + " (" + why + ")");
      }
    };
    if (role == Role::edge) {
      not_for_role("connector", "it configures a connector; use role connector or standalone");
      not_for_role("systems", "the allowlist belongs to the connector");
    }
    if (role == Role::connector) {
      not_for_role("destinations", "destinations belong to the edge");
      not_for_role("socks5", "entry points belong to the edge");
      not_for_role("http_proxy", "entry points belong to the edge");
      not_for_role("tunnel", "connectors dial out; configure connector.edges");
      if (!config.connector) {
        reader_.add(Position{reader_.file(), 1, 1}, "connector",
                    "role connector needs a connector section (edges to dial, certificates)");
      }
    }
    // Certificates: files on edge and connector, minted in memory for standalone.
    const auto require_files = [&](const std::optional<Fields>& fields) {
      if (!fields) return;
      for (auto key : {"ca_file", "cert_file", "key_file", "crl_file"}) {
        const bool optional = std::string_view(key) == "crl_file";
        if (role == Role::standalone && fields->has(key)) {
          reader_.add(fields->position(key), fields->key(key),
                      "role standalone mints its tunnel certificates in memory; remove " + std::string(key));
        } else if (role != Role::standalone && !optional && !fields->has(key)) {
          reader_.add(fields->position(key), fields->key(key),
                      "missing required key '" + std::string(key) +
                          "' (the tunnel uses mutual TLS; "
                          "`gatewayd certs` creates the files)");
        }
      }
    };
    if (role == Role::edge && tunnel_fields_ && !tunnel_fields_->has("listen")) {
      reader_.add(tunnel_fields_->position("listen"), tunnel_fields_->key("listen"),
                  "missing required key 'listen' (where connectors dial in)");
    }
    if (role == Role::edge) require_files(tunnel_fields_);
    if (role == Role::connector) require_files(connector_fields_);
    if (role == Role::standalone) {
      require_files(tunnel_fields_);
      require_files(connector_fields_);
    }
    if (connector_fields_) {
      if (role == Role::standalone && connector_fields_->has("edges")) {
        reader_.add(connector_fields_->position("edges"), connector_fields_->key("edges"),
                    "role standalone connects to its own edge; remove edges");
      }
      if (role == Role::connector) {
        if (!connector_fields_->has("edges")) {
          reader_.add(connector_fields_->position("edges"), connector_fields_->key("edges"),
                      "missing required key 'edges' (the edges this connector dials)");
        } else if (config.connector->edges.empty() && reader_.ok()) {
          reader_.add(connector_fields_->position("edges"), connector_fields_->key("edges"),
                      "list at least one edge");
        }
        for (auto key : {"tenant", "location_id"}) {
          if (connector_fields_->has(key)) {
            reader_.add(connector_fields_->position(key), connector_fields_->key(key),
                        "a connector's " + std::string(key) +
                            " comes from its certificate (see `gatewayd certs "
                            "connector`); remove it here");
          }
        }
      }
    }
    if (role == Role::edge && !config.tunnel) {
      for (const auto& destination : config.destinations) {
        if (destination.spec.proxy_type == ProxyType::on_premise) {
          reader_.add(destination.position, destination.key + ".proxy_type",
                      "proxy_type on_premise needs a tunnel section (where connectors dial in)");
        }
      }
      if (config.socks5) {
        reader_.add(config.socks5->position, "socks5",
                    "the SOCKS5 entry point reaches connectors and needs a tunnel section");
      }
      if (config.http_proxy) {
        reader_.add(config.http_proxy->position, "http_proxy",
                    "the HTTP proxy reaches connectors and needs a tunnel section");
      }
    }
  }

  // What destinations and systems share: TLS towards the target, limits, and the plugin's settings
  // (kept as YAML until the plugin's manifest is known).
  void read_target_options(Fields& fields, TlsClientOptions& tls, Limits& limits, YAML::Node& settings) {
    if (auto node = fields.get("tls"))
      read_tls(Fields(reader_, *node, fields.key("tls"),
                      {"enabled", "verify", "server_name", "ca_file", "cert_file", "key_file"},
                      fields.position("tls")),
               tls);
    if (auto node = fields.get("limits")) {
      Fields limit_fields(reader_, *node, fields.key("limits"), kLimitKeys, fields.position("limits"));
      read_limits(reader_, limit_fields, limits);
    }
    if (auto node = fields.get("settings")) settings = *node;
  }

  void read_tls(Fields fields, TlsClientOptions& tls) {
    fields.read("enabled", tls.enabled);
    fields.read("verify", tls.verify);
    fields.read("server_name", tls.server_name);
    fs::path path;
    if (fields.read_path("ca_file", base_dir_, path)) tls.ca_file = path.string();
    const bool cert_read = fields.read_path("cert_file", base_dir_, path);
    if (cert_read) tls.cert_file = path.string();
    const bool key_read = fields.read_path("key_file", base_dir_, path);
    if (key_read) tls.key_file = path.string();
    // A value that could not be read has been reported already.
    const bool cert_invalid = fields.has("cert_file") && !cert_read;
    const bool key_invalid = fields.has("key_file") && !key_read;
    if (!tls.key_file.empty() && tls.cert_file.empty() && !cert_invalid) {
      reader_.add(fields.position("key_file"), fields.key("key_file"),
                  "key_file is set but cert_file is not: a client key needs its certificate");
    }
    if (!tls.cert_file.empty() && tls.key_file.empty() && !key_invalid) {
      reader_.add(fields.position("cert_file"), fields.key("cert_file"),
                  "cert_file is set but key_file is not: a client certificate needs its private key");
    }
  }

  void add_listener(const Endpoint& endpoint, const std::string& key, const Position& where) {
    listeners_.push_back(Listener{endpoint, key, where});
  }

  // Two listeners on the same port conflict when their hosts are equal or one of them is a wildcard.
  // Port 0 never conflicts: the kernel picks a free port for each.
  void check_listen_conflicts() {
    std::stable_sort(listeners_.begin(), listeners_.end(), [](const Listener& a, const Listener& b) {
      return std::pair(a.where.line, a.where.column) < std::pair(b.where.line, b.where.column);
    });
    for (std::size_t later = 0; later < listeners_.size(); ++later) {
      const auto& b = listeners_[later];
      if (b.endpoint.port == 0) continue;
      for (std::size_t earlier = 0; earlier < later; ++earlier) {
        const auto& a = listeners_[earlier];
        if (a.endpoint.port != b.endpoint.port) continue;
        const std::string host_a = net::canonical_host(a.endpoint.host);
        const std::string host_b = net::canonical_host(b.endpoint.host);
        if (host_a == host_b) {
          reader_.add(b.where, b.key,
                      "listen address " + b.endpoint.str() + " is already used by " + a.key + " (line " +
                          std::to_string(a.where.line) + ")");
          break;
        }
        if (is_wildcard(host_a) || is_wildcard(host_b)) {
          reader_.add(b.where, b.key,
                      "listen address " + b.endpoint.str() + " overlaps " + a.endpoint.str() + " of " +
                          a.key + " (line " + std::to_string(a.where.line) + ")");
          break;
        }
      }
    }
  }

  Reader& reader_;
  fs::path base_dir_;
  std::map<std::string, int> destination_names_;  // name -> line
  std::vector<Listener> listeners_;
  std::vector<std::pair<System, int>> system_ranges_;  // for overlap checks; int: line
  std::optional<Fields> tunnel_fields_;
  std::optional<Fields> connector_fields_;
};

}  // namespace

std::string_view role_name(Role role) {
  switch (role) {
    case Role::edge:
      return "edge";
    case Role::connector:
      return "connector";
    case Role::standalone:
      return "standalone";
  }
  return "edge";
}

std::string Endpoint::str() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Config parse_config(std::string_view yaml_text, const std::filesystem::path& file) {
  Reader reader(file.string());
  Config config;
  {
    std::error_code error;
    auto absolute = fs::absolute(file, error);
    config.file = (error ? file : absolute).lexically_normal();
  }
  config.node.name = host_name();
  config.text = std::string(yaml_text);
  if (auto document = reader.parse_mapping_document(yaml_text)) {
    ConfigReader(reader, file).read(*document, config);
  }
  reader.throw_if_any();
  return config;
}

std::vector<std::string> changed_sections(std::string_view before, std::string_view after) {
  // Both texts passed parse_config(), so yaml-cpp reads them without the reader's guards.
  const YAML::Node old_root = YAML::Load(std::string(before));
  const YAML::Node new_root = YAML::Load(std::string(after));
  const auto dumped = [](const YAML::Node& root, const std::string& key) {
    const YAML::Node value = root.IsMap() ? root[key] : YAML::Node();
    return value ? YAML::Dump(value) : std::string();
  };
  std::vector<std::string> changed;
  const auto compare = [&](const YAML::Node& root) {
    if (!root.IsMap()) return;
    for (const auto& entry : root) {
      const std::string key = entry.first.as<std::string>();
      if (std::find(changed.begin(), changed.end(), key) != changed.end()) continue;
      if (dumped(old_root, key) != dumped(new_root, key)) changed.push_back(key);
    }
  };
  compare(new_root);
  compare(old_root);
  return changed;
}

ListEntries list_entries(std::string_view text, const std::string& section, const std::string& key) {
  ListEntries entries;
  const YAML::Node root = YAML::Load(std::string(text));
  const YAML::Node list = root.IsMap() ? root[section] : YAML::Node();
  if (!list || !list.IsSequence()) return entries;
  for (const auto& entry : list) {
    const YAML::Node name = entry.IsMap() ? entry[key] : YAML::Node();
    if (name && name.IsScalar()) entries.emplace_back(name.Scalar(), YAML::Dump(entry));
  }
  return entries;
}

std::vector<std::string> changed_entries(const ListEntries& before, const ListEntries& after) {
  const auto find = [](const ListEntries& list, const std::string& name) {
    return std::find_if(list.begin(), list.end(), [&](const auto& entry) { return entry.first == name; });
  };
  std::vector<std::string> changed;
  for (const auto& [name, text] : after) {
    const auto old = find(before, name);
    if (old == before.end() || old->second != text) changed.push_back(name);
  }
  for (const auto& [name, text] : before) {
    if (find(after, name) == after.end()) changed.push_back(name);
  }
  return changed;
}

Config load_config(const std::filesystem::path& file) {
  std::string error;
  auto text = yaml::read_file(file, yaml::kMaxDocumentBytes, error);
  if (!text) throw Problems({Problem{Position{file.string(), 0, 0}, "", error}});
  return parse_config(*text, file);
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  bool out_of_range = false;
  return yaml::parse_duration(text, out_of_range);
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  bool out_of_range = false;
  return yaml::parse_size(text, out_of_range);
}

std::optional<Endpoint> parse_endpoint(std::string_view text) {
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    host = std::string(text.substr(1, close - 1));
    if (!is_ipv6_literal(host)) return std::nullopt;
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = std::string(text.substr(0, colon));
    if (!is_host_name(host)) return std::nullopt;
    port_text = text.substr(colon + 1);
  }
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  unsigned port = 0;
  for (char c : port_text) port = port * 10 + static_cast<unsigned>(c - '0');
  if (port > 65535) return std::nullopt;
  return Endpoint{std::move(host), static_cast<std::uint16_t>(port)};
}

}  // namespace gw::config
