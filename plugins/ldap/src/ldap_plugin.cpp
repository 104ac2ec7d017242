// The `ldap` route type: LDAPv3 between an application and a directory, message by message.
//
// Edge: an application speaks LDAP to the destination's entry point (or through SOCKS5). With a
// service account configured, the gateway binds as that account: the application binds anonymously
// (or with a credential the gateway issued, or not at all) and the gateway sends the real simple bind.
// Everything else is forwarded as received: to an Internet directory (ldap, ldaps, or StartTLS), or
// through the tunnel to the connector of an on-premise destination.
// Connector: every request is decoded (liblber) and checked against the system's policy (operations,
// subtrees, limits, attributes); a refused request gets a real LDAP result (insufficientAccessRights),
// not a dropped connection; non-critical controls the system does not allow are removed. Responses are
// decoded too, to audit each operation's result, to remove denied attributes from entries and to drop
// entries outside the allowed subtrees. Malformed BER from either side ends the connection with a
// Notice of Disconnection.
#include <algorithm>
#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateway/plugin_api.hpp"
#include "health_check.hpp"
#include "ldap_codec.hpp"
#include "ldap_io.hpp"
#include "ldap_policy.hpp"
#include "ldap_relay.hpp"

namespace {

using namespace gw;
using namespace gw::ldap;

std::string optional_string(const Settings& settings, const std::string& key) {
  return settings.has(key) ? settings.get_string(key) : std::string();
}

class LdapEdgeHandler final : public EdgeRouteHandler {
 public:
  LdapEdgeHandler(Host& host, const Destination& destination)
      : host_(host), common_(read_common(destination.settings, destination.tls)), tls_(destination.tls) {
    if (!destination.scheme.empty() && destination.scheme != "ldap" && destination.scheme != "ldaps") {
      throw RouteConfigError("address", "route type ldap takes ldap:// or ldaps:// (or host:port), not " +
                                            destination.scheme + "://");
    }
    const bool on_premise = destination.proxy_type == ProxyType::on_premise;
    if (destination.scheme == "ldaps") tls_.enabled = true;
    if (on_premise && (tls_.enabled || common_.starttls)) {
      throw RouteConfigError(
          destination.scheme == "ldaps" ? "address" : "tls.enabled",
          "TLS towards an on-premise directory is the connector's system setting; the tunnel "
          "already encrypts the path to the connector (use ldap://)");
    }
    if (tls_.enabled && !common_.starttls && destination.scheme == "ldap") {
      throw RouteConfigError("address",
                             "tls.enabled with ldap:// needs settings.starttls: true (or use ldaps://)");
    }
    const Settings& s = destination.settings;
    const std::string bind_dn = optional_string(s, "bind_dn");
    const std::string client_password = optional_string(s, "client_password");
    if (bind_dn.empty()) {
      if (s.has("bind_password"))
        throw RouteConfigError("settings.bind_password", "bind_password needs bind_dn");
      if (!client_password.empty()) {
        throw RouteConfigError("settings.client_password",
                               "client_password needs bind_dn (the account it stands for)");
      }
      return;
    }
    if (!s.has("bind_password"))
      throw RouteConfigError("settings.bind_password", "bind_dn needs bind_password");
    std::string error;
    if (!Dn::parse(bind_dn, error)) throw RouteConfigError("settings.bind_dn", "not a valid DN: " + error);
    BindInjection injection{bind_dn, s.get_string("bind_password"), std::nullopt, client_password};
    if (!client_password.empty()) {
      injection.client_dn = Dn::parse(s.get_string("client_dn"), error);
      if (!injection.client_dn || injection.client_dn->is_root()) {
        throw RouteConfigError("settings.client_dn", "client_password needs a valid, non-empty client_dn");
      }
    }
    injection_ = std::move(injection);
  }

  // The directory is opened once the client's first operation is read (EdgeConnection), so entry points
  // that answer the connection set-up (SOCKS5, HTTP CONNECT) answer success first; a directory that
  // cannot be reached is then reported in LDAP, with a Notice of Disconnection.
  bool reads_before_open() const noexcept override { return true; }

  asio::awaitable<void> serve(EdgeSession& session) override {
    const auto start = Clock::now();
    session.client.set_no_delay(true);
    OpenRequest target = session.destination.target();
    target.tls = tls_;
    target.request_id = session.request_id;
    target.principal = session.principal;
    const EdgeRelayResult result =
        co_await relay_edge(host_, session, common_, injection_, std::move(target));
    if (!result.open_failure.empty()) {
      host_.logger().log(LogLevel::warn, "connection_failed",
                         {{"destination", session.destination.name},
                          {"request_id", session.request_id},
                          {"reason", result.open_failure}});
      audit(session, "connect_failed", result.open_failure, start, 0);
      co_return;
    }
    audit(session, result.reason.empty() ? "ok" : "error", result.reason, start, result.bytes_down);
  }

