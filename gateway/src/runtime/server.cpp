#include "runtime/server.hpp"

#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <latch>
#include <random>
#include <thread>
#include <unordered_set>

#include "admin/admin_server.hpp"
#include "net/socket_stream.hpp"
#include "runtime/destination_lookup.hpp"
#include "runtime/http_proxy_entry.hpp"
#include "runtime/socks_entry.hpp"
#include "tunnel/routing_tunnel.hpp"

namespace gw::runtime {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

enum class ListenerKind { entry_point, socks5, http_proxy, tunnel };

struct Server::Listener {
  ListenerKind kind;
  config::Endpoint listen;
  std::shared_ptr<Route> route;  // entry_point, socks5, http_proxy: counts, limits and metrics
  std::string name;              // for logs
};

struct Server::Worker {
  asio::io_context context{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard{context.get_executor()};
  // Touched only on this worker's thread once run() started. An accept loop shares its acceptor, so
  // that closing and dropping one (a reload) never pulls it from under the loop.
  std::vector<std::pair<std::shared_ptr<tcp::acceptor>, std::shared_ptr<const Listener>>> acceptors;
  std::unordered_set<Stream*> connections;  // touched only on this worker's thread
  std::thread thread;
};

namespace {
thread_local std::size_t this_worker = 0;
const char* kind_name(ListenerKind kind) {
  switch (kind) {
    case ListenerKind::entry_point:
      return "entry_point";
    case ListenerKind::socks5:
      return "socks5";
    case ListenerKind::http_proxy:
      return "http_proxy";
    case ListenerKind::tunnel:
      return "tunnel";
  }
  return "entry_point";
}
}  // namespace

// Signal handling, the drain timer and the admin listener live on worker 0.
struct Server::Control {
  explicit Control(asio::io_context& context)
      : signals(context, SIGTERM, SIGINT, SIGHUP), drain_timer(context) {}
  asio::signal_set signals;
  asio::steady_timer drain_timer;
  std::unique_ptr<admin::AdminServer> admin;
};

namespace {

tcp::endpoint resolve_listen(const config::Endpoint& endpoint) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(endpoint.host, ec);
  if (!ec) return {address, endpoint.port};
  asio::io_context context;
  tcp::resolver resolver(context);
  auto results = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
  if (ec || results.empty()) throw std::runtime_error("cannot resolve listen address " + endpoint.str());
  return results.begin()->endpoint();
}

// SO_REUSEPORT would let this process share a port another process already listens on; a plain bind
// first makes that an error, as an operator expects.
void ensure_port_free(const tcp::endpoint& endpoint) {
  if (endpoint.port() == 0) return;
  asio::io_context context;
  tcp::acceptor probe(context);
  probe.open(endpoint.protocol());
  probe.set_option(tcp::acceptor::reuse_address(true));
  probe.bind(endpoint);
}

}  // namespace

Server::Server(const config::Config& config, host::LogSink& log, host::MetricsRegistry& metrics, Host& host,
               Routes& routes, Services services)
    : config_(config),
      log_(log),
      metrics_(metrics),
      host_(host),
      routes_(routes),
      services_(std::move(services)) {
  unsigned count =
      config.node.workers ? config.node.workers : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < count; ++i) workers_.push_back(std::make_unique<Worker>());
  control_ = std::make_unique<Control>(workers_.front()->context);
  for (const auto& route : routes_.destinations()->routes()) listeners_.push_back(entry_point(route));
  if (routes_.proxies.socks5 && config.socks5) {
    listeners_.push_back(std::make_shared<Listener>(
        Listener{ListenerKind::socks5, config.socks5->listen, routes_.proxies.socks5, "socks5"}));
  }
  if (routes_.proxies.http_proxy && config.http_proxy) {
    listeners_.push_back(std::make_shared<Listener>(Listener{
        ListenerKind::http_proxy, config.http_proxy->listen, routes_.proxies.http_proxy, "http_proxy"}));
  }
  if (services_.tunnel_listen) {
    listeners_.push_back(std::make_shared<Listener>(
        Listener{ListenerKind::tunnel, *services_.tunnel_listen, nullptr, "tunnel"}));
  }
}

