// A running gateway's parts, built from its configuration in dependency order: the log, metrics and
// audit, the plugins, the routes (destinations, systems, proxies) and the tunnel's TLS. `gatewayd run`
// and `gatewayd check` build one with prepare(); a reload (runtime/reload.hpp) changes it in place.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "host/audit.hpp"
#include "host/host_services.hpp"
#include "host/logger.hpp"
#include "host/metrics.hpp"
#include "net/tls_context.hpp"
#include "plugins/loader.hpp"
#include "runtime/routes.hpp"
#include "tunnel/identity.hpp"
#include "tunnel/tunnel_tls.hpp"

namespace gw::runtime {

// Members are destroyed in reverse order: routes before the plugins that created their handlers.
struct Gateway {
  config::Config config;
  host::LogSink log;
  host::MetricsRegistry metrics;
  std::unique_ptr<host::AuditLog> audit;
  std::unique_ptr<host::HostServices> host;
  std::unique_ptr<plugins::PluginRegistry> registry;
  net::TlsClientContexts tls;
  runtime::Routes routes;
  // The tunnel's mutual TLS: the edge's server side, the connector's client side and its identity.
  net::SslCtxPtr tunnel_server_tls;
  net::SslCtxPtr tunnel_client_tls;
  tunnel::ConnectorIdentity identity;
  // The destinations' entries as the running destinations were built from them (a reload updates
  // those it applies), to tell which entries a reload finds changed.
  config::ListEntries destinations_in_force;
  // What a reload compares a proxy's section with: the one in force (the file's at start-up, then the
  // last reload's).
  std::optional<config::ProxyEntryConfig> socks5_in_force;
  std::optional<config::ProxyEntryConfig> http_proxy_in_force;

  explicit Gateway(config::Config c) : config(std::move(c)), log(config.log.level, config.log.format) {}
};

// Loads the plugins (from `plugin_paths`, searched first, and the configured paths), builds the
// routes and the tunnel's TLS contexts. Returns the problems, each naming the file (and line and key
// where there is one); empty: ready to run.
std::vector<std::string> prepare(Gateway& gw, const std::vector<std::filesystem::path>& plugin_paths);

// Sets the gauges of the tunnel's TLS validity (certificate, trusted CAs, CRLs: Unix times) from the
// contexts in `gw`; at start-up (prepare) and after a reload.
void report_tunnel_validity(Gateway& gw);

// Where the tunnel's TLS files are, as TunnelTlsSource wants them.
tunnel::TunnelTlsSource tls_source(const config::TunnelTlsFiles& files);

}  // namespace gw::runtime
