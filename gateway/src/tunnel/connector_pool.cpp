#include "tunnel/connector_pool.hpp"

#include <algorithm>

namespace gw::tunnel {

std::string ConnectorPool::key(const std::string& tenant, const std::string& location) {
  // '/' appears in neither a tenant name nor a location id.
  return tenant + "/" + location;
}

namespace {
const asio::execution_context* context_of(const asio::any_io_executor& executor) {
  return &asio::query(executor, asio::execution::context);
}
}  // namespace

void ConnectorPool::add(const ConnectorIdentity& identity, std::shared_ptr<H2Connection> connection,
                        std::string instance) {
  const auto* context = context_of(connection->executor());
  std::lock_guard lock(mutex_);
  const std::string k = key(identity.tenant, identity.location);
  ever_seen_.insert(k);
  groups_[k].members.push_back({std::move(connection), std::move(instance), context});
}

void ConnectorPool::remove(const ConnectorIdentity& identity, const H2Connection* connection) {
  std::lock_guard lock(mutex_);
  auto it = groups_.find(key(identity.tenant, identity.location));
  if (it == groups_.end()) return;
  std::erase_if(it->second.members, [&](const Member& m) { return m.connection.get() == connection; });
}

std::size_t ConnectorPool::connected(const ConnectorIdentity& identity) const {
  std::lock_guard lock(mutex_);
  auto it = groups_.find(key(identity.tenant, identity.location));
  return it == groups_.end() ? 0 : it->second.members.size();
}

asio::io_context& ConnectorPool::place(const ConnectorIdentity& identity, const std::string& instance,
                                       const std::vector<asio::io_context*>& workers,
                                       asio::io_context& current) const {
  struct Load {
    std::size_t of_instance = 0, of_identity = 0, in_all = 0;
    auto operator<=>(const Load&) const = default;
  };
  std::vector<Load> load(workers.size());
  auto worker_of = [&](const asio::execution_context* context) -> Load* {
    for (std::size_t i = 0; i < workers.size(); ++i)
      if (workers[i] == context) return &load[i];
    return nullptr;
  };
  const std::string k = key(identity.tenant, identity.location);
  {
    std::lock_guard lock(mutex_);
    for (const auto& [group_key, group] : groups_) {
      for (const Member& m : group.members) {
        Load* l = worker_of(m.context);
        if (!l) continue;
        ++l->in_all;
        if (group_key != k) continue;
        ++l->of_identity;
        if (m.instance == instance) ++l->of_instance;
      }
    }
  }
  if (workers.empty()) return current;
  std::size_t best = 0;
  for (std::size_t i = 0; i < workers.size(); ++i)
    if (workers[i] == &current) best = i;
  for (std::size_t i = 0; i < workers.size(); ++i)
    if (load[i] < load[best]) best = i;
  return *workers[best];
}

void ConnectorPool::shutdown_all() {
  std::vector<std::shared_ptr<H2Connection>> all;
  {
    std::lock_guard lock(mutex_);
    for (auto& [k, group] : groups_)
      for (const Member& m : group.members) all.push_back(m.connection);
  }
  for (auto& c : all) c->shutdown();
}

std::vector<std::shared_ptr<H2Connection>> ConnectorPool::candidates(const std::string& k, bool& known) {
  std::lock_guard lock(mutex_);
  known = ever_seen_.count(k) != 0;
  std::vector<std::shared_ptr<H2Connection>> out;
  auto it = groups_.find(k);
  if (it == groups_.end()) return out;
  Group& group = it->second;
  const std::size_t n = group.members.size();
  if (n == 0) return out;
  const std::size_t start = group.next++ % n;
  for (std::size_t i = 0; i < n; ++i) {
    const auto& c = group.members[(start + i) % n].connection;
    if (c->accepting_streams()) out.push_back(c);
  }
  std::stable_partition(out.begin(), out.end(), [](const auto& c) { return c->runs_on_this_thread(); });
  return out;
}

asio::awaitable<OpenResult> ConnectorPool::open(const std::string& tenant, const std::string& location,
                                                const OpenRequest& request) {
  bool known = false;
  auto connections = candidates(key(tenant, location), known);
  OpenResult result;
  if (connections.empty()) {
    const std::string who = "tenant " + tenant + " location '" + location + "'";
    result.error = known ? TunnelErrc::no_connector : TunnelErrc::unknown_location;
    result.reason = known ? "no connector of " + who + " is connected"
                          : "no connector of " + who + " has connected to this edge";
    co_return result;
  }
  TunnelRequest wire;
  wire.host = request.host;
  wire.port = request.port;
  wire.route_type = request.route_type;
  wire.destination = request.destination;
  wire.request_id = request.request_id;
  wire.principal = request.principal;
  // A connection that fails before the connector answered (lost, going away, full) does not fail the
  // client: the next live connection of the location gets the stream. Not when early data went out
  // and the connector may have acted on it: it could then reach the internal system twice.
  const bool early_data = request.early_data.size() > 0;
  for (auto& connection : connections) {
    bool unprocessed = false;
    result = co_await connection->open(wire, request.early_data, &unprocessed);
    if (result) co_return result;
    if (result.error != TunnelErrc::tunnel_lost && result.error != TunnelErrc::busy) co_return result;
    if (early_data && !unprocessed) co_return result;
  }
  co_return result;
}

asio::awaitable<OpenResult> RoutingTunnel::open(const OpenRequest& request) {
  if (request.proxy_type == ProxyType::internet) co_return co_await direct_.open(request);
  if (!pool_) {
    OpenResult result;
    result.error = TunnelErrc::no_connector;
    result.reason = "this node has no tunnel for on_premise destinations";
    co_return result;
  }
  co_return co_await pool_->open(tenant_, location_, request);
}

}  // namespace gw::tunnel
