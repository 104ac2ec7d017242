// Route handlers: how a plugin serves a route type on both sides of the tunnel.
//
// Edge side: an application connected to an entry point of a destination; the handler serves that
// client stream, normally by opening a stream through the Tunnel and relaying the protocol.
// Connector side: a stream arrived through the tunnel for a system on the connector's allowlist (the
// core has already checked that the system exists and is enabled); the handler applies the route
// type's resource policy and reaches the internal system through the (direct) Tunnel.
//
// Handlers are created once per destination / system when the configuration is loaded, so they can
// parse their settings and obtain their metrics up front; serve() then runs once per connection, on the
// worker thread that accepted it, possibly concurrently on several workers.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "gateway/plugin/host.hpp"
#include "gateway/plugin/tunnel.hpp"

namespace gw {

// Timeouts and limits that apply to one destination or system. The core enforces max_connections
// (before a handler sees the connection) and connect_timeout (in the tunnel); handlers pass
// idle_timeout and buffer_size to the splice or use them for their own protocol reads.
struct Limits {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds idle_timeout{300000};
  // Once one side has ended its half of a relayed connection, the other side may stay silent this
  // long before the connection is closed (0: only idle_timeout applies).
  std::chrono::milliseconds half_close_timeout{60000};
  std::uint32_t max_connections = 1024;
  // 60 KiB: a 64 KiB write on loopback (MTU 65536) leaves a 53-byte tail segment; see docs/benchmarks.md.
  std::size_t buffer_size = 60 * 1024;
  bool operator==(const Limits&) const = default;
};

// A plugin's settings for one destination or system, validated by the core against the schema in the
// plugin's manifest before the plugin sees them: every key the schema declares is present (given or
// defaulted) unless it is optional, and has the declared type. Secrets arrive resolved.
// Manifest types map to values: bool -> bool; int and size -> std::int64_t; string and secret ->
// std::string; duration -> milliseconds; list -> a list of strings; records -> a list of Settings,
// each validated against the record schema the manifest gives in `fields`.
class Settings {
 public:
  using List = std::vector<std::string>;
  using Records = std::vector<Settings>;
  using Value = std::variant<bool, std::int64_t, std::string, std::chrono::milliseconds, List, Records>;

  bool has(const std::string& key) const { return values_.count(key) != 0; }
  bool get_bool(const std::string& key) const { return get<bool>(key); }
  std::int64_t get_int(const std::string& key) const { return get<std::int64_t>(key); }
  const std::string& get_string(const std::string& key) const { return get<std::string>(key); }
  std::chrono::milliseconds get_duration(const std::string& key) const {
    return get<std::chrono::milliseconds>(key);
  }
  const List& get_list(const std::string& key) const { return get<List>(key); }
  const Records& get_records(const std::string& key) const { return get<Records>(key); }

  void set(std::string key, Value value) { values_[std::move(key)] = std::move(value); }
  const std::map<std::string, Value>& values() const noexcept { return values_; }

 private:
  template <class T>
  const T& get(const std::string& key) const {
    auto it = values_.find(key);
    if (it == values_.end()) throw std::out_of_range("setting '" + key + "' is not set");
    return std::get<T>(it->second);
  }
  std::map<std::string, Value> values_;
};

// A named target an application may use (edge side).
struct Destination {
  std::string name;
  std::string route_type;
  std::string scheme;  // from the address, e.g. "tcp"; empty when the address had none
  std::string host;
  std::uint16_t port = 0;
  ProxyType proxy_type = ProxyType::internet;
  // on_premise: the tenant whose connectors may serve this destination, and which of them (location).
  // The core routes by these and never lets a plugin choose another tenant.
  std::string tenant = "default";
  std::string location_id;
  TlsClientOptions tls;
  Limits limits;
  Settings settings;

