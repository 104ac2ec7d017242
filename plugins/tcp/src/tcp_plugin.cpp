// The `tcp` route type: relays a byte stream between the client and the destination, both ways,
// honouring half-close, with the destination's idle timeout. No protocol awareness, so no resource
// level access control: on a connector, a tcp system admits any traffic to its internal host:port.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "gateway/plugin_api.hpp"

namespace {

using namespace gw;
using Clock = std::chrono::steady_clock;

// At most this much of what the client sent before the target was reached travels with the open
// request: a client's first flight (a TLS ClientHello, an HTTP request header) usually fits.
constexpr std::size_t kEarlyDataMax = 4 * 1024;

std::string outcome_of(const SpliceResult& result) {
  if (result.half_close_timeout) return "half_close_timeout";
  if (result.idle_timeout) return "idle_timeout";
  if (result.error) return "error";
  return "ok";
}

std::int64_t elapsed_ms(Clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count();
}

// Metrics of one destination or system, obtained once.
struct RouteMetrics {
  RouteMetrics(Metrics& m, const std::string& name)
      : bytes_up(bytes_relayed(m, name, "upstream")),
        bytes_down(bytes_relayed(m, name, "downstream")),
        connect_failed(connection_errors(m, name, "connect_failed")),
        idle_timeout(connection_errors(m, name, "idle_timeout")),
        half_close_timeout(connection_errors(m, name, "half_close_timeout")),
        error(connection_errors(m, name, "error")) {}
  Counter& bytes_up;
  Counter& bytes_down;
  Counter& connect_failed;
  Counter& idle_timeout;
  Counter& half_close_timeout;
  Counter& error;
};

// Opens the target, splices, and reports: shared by both sides, which differ in what they connect to,
// how they name things, and `send_early_data`: the edge sends what its client already sent with the
// open request; on the connector that client is a tunnel stream, whose early bytes already arrived.
asio::awaitable<void> relay(Host& host, RouteMetrics& metrics, Stream& client, Tunnel& tunnel,
                            OpenRequest target, const Limits& limits, const std::string& name,
                            const std::string& request_id, bool send_early_data) {
  const auto start = Clock::now();
  const std::string target_text = target.host + ":" + std::to_string(target.port);
  auto report = [&](const std::string& outcome, const std::string& reason, std::int64_t up,
                    std::int64_t down) {
    if (!host.audit().enabled(AuditClass::access)) return;
    host.audit().record({AuditClass::access,
                         "tcp.connection",
                         {{"destination", name},
                          {"request_id", request_id},
                          {"client", client.info().peer},
                          {"target", target_text},
                          {"outcome", outcome},
                          {"reason", reason},
                          {"bytes_up", up},
                          {"bytes_down", down},
                          {"duration_ms", elapsed_ms(start)}}});
  };

  // What the client already sent goes with the open request: through a connector that saves a round
  // trip before the target sees the client's first bytes.
  std::unique_ptr<std::uint8_t[]> early(send_early_data ? new std::uint8_t[kEarlyDataMax] : nullptr);
  const std::size_t early_bytes = early ? client.read_available(asio::buffer(early.get(), kEarlyDataMax)) : 0;
  target.early_data = asio::buffer(early.get(), early_bytes);
  OpenResult opened = co_await tunnel.open(target);
  early.reset();
  if (!opened) {
    metrics.connect_failed.add();
    host.logger().log(LogLevel::warn, "connection_failed",
                      {{"destination", name}, {"request_id", request_id}, {"reason", opened.reason}});
    report("connect_failed", opened.reason, 0, 0);
    co_return;
  }
  SpliceOptions options;
  options.idle_timeout = limits.idle_timeout;
  options.half_close_timeout = limits.half_close_timeout;
  options.buffer_size = limits.buffer_size;
  options.bytes_a_to_b = &metrics.bytes_up;
  options.bytes_b_to_a = &metrics.bytes_down;
  metrics.bytes_up.add(early_bytes);
  SpliceResult result = co_await host.splice(client, *opened.stream, options);
  opened.stream->close();
  result.bytes_a_to_b += early_bytes;

  std::string outcome = outcome_of(result);
  std::string reason;
  if (result.half_close_timeout) {
    metrics.half_close_timeout.add();
    reason =
        "one side ended, the other silent for " + std::to_string(limits.half_close_timeout.count()) + "ms";
  } else if (result.idle_timeout) {
    metrics.idle_timeout.add();
    reason = "idle for " + std::to_string(limits.idle_timeout.count()) + "ms";
  } else if (result.error) {
    metrics.error.add();
    reason = std::string(result.aborted_by_a ? "client: " : "target: ") + result.error.message();
  }
  if (host.logger().enabled(LogLevel::debug) || result.error) {
    host.logger().log(result.error && !result.idle_timeout ? LogLevel::info : LogLevel::debug,
                      "connection_closed",
                      {{"destination", name},
                       {"request_id", request_id},
                       {"outcome", outcome},
                       {"reason", reason},
                       {"bytes_up", std::to_string(result.bytes_a_to_b)},
                       {"bytes_down", std::to_string(result.bytes_b_to_a)}});
  }
  report(outcome, reason, static_cast<std::int64_t>(result.bytes_a_to_b),
         static_cast<std::int64_t>(result.bytes_b_to_a));
}

class TcpEdgeHandler final : public EdgeRouteHandler {
 public:
  TcpEdgeHandler(Host& host, const Destination& destination)
      : host_(host),
        metrics_(host.metrics(), destination.name),
        nodelay_(destination.settings.get_bool("nodelay")) {
    if (!destination.scheme.empty() && destination.scheme != "tcp") {
      throw RouteConfigError(
          "address", "route type tcp takes host:port or tcp://host:port, not " + destination.scheme + "://");
    }
  }

