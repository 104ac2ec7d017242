#include "config/config.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <map>
#include <utility>

#include "config/yaml_reader.hpp"

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

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  return text;
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

const std::initializer_list<std::string_view> kLimitKeys = {"connect_timeout", "idle_timeout",
                                                            "max_connections", "buffer_size"};

class ConfigReader {
 public:
  ConfigReader(Reader& reader, const fs::path& file) : reader_(reader), base_dir_(yaml::directory_of(file)) {}

  void read(const YAML::Node& document, Config& config) {
    Fields top(reader_, document, "", {"node", "plugins", "log", "audit", "admin", "limits", "destinations"});
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
      read_admin(Fields(reader_, *node, "admin", {"listen"}, top.position("admin")), config.admin);
    if (auto node = top.get("limits")) {
      Fields fields(reader_, *node, "limits", kLimitKeys, top.position("limits"));
      read_limits(reader_, fields, config.limits);
    }
    if (auto node = top.get("destinations")) read_destinations(*node, config);
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
        if (*index != 0) {
          reader_.add(*role, fields.key("role"),
                      "role " + role->Scalar() + " is not supported by this version (only edge is)");
        }
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
                  {"name", "route_type", "address", "proxy_type", "location_id", "entry_point", "tls",
                   "limits", "settings"});
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
    std::string route_type;
    if (fields.read("route_type", route_type)) {
      if (yaml::is_lower_name(route_type, 32)) {
        spec.route_type = route_type;
      } else {
        reader_.add(
            *fields.get("route_type"), fields.key("route_type"),
            "expected a route type name (a lower-case letter, then up to 31 lower-case letters, digits, "
            "'_' or '-'), got " +
                yaml::quote(route_type));
      }
    }
    if (auto address_node = fields.get("address")) {
      if (auto address = read_address(reader_, *address_node, fields.key("address"))) {
        spec.scheme = address->scheme;
        spec.host = address->endpoint.host;
        spec.port = address->endpoint.port;
      }
    }
    if (auto proxy_type = fields.get("proxy_type")) {
      if (auto index = reader_.choice(*proxy_type, fields.key("proxy_type"), {"internet", "on_premise"})) {
        if (*index == 0) {
          spec.proxy_type = ProxyType::internet;
        } else {
          reader_.add(*proxy_type, fields.key("proxy_type"),
                      "on_premise is not supported by this version (only internet is)");
        }
      }
    }
    fields.read("location_id", spec.location_id);
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
    if (auto tls = fields.get("tls"))
      read_tls(Fields(reader_, *tls, fields.key("tls"),
                      {"enabled", "verify", "server_name", "ca_file", "cert_file", "key_file"},
                      fields.position("tls")),
               spec.tls);
    if (auto limits = fields.get("limits")) {
      Fields limit_fields(reader_, *limits, fields.key("limits"), kLimitKeys, fields.position("limits"));
      read_limits(reader_, limit_fields, spec.limits);
    }
    if (auto settings = fields.get("settings")) destination.settings = *settings;
    return destination;
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
        const std::string host_a = lower(a.endpoint.host);
        const std::string host_b = lower(b.endpoint.host);
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
};

}  // namespace

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
  if (auto document = reader.parse_mapping_document(yaml_text)) {
    ConfigReader(reader, file).read(*document, config);
  }
  reader.throw_if_any();
  return config;
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
