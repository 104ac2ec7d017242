// The edge runtime: worker threads, entry point listeners, connection tracking and draining.
//
// One io_context per worker thread. Every entry point has one acceptor per worker on the same port
// (SO_REUSEPORT), so the kernel spreads new connections over the workers and a connection stays on
// the worker that accepted it: no locks or cross-thread hand-offs on the data path.
//
// Listeners: per-destination entry points, the SOCKS5 entry point and (edge) the tunnel listener that
// connectors dial. A connector has no listener but the admin one; its connections are tunnel streams.
//
// SIGTERM or SIGINT drains: listeners close, drain hooks run (a connector sends GOAWAY on its tunnel
// connections), open connections may finish for up to node.drain_timeout, then the rest are closed and
// the process exits. A second signal closes at once. SIGHUP runs the reload hook, on worker 0 (the
// configuration file's systems and destinations are put in force, listeners opened, moved and closed:
// change_entry_points, move_listener); while draining it is ignored.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "config/config.hpp"
#include "host/host_services.hpp"
#include "host/metrics.hpp"
#include "net/direct_tunnel.hpp"
#include "runtime/routes.hpp"

namespace gw::tunnel {
class ConnectorPool;
}

namespace gw::runtime {

class SocksEntryPoint;
class HttpProxyEntryPoint;

// A new random request id (16 hex digits).
std::string new_request_id();

// What the server hands accepted connections to, besides the routes' handlers.
struct Services {
  Tunnel& direct;                             // internet destinations (and, on a connector, internal hosts)
  tunnel::ConnectorPool* pool = nullptr;      // on_premise destinations: connected connectors (edge)
  SocksEntryPoint* socks5 = nullptr;          // the SOCKS5 entry point, when configured
  HttpProxyEntryPoint* http_proxy = nullptr;  // the HTTP proxy entry point, when configured
  // Serves a connector that dialled the tunnel listener (edge); the connection outlives the call.
  std::function<boost::asio::awaitable<void>(boost::asio::ip::tcp::socket)> tunnel_accept;
  std::optional<config::Endpoint> tunnel_listen;
};

class Server {
 public:
  Server(const config::Config& config, host::LogSink& log, host::MetricsRegistry& metrics, Host& host,
         Routes& routes, Services services);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every listener (entry points, SOCKS5, tunnel, admin). Throws std::runtime_error naming the
  // address.
  void bind();
  // Reload, on worker 0's thread only (where SIGHUP runs): binds an entry point on every worker for
  // each route in `added` and closes those of `removed`, whose open connections go on to their end;
  // an added one on the address of a removed one takes over its acceptors. Returns once every worker
  // has made the change. Binds everything before it changes anything: when one cannot be bound it
  // throws std::runtime_error, naming the destination and address, and nothing changed.
  void change_entry_points(const std::vector<std::shared_ptr<Route>>& added,
                           const std::vector<const Route*>& removed);
  // Reload, the same way: the listener serving `route` (a proxy entry point's) moves to `listen`, when
  // that is another address, and `route->listen` with it; returns the address it left. Throws, changing
  // nothing, when `listen` cannot be bound.
  std::optional<config::Endpoint> move_listener(Route* route, const config::Endpoint& listen);
  // The tunnel listener's bound address (after bind()), for an in-process connector.
  boost::asio::ip::tcp::endpoint tunnel_endpoint() const;
  // Serves until drained. Returns the process exit code.
  int run();

  // For components with connections of their own (the connector's tunnel streams):
  // the worker io_contexts, a drain hook run when draining starts, and connection tracking so that
  // draining waits for those connections and a drain timeout closes them.
  std::vector<boost::asio::io_context*> contexts();
  void on_drain(std::function<void()> hook);
  // What SIGHUP does; without a hook, SIGHUP is logged as `reload_ignored` and changes nothing.
  void on_reload(std::function<void()> hook);
  // RAII: counts `stream` as an open connection of the worker whose thread creates it.
  class Tracked {
   public:
    Tracked(Server& server, Stream& stream);
    ~Tracked();
    Tracked(const Tracked&) = delete;
    Tracked& operator=(const Tracked&) = delete;

   private:
    Server& server_;
    Stream& stream_;
    std::size_t worker_;
  };

 private:
  struct Worker;
  struct Listener;
  void on_signal(int signal);
  void start_drain(const char* signal_name);
  void close_all_connections();
  void finish();
  void connection_ended();
  std::size_t current_worker() const;
  static std::shared_ptr<const Listener> entry_point(const std::shared_ptr<Route>& route);
  // One acceptor per worker, bound and listening (not yet accepting); logs `listening`. Throws
  // std::runtime_error naming the listener and address when it cannot be bound.
  std::vector<std::shared_ptr<boost::asio::ip::tcp::acceptor>> open_acceptors(const Listener& listener);
  void log_listening(const Listener& listener, const std::string& address);
  // What change_entry_points and move_listener do: opens `opening` and closes the listeners of
  // `removed` routes, on every worker.
  void replace_listeners(std::vector<std::shared_ptr<const Listener>> opening,
                         const std::vector<const Route*>& removed);
  boost::asio::awaitable<void> accept_loop(Worker& worker,
                                           std::shared_ptr<boost::asio::ip::tcp::acceptor> acceptor,
                                           std::shared_ptr<const Listener> listener);
  boost::asio::awaitable<void> serve_connection(Worker& worker, std::shared_ptr<const Listener> listener,
                                                boost::asio::ip::tcp::socket socket,
                                                boost::asio::ip::tcp::endpoint peer);
  bool admit(const Listener& listener, boost::asio::ip::tcp::socket& socket);

  const config::Config& config_;
  host::LogSink& log_;
  host::MetricsRegistry& metrics_;
  Host& host_;
  Routes& routes_;
  Services services_;
  std::vector<std::shared_ptr<const Listener>> listeners_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::function<void()>> drain_hooks_;
  std::function<void()> reload_hook_;
  boost::asio::ip::tcp::endpoint tunnel_endpoint_;
  struct Control;
  std::unique_ptr<Control> control_;
  std::atomic<std::int64_t> open_connections_{0};
  std::atomic<bool> draining_{false};
  std::atomic<bool> finished_{false};
};

}  // namespace gw::runtime