  asio::awaitable<void> serve(EdgeSession& session) override {
    session.client.set_no_delay(nodelay_);
    OpenRequest target = session.destination.target();
    target.request_id = session.request_id;
    target.principal = session.principal;
    target.no_delay = nodelay_;
    co_await relay(host_, metrics_, session.client, session.tunnel, std::move(target),
                   session.destination.limits, session.destination.name, session.request_id, true);
  }

 private:
  Host& host_;
  RouteMetrics metrics_;
  bool nodelay_;
};

class TcpConnectorHandler final : public ConnectorRouteHandler {
 public:
  TcpConnectorHandler(Host& host, const System& system)
      : host_(host),
        metrics_(host.metrics(), system.virtual_host + ":" + std::to_string(system.virtual_port_first)),
        nodelay_(system.settings.has("nodelay") ? system.settings.get_bool("nodelay") : true) {}

  asio::awaitable<void> serve(ConnectorSession& session) override {
    OpenRequest target = session.system.internal_target(session.virtual_port);
    target.request_id = session.request_id;
    target.principal = session.principal;
    target.no_delay = nodelay_;
    co_await relay(host_, metrics_, session.stream, session.tunnel, std::move(target), session.system.limits,
                   session.virtual_host + ":" + std::to_string(session.virtual_port), session.request_id,
                   false);
  }

 private:
  Host& host_;
  RouteMetrics metrics_;
  bool nodelay_;
};

class TcpPlugin final : public Plugin {
 public:
  explicit TcpPlugin(Host& host) : host_(host) {}

  std::unique_ptr<EdgeRouteHandler> create_edge_handler(const Destination& destination) override {
    return std::make_unique<TcpEdgeHandler>(host_, destination);
  }
  std::unique_ptr<ConnectorRouteHandler> create_connector_handler(const System& system) override {
    return std::make_unique<TcpConnectorHandler>(host_, system);
  }

 private:
  Host& host_;
};

}  // namespace

GW_DECLARE_PLUGIN(TcpPlugin)
