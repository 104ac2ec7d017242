#include "tunnel/connector_pool.hpp"

namespace gw::tunnel {

std::string ConnectorPool::key(const std::string& tenant, const std::string& location) {
  // '/' appears in neither a tenant name nor a location id.
  return tenant + "/" + location;
}

void ConnectorPool::add(const ConnectorIdentity& identity, std::shared_ptr<H2Connection> connection) {
  std::lock_guard lock(mutex_);
  const std::string k = key(identity.tenant, identity.location);
  ever_seen_.insert(k);
  groups_[k].connections.push_back(std::move(connection));
}

void ConnectorPool::remove(const ConnectorIdentity& identity, const H2Connection* connection) {
  std::lock_guard lock(mutex_);
  auto it = groups_.find(key(identity.tenant, identity.location));
  if (it == groups_.end()) return;
  auto& list = it->second.connections;
  std::erase_if(list, [&](const auto& c) { return c.get() == connection; });
}

std::size_t ConnectorPool::connected(const ConnectorIdentity& identity) const {
  std::lock_guard lock(mutex_);
  auto it = groups_.find(key(identity.tenant, identity.location));
  return it == groups_.end() ? 0 : it->second.connections.size();
}

void ConnectorPool::shutdown_all() {
  std::vector<std::shared_ptr<H2Connection>> all;
  {
    std::lock_guard lock(mutex_);
    for (auto& [k, group] : groups_)
      all.insert(all.end(), group.connections.begin(), group.connections.end());
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
  const std::size_t n = group.connections.size();
  if (n == 0) return out;
  const std::size_t start = group.next++ % n;
  for (std::size_t i = 0; i < n; ++i) {
    const auto& c = group.connections[(start + i) % n];
    if (c->accepting_streams()) out.push_back(c);
  }
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
