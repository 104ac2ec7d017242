#include "runtime/gateway.hpp"

#include <chrono>

#include "host/text_format.hpp"
#include "tunnel/certificates.hpp"

namespace gw::runtime {

tunnel::TunnelTlsSource tls_source(const config::TunnelTlsFiles& files) {
  tunnel::TunnelTlsSource source;
  source.ca_file = files.ca_file.string();
  source.cert_file = files.cert_file.string();
  source.key_file = files.key_file.string();
  source.crl_file = files.crl_file.string();
  return source;
}

void report_tunnel_validity(Gateway& gw) {
  if (!gw.tunnel_server_tls && !gw.tunnel_client_tls) return;
  // Less than this left, and the log says so at start-up and at every reload.
  constexpr auto kWarnBefore = std::chrono::days(7);
  const tunnel::TlsValidity validity =
      tunnel::validity_of({gw.tunnel_server_tls.get(), gw.tunnel_client_tls.get()});
  struct Item {
    const char* gauge;
    const char* help;
    std::int64_t until;
    const char* what;  // for the log
    const char* hint;  // what to do
  };
  const auto now = std::chrono::system_clock::now();
  for (const Item& item :
       {Item{"gateway_tunnel_certificate_expiry_timestamp_seconds",
             "When the tunnel certificate this process presents expires (Unix time)", validity.certificate,
             "certificate", "renew it and reload"},
        Item{"gateway_tunnel_ca_expiry_timestamp_seconds",
             "When the first of the CAs the tunnel trusts expires (Unix time)", validity.trusted_ca, "ca",
             "renew it and reload"},
        Item{"gateway_tunnel_crl_next_update_timestamp_seconds",
             "When the first of the tunnel's CRLs must be issued again (Unix time; 0 without crl_file)",
             validity.crl, "crl", "issue the CRL again (gatewayd certs revoke --ca DIR) and reload"}}) {
    gw.metrics.gauge(item.gauge, item.help, {}).set(item.until);
    const auto until = std::chrono::system_clock::time_point(std::chrono::seconds(item.until));
    if (item.until == 0 || until - now >= kWarnBefore) continue;
    std::string when;
    host::append_timestamp(when, until);
    gw.log.log(
        LogLevel::warn, "tunnel_tls_expiring",
        {{"what", item.what},
         {"until", when},
         {"hours_left", std::to_string(std::chrono::duration_cast<std::chrono::hours>(until - now).count())},
         {"hint", item.hint}});
  }
}

namespace {

// Builds the tunnel's TLS contexts: from the configured files, or (standalone) from certificates
// minted in memory for this process only. Returns problems naming the section at fault.
std::vector<std::string> prepare_tunnel_tls(Gateway& gw) {
  std::vector<std::string> problems;
  const auto& config = gw.config;
  const std::string file = config.file.string();
  if (config.node.role == config::Role::standalone) {
    gw.identity = {config.connector->tenant, config.connector->location_id};
    // Minted anew at every start and never written out; valid long enough that the in-process
    // connector can always dial again, however long the process runs.
    constexpr int kDays = 3650;
    const auto ca = tunnel::make_ca("gatewayd standalone CA", kDays);
    const auto edge = tunnel::make_edge_cert(ca, {"localhost"}, {"127.0.0.1"}, kDays);
    const auto connector = tunnel::make_connector_cert(ca, gw.identity, kDays);
    tunnel::TunnelTlsSource server{.ca_pem = ca.cert, .cert_pem = edge.cert, .key_pem = edge.key};
    tunnel::TunnelTlsSource client{.ca_pem = ca.cert, .cert_pem = connector.cert, .key_pem = connector.key};
    gw.tunnel_server_tls = tunnel::make_edge_server_context(server);
    gw.tunnel_client_tls = tunnel::make_connector_client_context(client);
    return problems;
  }
  if (config.node.role == config::Role::edge && config.tunnel) {
    try {
      gw.tunnel_server_tls = tunnel::make_edge_server_context(tls_source(config.tunnel->tls));
    } catch (const std::exception& e) {
      problems.push_back(file + ": tunnel: " + e.what());
    }
  }
  if (config.node.role == config::Role::connector && config.connector) {
    try {
      gw.tunnel_client_tls = tunnel::make_connector_client_context(tls_source(config.connector->tls));
      std::string error;
      auto identity = tunnel::identity_from_certificate_file(config.connector->tls.cert_file.string(), error);
      if (identity) {
        gw.identity = *identity;
      } else {
        problems.push_back(file + ": connector.cert_file: " + error);
      }
    } catch (const std::exception& e) {
      problems.push_back(file + ": connector: " + e.what());
    }
  }
  return problems;
}

}  // namespace

std::vector<std::string> prepare(Gateway& gw, const std::vector<std::filesystem::path>& plugin_paths) {
  std::vector<std::string> problems;
  gw.audit = std::make_unique<host::AuditLog>(gw.config.audit, gw.log);
  gw.host = std::make_unique<host::HostServices>(gw.log, gw.metrics, *gw.audit);
  gw.registry = std::make_unique<plugins::PluginRegistry>(*gw.host);
  gw.registry->load(plugin_search_path(plugin_paths, gw.config.plugins.paths), gw.config.plugins.allow);
  for (const auto& p : gw.registry->path_problems()) {
    bool configured = false;
    for (const auto& path : gw.config.plugins.paths) configured |= p.find(path.string()) != std::string::npos;
    if (configured) problems.push_back(gw.config.file.string() + ": plugins.paths: " + p);
  }
  std::vector<config::Problem> route_problems;
  route_problems = build_routes(gw.config, *gw.registry, gw.tls, gw.metrics, gw.routes);
  for (auto& p : route_problems) {
    std::string line = p.str();
    // Say why a plugin that would have provided the route type was refused.
    if (p.key.ends_with(".route_type")) {
      for (const auto& r : gw.registry->reports()) {
        if (r.loaded || !r.manifest) continue;
        for (const auto& t : r.manifest->route_types) {
          if (line.find("'" + t + "'") != std::string::npos) {
            line += " (plugin " + r.manifest_file.string() + " was refused: " + r.refusal + ")";
          }
        }
      }
    }
    problems.push_back(line);
  }
  auto tls_problems = prepare_tunnel_tls(gw);
  problems.insert(problems.end(), tls_problems.begin(), tls_problems.end());
  if (tls_problems.empty()) report_tunnel_validity(gw);
  return problems;
}

}  // namespace gw::runtime