  // The tunnel request that reaches this destination; handlers add request_id / principal.
  OpenRequest target() const {
    OpenRequest r;
    r.host = host;
    r.port = port;
    r.proxy_type = proxy_type;
    r.location_id = location_id;
    r.tls = tls;
    r.connect_timeout = limits.connect_timeout;
    r.route_type = route_type;
    r.destination = name;
    return r;
  }
};

// An allowlist entry (connector side): virtual host and port range -> internal host.
struct System {
  std::string virtual_host;
  std::uint16_t virtual_port_first = 0;
  std::uint16_t virtual_port_last = 0;
  std::string internal_host;
  std::uint16_t internal_port_first = 0;  // virtual_port_first maps here; a range maps port by port
  std::string route_type;
  bool enabled = true;
  TlsClientOptions tls;
  Limits limits;
  Settings settings;

  OpenRequest internal_target(std::uint16_t virtual_port) const {
    OpenRequest r;
    r.host = internal_host;
    r.port = static_cast<std::uint16_t>(internal_port_first + (virtual_port - virtual_port_first));
    r.tls = tls;
    r.connect_timeout = limits.connect_timeout;
    r.route_type = route_type;
    return r;
  }
};

// One client connection on the edge.
struct EdgeSession {
  const Destination& destination;
  Stream& client;
  Tunnel& tunnel;
  std::string request_id;
  // Who the entry point authenticated (a SOCKS5 user name, a JWT's subject); empty when unknown.
  // Handlers pass it on in OpenRequest::principal so the connector can audit it.
  std::string principal;
};

// One stream that arrived from an edge.
struct ConnectorSession {
  const System& system;
  Stream& stream;
  Tunnel& tunnel;  // direct: reaches internal hosts
  std::string virtual_host;
  std::uint16_t virtual_port = 0;
  std::string request_id;
  std::string principal;
};

// A credential for calling a destination's target directly, as the destination lookup API hands it
// out (`GET /v1/destinations/NAME` on the admin listener): for applications that call the target
// themselves but should not hold the destination's secrets for longer than a token lives.
struct AuthToken {
  std::string type;                    // "Bearer", "Basic"
  std::string value;                   // the token (or the Base64 credentials for Basic)
  std::string header_name;             // where it goes, e.g. "Authorization"
  std::string header_value;            // e.g. "Bearer eyJ..."
  std::chrono::seconds expires_in{0};  // 0: does not expire
  std::string error;                   // set instead of the rest when no token could be obtained
};

class GW_PLUGIN_VISIBLE EdgeRouteHandler {
 public:
  virtual ~EdgeRouteHandler() = default;
  // The credentials the gateway would add for `destination`, obtained through `tunnel` where that
  // takes a request (an OAuth2 token). Default: none.
  virtual asio::awaitable<std::vector<AuthToken>> auth_tokens(const Destination& destination,
                                                              Tunnel& tunnel) {
    co_return std::vector<AuthToken>{};
  }
  // Serves one client connection until it is done. The core closes the client stream afterwards.
  virtual asio::awaitable<void> serve(EdgeSession& session) = 0;
  // True for a request-based protocol whose handler reads from its peer before it knows what to open
  // (HTTP): the core then answers the connection set-up (a SOCKS5 reply, the tunnel stream's status)
  // with success before serve(), and the handler reports a failed open() in its own protocol.
  virtual bool reads_before_open() const noexcept { return false; }
};

class GW_PLUGIN_VISIBLE ConnectorRouteHandler {
 public:
  virtual ~ConnectorRouteHandler() = default;
  virtual asio::awaitable<void> serve(ConnectorSession& session) = 0;
  // True for a request-based protocol whose handler reads from its peer before it knows what to open
  // (HTTP): the core then answers the connection set-up (a SOCKS5 reply, the tunnel stream's status)
  // with success before serve(), and the handler reports a failed open() in its own protocol.
  virtual bool reads_before_open() const noexcept { return false; }
};

// Thrown by Plugin::create_* when a destination or system cannot be served as configured; the core
// reports it as a configuration error at the destination's position in the file.
class GW_PLUGIN_VISIBLE RouteConfigError : public std::runtime_error {
 public:
  RouteConfigError(std::string key, const std::string& message)
      : std::runtime_error(message), key_(std::move(key)) {}
  // The key (relative to the destination / system, e.g. "address" or "settings.nodelay") at fault.
  const std::string& key() const noexcept { return key_; }

 private:
  std::string key_;
};

}  // namespace gw
