#include "runtime/connector_agent.hpp"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <mutex>
#include <random>

#include "gateway/plugin/deadline.hpp"
#include "net/socket_stream.hpp"
#include "tunnel/answering_tunnel.hpp"
#include "tunnel/tunnel_request.hpp"
#include "tunnel/tunnel_tls.hpp"

namespace gw::runtime {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::chrono::milliseconds kDialTimeout{10000};
// TLS records gathered per send() and read per recv() on a tunnel connection (see TlsStream::coalesce_io).
constexpr std::size_t kTunnelIoBuffer = 128 * 1024;
// A connection that stayed up this long resets the back-off: the edge was healthy.
constexpr std::chrono::seconds kHealthyAfter{10};

std::chrono::milliseconds jittered(std::chrono::milliseconds delay) {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  // "Equal jitter": between half and all of the delay, so that connectors restarted together spread out.
  std::uniform_int_distribution<std::int64_t> spread(delay.count() / 2, delay.count());
  return std::chrono::milliseconds(spread(generator));
}

}  // namespace

tunnel::H2Options h2_options(const config::TunnelTuning& tuning) {
  tunnel::H2Options options;
  options.ping_interval = tuning.ping_interval;
  options.ping_timeout = tuning.ping_timeout;
  options.max_concurrent_streams = tuning.max_concurrent_streams;
  options.stream_window = tuning.stream_window;
  options.connection_window = tuning.connection_window;
  return options;
}

struct ConnectorAgent::Link {
  Link(asio::io_context& c, Edge e, unsigned i) : context(c), edge(std::move(e)), index(i), wake(c) {}
  asio::io_context& context;
  Edge edge;
  unsigned index;
  asio::steady_timer wake;                           // back-off sleep and "connection closed" signal
  std::shared_ptr<tunnel::H2Connection> connection;  // touched on `context` only
  tunnel::PeerCertificates certificates;             // the edge's, of `connection`
  bool closed = false;
  bool retired = false;  // removed by a reload (touched on `context` only)
};

std::vector<ConnectorAgent::Edge> ConnectorAgent::edges_of(const config::ConnectorConfig& config) {
  std::vector<Edge> edges;
  for (const auto& link : config.edges)
    edges.push_back({link.address.host, link.address.port, link.server_name});
  return edges;
}

ConnectorAgent::ConnectorAgent(const config::ConnectorConfig& config, std::vector<Edge> edges,
                               net::SslCtxPtr tls, tunnel::ConnectorIdentity identity,
                               std::vector<std::unique_ptr<SystemRoute>> systems, Tunnel& direct, Host& host,
                               host::LogSink& log, Server& server)
    : config_(config),
      edges_(std::move(edges)),
      connections_per_edge_(config.connections_per_edge),
      tls_(std::make_shared<const net::SslCtxPtr>(std::move(tls))),
      identity_(std::move(identity)),
      allowlist_(std::make_shared<const Allowlist>(std::move(systems))),
      direct_(direct),
      host_(host),
      log_(log),
      server_(server),
      h2_options_(h2_options(config.tuning)) {
  h2_options_.early_data_bytes = &host.metrics().counter(
      "gateway_tunnel_early_data_bytes_total",
      "Bytes that arrived with a tunnel stream's request, before the connector answered it", {});
}

ConnectorAgent::~ConnectorAgent() = default;

void ConnectorAgent::replace_systems(std::vector<std::unique_ptr<SystemRoute>> systems) {
  allowlist_.get()->carry_counts(systems);
  allowlist_.set(std::make_shared<const Allowlist>(std::move(systems)));
}

std::size_t ConnectorAgent::system_count() const {
  return allowlist_.get()->size();
}

void ConnectorAgent::start() {
  for (const auto& edge : edges_) {
    for (unsigned i = 0; i < connections_per_edge_; ++i) add_link(edge, i);
  }
  server_.on_drain([this] { shutdown(); });
}

void ConnectorAgent::add_link(const Edge& edge, unsigned index) {
  auto contexts = server_.contexts();
  auto link = std::make_shared<Link>(*contexts[next_context_++ % contexts.size()], edge, index);
  links_.push_back(link);
  asio::co_spawn(link->context, dial_loop(link), asio::detached);
}

void ConnectorAgent::retire(const std::shared_ptr<Link>& link) {
  asio::post(link->context, [link] {
    link->retired = true;
    link->wake.cancel();
    if (link->connection) link->connection->shutdown();
  });
}

