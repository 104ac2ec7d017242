// The edge's view of the connectors: which tunnel connections are up for each tenant and location,
// and the Tunnel that routes a destination's streams through them.
//
// Connections register when a connector's TLS handshake and identity check succeed and leave when
// they close. open() spreads streams over the live connections of the destination's (tenant,
// location) round-robin, skipping connections that are going away or full, and fails with a specific
// TunnelErrc when there is none: unknown_location if no connector of that identity ever connected,
// no_connector if none is connected now.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateway/plugin/route.hpp"
#include "tunnel/h2_connection.hpp"
#include "tunnel/identity.hpp"
#include "tunnel/routing_tunnel.hpp"

namespace gw::tunnel {

class ConnectorPool {
 public:
  void add(const ConnectorIdentity& identity, std::shared_ptr<H2Connection> connection);
  void remove(const ConnectorIdentity& identity, const H2Connection* connection);

  // Opens a stream to `request.host:port` through a connector of (tenant, location). Any thread.
  asio::awaitable<OpenResult> open(const std::string& tenant, const std::string& location,
                                   const OpenRequest& request);

  // Connections up now for an identity (for tests through metrics and for logs).
  std::size_t connected(const ConnectorIdentity& identity) const;
  // Graceful shutdown of every connection (drain).
  void shutdown_all();

 private:
  struct Group {
    std::vector<std::shared_ptr<H2Connection>> connections;
    std::size_t next = 0;
  };
  static std::string key(const std::string& tenant, const std::string& location);
  // Up to one pass over the group's connections that accept streams, starting after the last pick.
  std::vector<std::shared_ptr<H2Connection>> candidates(const std::string& key, bool& known);

  mutable std::mutex mutex_;
  std::unordered_map<std::string, Group> groups_;
  std::set<std::string> ever_seen_;
};

}  // namespace gw::tunnel