Server::~Server() {
  for (auto& w : workers_) {
    w->guard.reset();
    w->context.stop();
    if (w->thread.joinable()) w->thread.join();
  }
}

std::shared_ptr<const Server::Listener> Server::entry_point(const std::shared_ptr<Route>& route) {
  return std::make_shared<Listener>(
      Listener{ListenerKind::entry_point, route->listen, route, route->state()->destination.name});
}

std::vector<std::shared_ptr<tcp::acceptor>> Server::open_acceptors(const Listener& listener) {
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors;
  tcp::endpoint endpoint = resolve_listen(listener.listen);
  try {
    ensure_port_free(endpoint);
    for (auto& worker : workers_) {
      auto acceptor = std::make_shared<tcp::acceptor>(worker->context);
      acceptor->open(endpoint.protocol());
      acceptor->set_option(tcp::acceptor::reuse_address(true));
      acceptor->set_option(reuse_port(true));
      acceptor->bind(endpoint);
      acceptor->listen(asio::socket_base::max_listen_connections);
      // Port 0: the first bind picked the port; the other workers join it.
      endpoint = acceptor->local_endpoint();
      acceptors.push_back(std::move(acceptor));
    }
  } catch (const boost::system::system_error& e) {
    const std::string what = listener.kind == ListenerKind::entry_point
                                 ? "destination '" + listener.name + "'"
                                 : std::string("the ") + kind_name(listener.kind) + " listener";
    throw std::runtime_error("cannot listen on " + listener.listen.str() + " for " + what + ": " +
                             e.code().message());
  }
  if (listener.kind == ListenerKind::tunnel) tunnel_endpoint_ = endpoint;
  log_listening(listener, net::endpoint_string(endpoint));
  return acceptors;
}

void Server::log_listening(const Listener& listener, const std::string& address) {
  if (listener.kind == ListenerKind::entry_point) {
    log_.log(LogLevel::info, "listening",
             {{"kind", "entry_point"},
              {"destination", listener.name},
              {"route_type", listener.route->state()->destination.route_type},
              {"address", address}});
  } else {
    log_.log(LogLevel::info, "listening", {{"kind", kind_name(listener.kind)}, {"address", address}});
  }
}

void Server::bind() {
  for (const auto& listener : listeners_) {
    auto acceptors = open_acceptors(*listener);
    for (std::size_t i = 0; i < workers_.size(); ++i)
      workers_[i]->acceptors.emplace_back(std::move(acceptors[i]), listener);
  }
  if (config_.admin.listen) {
    try {
      control_->admin = std::make_unique<admin::AdminServer>(workers_.front()->context,
                                                             resolve_listen(*config_.admin.listen), metrics_,
                                                             [this] { return !draining_.load(); });
    } catch (const boost::system::system_error& e) {
      throw std::runtime_error("cannot listen on " + config_.admin.listen->str() +
                               " for the admin listener: " + e.code().message());
    }
    if (!config_.admin.lookup_token.empty()) {
      control_->admin->enable_lookup(config_.admin.lookup_token, [this](std::string name) {
        return lookup_destination(routes_, services_.direct, services_.pool, std::move(name));
      });
    }
    log_.log(LogLevel::info, "listening",
             {{"kind", "admin"}, {"address", net::endpoint_string(control_->admin->local_endpoint())}});
  }
}

void Server::change_entry_points(const std::vector<std::shared_ptr<Route>>& added,
                                 const std::vector<const Route*>& removed) {
  std::vector<std::shared_ptr<const Listener>> opening;
  for (const auto& route : added) opening.push_back(entry_point(route));
  replace_listeners(std::move(opening), removed);
}

std::optional<config::Endpoint> Server::move_listener(Route* route, const config::Endpoint& listen) {
  const auto current = std::find_if(listeners_.begin(), listeners_.end(),
                                    [route](const auto& listener) { return listener->route.get() == route; });
  if (current == listeners_.end() || (*current)->listen.str() == listen.str()) return std::nullopt;
  const std::shared_ptr<const Listener> old = *current;
  replace_listeners({std::make_shared<const Listener>(Listener{old->kind, listen, old->route, old->name})},
                    {route});
  route->listen = listen;
  return old->listen;
}