 private:
  void audit(const EdgeSession& session, const char* outcome, const std::string& reason,
             Clock::time_point start, std::uint64_t bytes_down) {
    if (!host_.audit().enabled(AuditClass::access)) return;
    host_.audit().record({AuditClass::access,
                          "ldap.connection",
                          {{"destination", session.destination.name},
                           {"request_id", session.request_id},
                           {"client", session.client.info().peer},
                           {"outcome", outcome},
                           {"reason", reason},
                           {"bytes_up", static_cast<std::int64_t>(session.client.bytes_read())},
                           {"bytes_down", static_cast<std::int64_t>(bytes_down)},
                           {"duration_ms", elapsed_ms(start)}}});
  }

  Host& host_;
  Common common_;
  TlsClientOptions tls_;
  std::optional<BindInjection> injection_;
};

// ---- connector -------------------------------------------------------------------------------------

PolicyConfig read_policy(const Settings& settings) {
  PolicyConfig config;
  try {
    config.operations = OperationSet::parse(settings.get_list("operations"));
  } catch (const std::invalid_argument& e) {
    throw RouteConfigError("settings.operations", e.what());
  }
  const auto& base_dns = settings.get_list("base_dns");
  for (std::size_t i = 0; i < base_dns.size(); ++i) {
    std::string error;
    auto dn = Dn::parse(base_dns[i], error);
    if (!dn)
      throw RouteConfigError("settings.base_dns[" + std::to_string(i) + "]", "not a valid DN: " + error);
    config.base_dns.push_back(std::move(*dn));
  }
  config.max_size_limit = static_cast<std::int32_t>(settings.get_int("max_size_limit"));
  config.max_time_limit = static_cast<std::int32_t>(settings.get_int("max_time_limit"));
  config.denied_attributes = settings.get_list("denied_attributes");
  try {
    config.controls = ControlSet::parse(settings.get_list("controls"));
  } catch (const std::invalid_argument& e) {
    throw RouteConfigError("settings.controls", e.what());
  }
  return config;
}

Policy make_policy(const Settings& settings) {
  try {
    return Policy(read_policy(settings));
  } catch (const PolicyError& e) {
    throw RouteConfigError("settings." + e.key(), e.message());
  }
}

class LdapConnectorHandler final : public ConnectorRouteHandler {
 public:
  LdapConnectorHandler(Host& host, HealthChecker& health, const System& system)
      : host_(host),
        config_{system.virtual_host + ":" + std::to_string(system.virtual_port_first),
                read_common(system.settings, system.tls), make_policy(system.settings)},
        counters_(host.metrics(), config_.name) {
    const Settings& s = system.settings;
    const auto interval = s.get_duration("health_check_interval");
    if (interval.count() <= 0 || !system.enabled) return;
    HealthTarget target;
    target.system = config_.name;
    const OpenRequest internal = system.internal_target(system.virtual_port_first);
    target.host = internal.host;
    target.port = internal.port;
    target.starttls = config_.common.starttls;
    target.ldaps = system.tls.enabled && !target.starttls;
    target.tls = system.tls;
    target.bind_dn = s.get_string("health_check_bind_dn");
    target.password = optional_string(s, "health_check_password");
    if (!target.bind_dn.empty() && target.password.empty()) {
      throw RouteConfigError("settings.health_check_password",
                             "health_check_bind_dn needs health_check_password");
    }
    target.interval = interval;
    target.timeout = system.limits.connect_timeout;
    health_ = health.add(std::move(target));
  }

  asio::awaitable<void> serve(ConnectorSession& session) override {
    const auto start = Clock::now();
    OpenRequest target = session.system.internal_target(session.virtual_port);
    target.request_id = session.request_id;
    target.principal = session.principal;
    OpenResult opened = co_await open_directory(session.tunnel, target, config_.common.starttls,
                                                config_.common.max_message_size);
    if (!opened) {
      host_.logger().log(
          LogLevel::warn, "connection_failed",
          {{"system", config_.name}, {"request_id", session.request_id}, {"reason", opened.reason}});
      // The edge already has the failure when the connection itself failed; a failed StartTLS comes after
      // the stream was accepted, so the application learns of it here.
      const Bytes notice = unreachable_notice(opened.reason);
      co_await session.stream.write(asio::buffer(notice));
      co_return;
    }
    std::string reason = co_await relay_connector(host_, config_, counters_, session, *opened.stream);
    opened.stream->close();
    if (!reason.empty()) {
      host_.logger().log(LogLevel::info, "connection_closed",
                         {{"system", config_.name},
                          {"request_id", session.request_id},
                          {"reason", reason},
                          {"duration_ms", std::to_string(elapsed_ms(start))}});
    }
  }

 private:
  Host& host_;
  SystemConfig config_;
  OperationCounters counters_;
  std::unique_ptr<HealthChecker::Registration> health_;
};

class LdapPlugin final : public Plugin {
 public:
  explicit LdapPlugin(Host& host) : host_(host), health_(host) {}

  std::unique_ptr<EdgeRouteHandler> create_edge_handler(const Destination& destination) override {
    return std::make_unique<LdapEdgeHandler>(host_, destination);
  }
  std::unique_ptr<ConnectorRouteHandler> create_connector_handler(const System& system) override {
    return std::make_unique<LdapConnectorHandler>(host_, health_, system);
  }

 private:
  Host& host_;
  HealthChecker health_;
};

}  // namespace

GW_DECLARE_PLUGIN(LdapPlugin)