void ConnectorAgent::set_tls(net::SslCtxPtr tls) {
  auto in_force = std::make_shared<const net::SslCtxPtr>(std::move(tls));
  tls_.set(in_force);
  for (const auto& link : links_) {
    asio::post(link->context, [this, link, in_force] {
      if (!link->connection || link->closed) return;  // a dial in progress checks for itself
      const auto verdict = link->certificates.verify(in_force->get(), "ssl_server", link->edge.server_name);
      if (verdict.problem.empty()) return;
      verdict.revoked ? link->connection->close() : link->connection->shutdown();
      log_.log(LogLevel::warn, "edge_untrusted",
               {{"edge", link->edge.str()},
                {"connection", std::to_string(link->index)},
                {"reason", verdict.reason()}});
    });
  }
}

void ConnectorAgent::set_edges(std::vector<Edge> edges, unsigned connections_per_edge) {
  if (stopping_) return;
  auto listed = [](const std::vector<Edge>& list, const Edge& e) {
    return std::find(list.begin(), list.end(), e) != list.end();
  };
  std::erase_if(links_, [&](const std::shared_ptr<Link>& link) {
    if (listed(edges, link->edge) && link->index < connections_per_edge) return false;
    retire(link);
    return true;
  });
  for (const auto& edge : edges_) {
    if (!listed(edges, edge)) log_.log(LogLevel::info, "edge_removed", {{"edge", edge.str()}});
  }
  for (const auto& edge : edges) {
    const bool known = listed(edges_, edge);
    for (unsigned i = known ? connections_per_edge_ : 0; i < connections_per_edge; ++i) add_link(edge, i);
    if (!known) log_.log(LogLevel::info, "edge_added", {{"edge", edge.str()}});
  }
  edges_ = std::move(edges);
  connections_per_edge_ = connections_per_edge;
}

void ConnectorAgent::shutdown() {
  stopping_ = true;
  for (auto& link : links_) {
    asio::post(link->context, [link] {
      link->wake.cancel();
      if (link->connection) link->connection->shutdown();
    });
  }
}

asio::awaitable<std::unique_ptr<net::TlsStream>> ConnectorAgent::dial(Link& link, SSL_CTX* tls,
                                                                      std::string& failure) {
  const Edge& edge = link.edge;
  error_code ec;
  tcp::resolver resolver(link.context);
  tcp::socket socket(link.context);
  std::unique_ptr<net::TlsStream> stream;
  // Bounds resolving, connecting and the handshake together.
  Deadline deadline(link.context.get_executor(), kDialTimeout, [&] {
    resolver.cancel();
    socket.close();
    if (stream) stream->close();
  });
  auto results = co_await resolver.async_resolve(edge.host, std::to_string(edge.port),
                                                 asio::redirect_error(asio::use_awaitable, ec));
  if (!ec) co_await asio::async_connect(socket, results, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    failure = deadline.expired() ? "connect timed out" : "connect: " + ec.message();
    co_return nullptr;
  }
  socket.set_option(tcp::no_delay(true), ec);
  stream = std::make_unique<net::TlsStream>(std::move(socket),
                                            tunnel::new_connector_session(tls, edge.server_name));
  stream->coalesce_io(kTunnelIoBuffer);
  std::string reason;
  if (co_await stream->handshake_client(reason)) {
    failure = deadline.expired() ? "TLS handshake timed out" : "TLS handshake: " + reason;
    co_return nullptr;
  }
  co_return std::move(stream);
}