void Server::replace_listeners(std::vector<std::shared_ptr<const Listener>> opening,
                               const std::vector<const Route*>& removed) {
  std::vector<std::shared_ptr<const Listener>> closing;
  std::erase_if(listeners_, [&](const std::shared_ptr<const Listener>& listener) {
    if (std::find(removed.begin(), removed.end(), listener->route.get()) == removed.end()) return false;
    closing.push_back(listener);
    return true;
  });
  // A listener opened on the address of one closed takes over its acceptors (a renamed destination):
  // the port is never closed. The others are bound before anything changes: a port in use throws, and
  // what was opened so far closes as it goes out of scope.
  std::vector<std::pair<std::shared_ptr<const Listener>, std::shared_ptr<const Listener>>> taken_over;
  std::vector<std::pair<std::shared_ptr<const Listener>, std::vector<std::shared_ptr<tcp::acceptor>>>> opened;
  try {
    for (auto& listener : opening) {
      auto same_address = std::find_if(closing.begin(), closing.end(), [&](const auto& old) {
        return old->listen.str() == listener->listen.str();
      });
      if (same_address != closing.end()) {
        log_listening(*listener, listener->listen.str());
        taken_over.emplace_back(*same_address, std::move(listener));
        closing.erase(same_address);
        continue;
      }
      auto acceptors = open_acceptors(*listener);
      opened.emplace_back(std::move(listener), std::move(acceptors));
    }
  } catch (...) {
    for (const auto& [old, listener] : taken_over) closing.push_back(old);
    listeners_.insert(listeners_.end(), closing.begin(), closing.end());
    throw;
  }
  for (const auto& [old, listener] : taken_over) listeners_.push_back(listener);
  for (const auto& [listener, acceptors] : opened) listeners_.push_back(listener);
  // Each worker changes its own acceptors (they belong to its thread); this is worker 0's. The reload
  // is reported once all have, so that a closed listener refuses connections from then on.
  std::latch changed(static_cast<std::ptrdiff_t>(workers_.size()));
  auto change = [&](Worker& w, std::size_t i) {
    boost::system::error_code ignored;
    std::erase_if(w.acceptors, [&](const auto& entry) {
      if (std::find(closing.begin(), closing.end(), entry.second) == closing.end()) return false;
      entry.first->close(ignored);  // its accept loop ends; open connections go on
      return true;
    });
    for (auto& [acceptor, listener] : w.acceptors) {
      for (const auto& [old, successor] : taken_over) {
        if (listener != old) continue;
        acceptor->cancel(ignored);  // the old loop ends; the backlog stays for the new one
        listener = successor;
        asio::co_spawn(w.context, accept_loop(w, acceptor, listener), asio::detached);
      }
    }
    for (auto& [listener, acceptors] : opened) {
      w.acceptors.emplace_back(acceptors[i], listener);
      asio::co_spawn(w.context, accept_loop(w, acceptors[i], listener), asio::detached);
    }
    changed.count_down();
  };
  for (std::size_t i = 1; i < workers_.size(); ++i)
    asio::post(workers_[i]->context, [&change, w = workers_[i].get(), i] { change(*w, i); });
  change(*workers_.front(), 0);
  changed.wait();
  for (const auto& listener : closing) {
    log_.log(
        LogLevel::info, "listener_closed",
        {{"kind", kind_name(listener->kind)}, {"name", listener->name}, {"address", listener->listen.str()}});
  }
}

tcp::endpoint Server::tunnel_endpoint() const {
  return tunnel_endpoint_;
}

std::vector<asio::io_context*> Server::contexts() {
  std::vector<asio::io_context*> out;
  for (auto& w : workers_) out.push_back(&w->context);
  return out;
}

void Server::on_drain(std::function<void()> hook) {
  drain_hooks_.push_back(std::move(hook));
}

