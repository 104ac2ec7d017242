// SIGHUP: the configuration file read again and what can change while the gateway runs put in force.
#pragma once

#include "runtime/connector_agent.hpp"
#include "runtime/edge_tunnel.hpp"
#include "runtime/gateway.hpp"
#include "runtime/http_proxy_entry.hpp"
#include "runtime/server.hpp"
#include "runtime/socks_entry.hpp"

namespace gw::runtime {

// What a reload can change in the running gateway; null where this role has none.
struct Running {
  Server* server = nullptr;
  TunnelListener* tunnel_listener = nullptr;
  ConnectorAgent* agent = nullptr;
  SocksEntryPoint* socks5 = nullptr;
  HttpProxyEntryPoint* http_proxy = nullptr;
};

// The configuration file is read again (SIGHUP), and what can change while the gateway runs is put in
// force for new connections and streams: a connector's systems (the allowlist, rebuilt whole), its
// edges and connections per edge; an edge's destinations (added, removed, changed; entry points bound
// and closed); the proxies' authentication, limits and addresses; the tunnel's TLS (certificates read
// again, established peers checked again). Everything else waits for a restart and is reported
// (`restart_needed`). A file that does not load, a destination, system or proxy setting that cannot
// be built, an entry point that cannot be bound, or a changed role changes nothing
// (`config_reload_failed`). On worker 0's thread, where the server runs the reload hook.
void reload(Gateway& gw, const Running& running);

}  // namespace gw::runtime
