// Relaying one LDAP connection message by message, on either side of the tunnel. The edge side binds
// for the application when the destination has a service account; the connector side holds every
// request to the system's policy and every response to what the policy lets leave the directory. The
// plugin's handlers (ldap_plugin.cpp) read the settings and open the directory; everything between
// the two peers happens here.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "gateway/plugin_api.hpp"
#include "ldap_codec.hpp"
#include "ldap_io.hpp"
#include "ldap_policy.hpp"

namespace gw::ldap {

// Settings both sides read.
struct Common {
  std::size_t max_message_size;
  bool starttls;
  std::size_t max_pending;  // operations in progress per connection, where responses are decoded
};

// Throws RouteConfigError for starttls without tls.enabled.
Common read_common(const Settings& settings, const TlsClientOptions& tls);

// The Notice of Disconnection that tells the application the directory could not be reached, and why.
Bytes unreachable_notice(const std::string& reason);

std::int64_t elapsed_ms(Clock::time_point since);

// ---- edge ------------------------------------------------------------------------------------------

struct BindInjection {
  std::string bind_dn;
  std::string bind_password;
  std::optional<Dn> client_dn;  // with client_password
  std::string client_password;  // empty: anonymous clients are bound as bind_dn
};

// How an edge connection ended.
struct EdgeRelayResult {
  std::string reason;            // why it ended; empty for a normal end
  std::string open_failure;      // why opening the directory failed; empty if it did not, or was not needed
  std::uint64_t bytes_down = 0;  // bytes relayed from the directory to the application
};

// Relays one application connection on the edge. With `injection`, the gateway binds as the service
// account: an anonymous bind (or, with client_password, a bind with the credential the gateway
// issued) is replaced by the service bind, an application that does not bind is bound before its
// first operation, other binds and the Proxied Authorization control are refused. The directory is
// opened at `target` with the first bytes for it as early data. An Internet destination's responses
// are decoded for the per-operation audit; an on-premise one's pass as bytes (its connector audits
// them).
asio::awaitable<EdgeRelayResult> relay_edge(Host& host, EdgeSession& session, const Common& common,
                                            const std::optional<BindInjection>& injection,
                                            OpenRequest target);

// ---- connector -------------------------------------------------------------------------------------

// Counters per request operation and outcome, obtained once per system.
class OperationCounters {
 public:
  OperationCounters(Metrics& metrics, const std::string& system) {
    for (Op op : kOps) {
      for (int denied = 0; denied < 2; ++denied) {
        counters_[index(op)][denied] = &metrics.counter("gateway_ldap_operations_total",
                                                        "LDAP requests by operation and policy decision",
                                                        {{"system", system},
                                                         {"operation", std::string(op_name(op))},
                                                         {"decision", denied ? "denied" : "allowed"}});
      }
    }
  }
  void count(Op op, bool denied) noexcept {
    if (auto i = index(op); i < kOps.size()) counters_[i][denied ? 1 : 0]->add();
  }

 private:
  static constexpr std::array<Op, 10> kOps{Op::bind_request,      Op::unbind_request,  Op::search_request,
                                           Op::modify_request,    Op::add_request,     Op::delete_request,
                                           Op::modify_dn_request, Op::compare_request, Op::abandon_request,
                                           Op::extended_request};
  static std::size_t index(Op op) noexcept {
    return static_cast<std::size_t>(std::find(kOps.begin(), kOps.end(), op) - kOps.begin());
  }
  std::array<std::array<Counter*, 2>, kOps.size()> counters_{};
};

struct SystemConfig {
  std::string name;  // "virtual_host:port"
  Common common;
  Policy policy;
};

// Relays one stream on the connector to `directory`, already open: every request is decoded and
// decided by `config.policy` (refusals answered with an LDAP result and audited, non-critical
// controls the system does not allow removed, limits capped), every response decoded, entries
// outside the base DNs dropped and denied attributes removed. Returns why the connection ended
// (empty for a normal end).
asio::awaitable<std::string> relay_connector(Host& host, const SystemConfig& config,
                                             OperationCounters& counters, const ConnectorSession& session,
                                             Stream& directory);

}  // namespace gw::ldap