void Server::on_reload(std::function<void()> hook) {
  reload_hook_ = std::move(hook);
}

std::size_t Server::current_worker() const {
  return this_worker;
}

Server::Tracked::Tracked(Server& server, Stream& stream)
    : server_(server), stream_(stream), worker_(server.current_worker()) {
  ++server_.open_connections_;
  server_.workers_[worker_]->connections.insert(&stream_);
}

Server::Tracked::~Tracked() {
  server_.workers_[worker_]->connections.erase(&stream_);
  server_.connection_ended();
}

int Server::run() {
  control_->signals.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (!ec) on_signal(signal);
  });
  if (control_->admin) control_->admin->start();
  for (auto& worker : workers_) {
    for (auto& [acceptor, listener] : worker->acceptors) {
      asio::co_spawn(worker->context, accept_loop(*worker, acceptor, listener), asio::detached);
    }
  }
  log_.log(LogLevel::info, "ready",
           {{"role", std::string(config::role_name(config_.node.role))},
            {"workers", std::to_string(workers_.size())},
            {"destinations", std::to_string(routes_.destinations()->routes().size())},
            {"systems", std::to_string(config_.systems.size())}});
  for (std::size_t i = 1; i < workers_.size(); ++i) {
    workers_[i]->thread = std::thread([w = workers_[i].get(), i] {
      this_worker = i;
      w->context.run();
    });
  }
  workers_.front()->context.run();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  log_.log(LogLevel::info, "stopped", {});
  return 0;
}

void Server::on_signal(int signal) {
  const char* name = signal == SIGINT ? "SIGINT" : "SIGTERM";
  if (signal == SIGHUP) {
    if (reload_hook_ && !draining_) {
      reload_hook_();
    } else {
      log_.log(
          LogLevel::warn, "reload_ignored",
          {{"signal", "SIGHUP"},
           {"reason", draining_ ? "draining" : "this role has nothing to reload; restart to apply changes"}});
    }
  } else if (draining_) {
    log_.log(LogLevel::warn, "drain_aborted",
             {{"signal", name}, {"open_connections", std::to_string(open_connections_.load())}});
    close_all_connections();
  } else {
    start_drain(name);
  }
  control_->signals.async_wait([this](const boost::system::error_code& ec, int next) {
    if (!ec) on_signal(next);
  });
}

void Server::start_drain(const char* signal_name) {
  draining_ = true;
  // Every worker closes its own acceptors (an acceptor belongs to its worker's thread); "draining" is
  // logged only once all are closed, so from then on new connections are refused by the kernel.
  std::latch closed(static_cast<std::ptrdiff_t>(workers_.size()));
  auto close_acceptors = [&closed](Worker& w) {
    for (auto& [acceptor, listener] : w.acceptors) {
      boost::system::error_code ignored;
      acceptor->close(ignored);
    }
    closed.count_down();
  };
  for (std::size_t i = 1; i < workers_.size(); ++i) {
    asio::post(workers_[i]->context, [&close_acceptors, w = workers_[i].get()] { close_acceptors(*w); });
  }
  close_acceptors(*workers_.front());
  closed.wait();
  for (auto& hook : drain_hooks_) hook();
  log_.log(LogLevel::info, "draining",
           {{"signal", signal_name},
            {"open_connections", std::to_string(open_connections_.load())},
            {"drain_timeout_ms", std::to_string(config_.node.drain_timeout.count())}});
  if (open_connections_.load() == 0) {
    finish();
    return;
  }
  control_->drain_timer.expires_after(config_.node.drain_timeout);
  control_->drain_timer.async_wait([this](const boost::system::error_code& ec) {
    if (ec || finished_) return;
    log_.log(LogLevel::warn, "drain_timeout",
             {{"open_connections", std::to_string(open_connections_.load())}});
    close_all_connections();
  });
}

void Server::close_all_connections() {
  for (auto& worker : workers_) {
    asio::post(worker->context, [w = worker.get()] {
      for (Stream* s : w->connections) s->close();
    });
  }
}

void Server::connection_ended() {
  if (--open_connections_ == 0 && draining_) {
    asio::post(workers_.front()->context, [this] { finish(); });
  }
}

