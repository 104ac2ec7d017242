// The edge's view of the connectors: which tunnel connections are up for each tenant and location,
// and the Tunnel that routes a destination's streams through them.
//
// Connections register when a connector's TLS handshake and identity check succeed and leave when
// they close. open() spreads streams over the live connections of the destination's (tenant,
// location) round-robin, skipping connections that are going away or full, and fails with a specific
// TunnelErrc when there is none: unknown_location if no connector of that identity ever connected,
// no_connector if none is connected now.
//
// Connections on the calling worker's thread come first: a stream used from its connection's own
// thread runs its operations directly, where one on another worker's connection hops there and back
// (two thread hand-offs, often two wake-ups) for every read and write. For that to keep the load
// spread over a location's connectors, place() gives every worker a share of every connector's
// connections.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
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
  // Files a connection of `identity` from connector `instance` (what tells two connectors of one
  // identity apart: their address and certificate).
  void add(const ConnectorIdentity& identity, std::shared_ptr<H2Connection> connection,
           std::string instance = {});
  void remove(const ConnectorIdentity& identity, const H2Connection* connection);

  // Opens a stream to `request.host:port` through a connector of (tenant, location). Any thread.
  asio::awaitable<OpenResult> open(const std::string& tenant, const std::string& location,
                                   const OpenRequest& request);

  // Connections up now for an identity (for tests through metrics and for logs).
  std::size_t connected(const ConnectorIdentity& identity) const;

  // Where a new connection of `identity` from `instance` should live, of `workers`' io_contexts: the
  // one with the fewest connections of that instance, then of the identity, then in all, so that with
  // as many connections per connector as workers each worker has one of every connector. `current`
  // (the context the connection is on now) wins a tie. Callers serialise place() and add().
  asio::io_context& place(const ConnectorIdentity& identity, const std::string& instance,
                          const std::vector<asio::io_context*>& workers, asio::io_context& current) const;
  // Graceful shutdown of every connection (drain).
  void shutdown_all();

 private:
  struct Member {
    std::shared_ptr<H2Connection> connection;
    std::string instance;
    const asio::execution_context* context;  // the connection's worker
  };
  struct Group {
    std::vector<Member> members;
    std::size_t next = 0;
  };
  static std::string key(const std::string& tenant, const std::string& location);
  // Up to one pass over the group's connections that accept streams, starting after the last pick;
  // those on this thread first.
  std::vector<std::shared_ptr<H2Connection>> candidates(const std::string& key, bool& known);

  mutable std::mutex mutex_;
  std::unordered_map<std::string, Group> groups_;
  std::set<std::string> ever_seen_;
};

}  // namespace gw::tunnel