asio::awaitable<void> ConnectorAgent::dial_loop(std::shared_ptr<Link> link) {
  const std::string edge_text = link->edge.str();
  const std::string index = std::to_string(link->index);
  std::chrono::milliseconds backoff = config_.reconnect_initial;
  while (!stopping_ && !link->retired) {
    std::string failure;
    const auto started = Clock::now();
    const std::shared_ptr<const net::SslCtxPtr> tls = tls_.get();
    auto stream = co_await dial(*link, tls->get(), failure);
    if (stream) link->certificates = tunnel::PeerCertificates(*stream);
    // A reload during the dial checked the connections up before this one.
    if (auto now = tls_.get(); stream && now != tls) {
      const auto verdict = link->certificates.verify(now->get(), "ssl_server", link->edge.server_name);
      if (!verdict.problem.empty()) {
        failure = "edge certificate no longer trusted: " + verdict.problem;
        stream.reset();
      }
    }
    if (!stream) {
      log_.log(LogLevel::warn, "tunnel_connect_failed",
               {{"edge", edge_text}, {"connection", index}, {"reason", failure}});
    } else if (!stopping_ && !link->retired) {
      link->closed = false;
      const std::string cipher = stream->cipher_suite();
      const std::string local = stream->info().local;  // the edge logs it as the connection's peer
      auto connection = tunnel::H2Connection::create(
          std::move(stream), tunnel::H2Connection::Side::server, h2_options_,
          [this](std::unique_ptr<tunnel::IncomingStream> incoming) {
            auto executor = incoming->executor();
            asio::co_spawn(executor, serve_stream(std::move(incoming)), asio::detached);
          });
      std::string close_reason;
      connection->on_closed([link, &close_reason](const std::string& reason) {
        close_reason = reason;
        link->closed = true;
        link->wake.cancel();
      });
      connection->on_established([this, edge_text, index, cipher, local] {
        log_.log(LogLevel::info, "tunnel_connected",
                 {{"edge", edge_text},
                  {"connection", index},
                  {"local", local},
                  {"cipher", cipher},
                  {"tenant", identity_.tenant},
                  {"location", identity_.location}});
      });
      link->connection = connection;
      connection->start();
      // Until the connection ends (on drain, shutdown() has sent GOAWAY and open streams finish first).
      while (!link->closed) {
        error_code ec;
        link->wake.expires_at(Clock::time_point::max());
        co_await link->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      link->connection.reset();
      log_.log(stopping_ || link->retired ? LogLevel::info : LogLevel::warn, "tunnel_disconnected",
               {{"edge", edge_text}, {"connection", index}, {"reason", close_reason}});
      if (Clock::now() - started > kHealthyAfter) backoff = config_.reconnect_initial;
    }
    if (stopping_ || link->retired) break;
    boost::system::error_code ec;
    link->wake.expires_after(jittered(backoff));
    co_await link->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    backoff = std::min(backoff * 2, config_.reconnect_max);
  }
}

void ConnectorAgent::audit_decision(const tunnel::TunnelRequest& request, bool allowed,
                                    const std::string& reason) {
  const AuditClass kind = allowed ? AuditClass::access : AuditClass::security;
  if (!host_.audit().enabled(kind)) return;
  host_.audit().record({kind,
                        "tunnel.stream",
                        {{"tenant", identity_.tenant},
                         {"location", identity_.location},
                         {"virtual_host", request.host},
                         {"virtual_port", static_cast<std::int64_t>(request.port)},
                         {"route_type", request.route_type},
                         {"destination", request.destination},
                         {"request_id", request.request_id},
                         {"principal", request.principal},
                         {"outcome", std::string(allowed ? "allowed" : "denied")},
                         {"reason", reason}}});
}

asio::awaitable<void> ConnectorAgent::serve_stream(std::unique_ptr<tunnel::IncomingStream> stream) {
  Server::Tracked tracked(server_, *stream);
  const tunnel::TunnelRequest& request = stream->request();
  // Held until the stream ends: the system and its handler live as long as their allowlist.
  const std::shared_ptr<const Allowlist> allowlist = allowlist_.get();
  Allowlist::Decision decision = allowlist->decide(request.host, request.port, request.route_type);
  if (!decision) {
    audit_decision(request, false, decision.reason);
    log_.log(LogLevel::info, "stream_denied",
             {{"virtual_host", request.host},
              {"virtual_port", std::to_string(request.port)},
              {"request_id", request.request_id},
              {"reason", decision.reason}});
    co_await stream->respond(tunnel::status_for(TunnelErrc::denied), decision.reason);
    stream->close();
    co_return;
  }
  SystemRoute& route = *decision.system;
  const auto max = route.system.limits.max_connections;
  if (route.connections->fetch_add(1, std::memory_order_relaxed) >= max) {
    route.connections->fetch_sub(1, std::memory_order_relaxed);
    const std::string reason = "max_connections (" + std::to_string(max) + ") reached";
    audit_decision(request, false, reason);
    co_await stream->respond(tunnel::status_for(TunnelErrc::busy), reason);
    stream->close();
    co_return;
  }
  audit_decision(request, true, "");
  // The handler reaches the internal system directly; its first open() answers the edge: 200, or why not.
  tunnel::AnsweringTunnel answering(
      direct_,
      [&stream = *stream](const error_code& error, const std::string& reason) -> asio::awaitable<void> {
        if (!error) co_return co_await stream.respond(200);
        const bool timed_out = error == asio::error::timed_out;
        co_await stream.respond(
            tunnel::status_for(timed_out ? TunnelErrc::timed_out : TunnelErrc::unreachable), reason);
      });
  ConnectorSession session{route.system,       *stream,          answering, request.host, request.port,
                           request.request_id, request.principal};
  try {
    if (route.handler->reads_before_open()) co_await answering.answer_success();
    co_await route.handler->serve(session);
  } catch (const std::exception& e) {
    log_.log(LogLevel::error, "handler_failed",
             {{"virtual_host", request.host}, {"request_id", request.request_id}, {"reason", e.what()}});
  }
  if (!answering.answered()) {
    co_await stream->respond(tunnel::status_for(TunnelErrc::refused),
                             "the route handler did not reach the system");
  }
  stream->close();
  route.connections->fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace gw::runtime
