// The connector side of the tunnel: dials every configured edge (connections_per_edge connections
// each, reconnecting with jittered exponential back-off), serves as the HTTP/2 server on each
// connection, and hands every stream the allowlist admits to its route type's connector-side handler.
//
// Each stream's decision is audited: denials as security events, admissions as access events (audit
// level `all`). The allowlist can be replaced while the agent runs (a configuration reload): streams
// arriving afterwards are decided by the new one, streams already admitted keep the old one. The stream is
// answered only once the handler has tried the internal system, so the edge (and a SOCKS5 client) learns
// whether the system was reachable.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "host/logger.hpp"
#include "net/socket_stream.hpp"
#include "net/tls_context.hpp"
#include "runtime/allowlist.hpp"
#include "runtime/in_force.hpp"
#include "runtime/server.hpp"
#include "tunnel/h2_connection.hpp"
#include "tunnel/identity.hpp"

namespace gw::runtime {

class ConnectorAgent {
 public:
  struct Edge {
    std::string host;
    std::uint16_t port = 0;
    std::string server_name;
    bool operator==(const Edge&) const = default;
    std::string str() const { return host + ":" + std::to_string(port); }  // for logs
  };
  // The edges a connector configuration names.
  static std::vector<Edge> edges_of(const config::ConnectorConfig& config);

  ConnectorAgent(const config::ConnectorConfig& config, std::vector<Edge> edges, net::SslCtxPtr tls,
                 tunnel::ConnectorIdentity identity, std::vector<std::unique_ptr<SystemRoute>> systems,
                 Tunnel& direct, Host& host, host::LogSink& log, Server& server);
  ~ConnectorAgent();

  // Starts the dial loops, spread over the server's workers. Registers a drain hook on the server.
  void start();

  // Puts an allowlist of `systems` in force for the streams that arrive from now on. Any thread.
  void replace_systems(std::vector<std::unique_ptr<SystemRoute>> systems);
  std::size_t system_count() const;
  // A reload, on the thread that reloads: dials `connections_per_edge` connections to each of `edges`
  // from now on. Edges added (or connections added to an edge) start dialling; connections to edges
  // removed (or above the new count) are shut down gracefully: GOAWAY, open streams finish. Logs
  // `edge_added` and `edge_removed`.
  void set_edges(std::vector<Edge> edges, unsigned connections_per_edge);
  // A reload, on the thread that reloads: puts a new TLS context (this connector's certificate, which
  // must name the same identity, and the CA it trusts edges from) in force for the connections dialled
  // afterwards. An established connection keeps its session while its edge's certificate still
  // verifies with the new context; one that does not is shut down gracefully (`edge_untrusted`), and
  // its link dials again with the new context.
  void set_tls(net::SslCtxPtr tls);

 private:
  struct Link;
  // Connects to the link's edge and completes the TLS handshake within the dial timeout; null with
  // `failure` set when it could not.
  boost::asio::awaitable<std::unique_ptr<net::TlsStream>> dial(Link& link, SSL_CTX* tls,
                                                               std::string& failure);
  boost::asio::awaitable<void> dial_loop(std::shared_ptr<Link> link);
  boost::asio::awaitable<void> serve_stream(std::unique_ptr<tunnel::IncomingStream> stream);
  void shutdown();
  void audit_decision(const tunnel::TunnelRequest& request, bool allowed, const std::string& reason);

  // Starts a dial loop for connection `index` to `edge`, on the next worker in turn.
  void add_link(const Edge& edge, unsigned index);
  // Stops a link for good: its connection, if any, shuts down gracefully.
  static void retire(const std::shared_ptr<Link>& link);

  const config::ConnectorConfig& config_;
  std::vector<Edge> edges_;
  unsigned connections_per_edge_;
  std::size_t next_context_ = 0;
  InForce<net::SslCtxPtr> tls_;
  tunnel::ConnectorIdentity identity_;
  InForce<Allowlist> allowlist_;
  Tunnel& direct_;
  Host& host_;
  host::LogSink& log_;
  Server& server_;
  tunnel::H2Options h2_options_;
  std::vector<std::shared_ptr<Link>> links_;
  std::atomic<bool> stopping_{false};
};

// HTTP/2 options from the configuration's tuning keys (both sides use the same mapping).
tunnel::H2Options h2_options(const config::TunnelTuning& tuning);

}  // namespace gw::runtime