void Server::finish() {
  if (finished_.exchange(true)) return;
  control_->drain_timer.cancel();
  control_->signals.cancel();
  if (control_->admin) control_->admin->stop();
  for (auto& w : workers_) {
    w->guard.reset();
    w->context.stop();
  }
}

// Enforces the route's max_connections; a refusal is logged, counted and audited as a security event.
bool Server::admit(const Listener& listener, tcp::socket& socket) {
  Route* route = listener.route.get();
  if (!route) return true;
  const auto state = route->state();
  const Destination& destination = state->destination;
  const auto max = destination.limits.max_connections;
  if (route->connections.fetch_add(1, std::memory_order_relaxed) < max) return true;
  route->connections.fetch_sub(1, std::memory_order_relaxed);
  route->refused->add();
  const std::string reason = "max_connections (" + std::to_string(max) + ") reached";
  std::string peer;
  boost::system::error_code ec;
  if (auto remote = socket.remote_endpoint(ec); !ec) peer = net::endpoint_string(remote);
  log_.log(LogLevel::warn, "connection_refused",
           {{"destination", destination.name}, {"client", peer}, {"reason", reason}});
  if (host_.audit().enabled(AuditClass::security)) {
    host_.audit().record({AuditClass::security,
                          destination.route_type + ".connection",
                          {{"destination", destination.name},
                           {"client", peer},
                           {"outcome", std::string("refused")},
                           {"reason", reason}}});
  }
  socket.close(ec);
  return false;
}

asio::awaitable<void> Server::accept_loop(Worker& worker, std::shared_ptr<tcp::acceptor> shared_acceptor,
                                          std::shared_ptr<const Listener> listener) {
  tcp::acceptor& acceptor = *shared_acceptor;
  asio::steady_timer backoff(worker.context);
  for (;;) {
    boost::system::error_code ec;
    tcp::endpoint peer;  // from accept() itself: no getpeername() per connection
    tcp::socket socket = co_await acceptor.async_accept(peer, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
      // Out of file descriptors or a transient error: log and pause briefly instead of spinning.
      log_.log(LogLevel::error, "accept_failed", {{"listener", listener->name}, {"reason", ec.message()}});
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (listener->kind == ListenerKind::tunnel) {
      // A tunnel connection lives on in the connector pool; it is not a client connection to drain.
      asio::co_spawn(worker.context, services_.tunnel_accept(std::move(socket)), asio::detached);
      continue;
    }
    if (!admit(*listener, socket)) continue;
    asio::co_spawn(worker.context, serve_connection(worker, listener, std::move(socket), peer),
                   asio::detached);
  }
}

asio::awaitable<void> Server::serve_connection(Worker& worker, std::shared_ptr<const Listener> listener,
                                               tcp::socket socket, tcp::endpoint peer) {
  Route& route = *listener->route;
  // Held to the connection's end, whatever a reload puts in force meanwhile.
  const std::shared_ptr<const RouteState> state = route.state();
  state->accepted->add();
  state->active->add();
  net::TcpStream client(std::move(socket), &peer);
  const std::string request_id = new_request_id();
  {
    Tracked tracked(*this, client);
    try {
      if (listener->kind == ListenerKind::socks5) {
        co_await services_.socks5->serve(client, request_id);
      } else if (listener->kind == ListenerKind::http_proxy) {
        co_await services_.http_proxy->serve(client, request_id);
      } else {
        tunnel::RoutingTunnel tunnel(services_.direct, services_.pool, state->destination);
        EdgeSession session{state->destination, client, tunnel, request_id, {}};
        co_await state->handler->serve(session);
      }
    } catch (const std::exception& e) {
      log_.log(LogLevel::error, "handler_failed",
               {{"destination", state->destination.name}, {"request_id", request_id}, {"reason", e.what()}});
    }
    client.close();
  }
  state->active->sub();
  route.connections.fetch_sub(1, std::memory_order_relaxed);
}

std::string new_request_id() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(generator()));
  return buf;
}

}  // namespace gw::runtime
