#include "runtime/destination_lookup.hpp"

#include <nlohmann/json.hpp>

#include "tunnel/routing_tunnel.hpp"

namespace gw::runtime {

namespace {

std::string authentication_name(const Destination& destination) {
  if (!destination.settings.has("authentication")) return "NoAuthentication";
  const auto* kind = std::get_if<std::string>(&destination.settings.values().at("authentication"));
  if (kind == nullptr || *kind == "none") return "NoAuthentication";
  if (*kind == "basic") return "BasicAuthentication";
  if (*kind == "bearer") return "BearerToken";
  if (*kind == "oauth2_client_credentials") return "OAuth2ClientCredentials";
  return *kind;
}

std::string url_of(const Destination& d) {
  const std::string scheme = d.scheme.empty() ? d.route_type : d.scheme;
  const bool ipv6 = d.host.find(':') != std::string::npos;
  return scheme + "://" + (ipv6 ? "[" + d.host + "]" : d.host) + ":" + std::to_string(d.port);
}

}  // namespace

asio::awaitable<admin::AdminServer::Answer> lookup_destination(const Routes& routes, Tunnel& direct,
                                                               tunnel::ConnectorPool* pool,
                                                               std::string name) {
  std::shared_ptr<const RouteState> state;  // held while the handler fetches tokens
  if (auto route = routes.destinations()->named(name)) state = route->state();
  if (!state) {
    const nlohmann::json error{{"type", "not_found"}, {"message", "no destination named " + name}};
    co_return admin::AdminServer::Answer{404, error.dump() + "\n"};
  }
  const Destination& d = state->destination;
  nlohmann::json configuration{
      {"Name", d.name},
      {"Type", d.route_type == "http" ? "HTTP" : d.route_type},
      {"URL", url_of(d)},
      {"ProxyType", d.proxy_type == ProxyType::on_premise ? "OnPremise" : "Internet"},
      {"Authentication", authentication_name(d)}};
  if (d.proxy_type == ProxyType::on_premise) configuration["CloudConnectorLocationId"] = d.location_id;

  tunnel::RoutingTunnel tunnel(direct, pool, d);
  std::vector<AuthToken> tokens = co_await state->handler->auth_tokens(d, tunnel);
  nlohmann::json auth_tokens = nlohmann::json::array();
  for (const auto& token : tokens) {
    nlohmann::json entry{{"type", token.type}};
    if (!token.error.empty()) {
      entry["error"] = token.error;
    } else {
      entry["value"] = token.value;
      entry["http_header"] = {{"key", token.header_name}, {"value", token.header_value}};
      if (token.expires_in.count() > 0) entry["expires_in"] = std::to_string(token.expires_in.count());
    }
    auth_tokens.push_back(std::move(entry));
  }
  const nlohmann::json document{{"destinationConfiguration", std::move(configuration)},
                                {"authTokens", std::move(auth_tokens)}};
  co_return admin::AdminServer::Answer{200, document.dump() + "\n"};
}

}  // namespace gw::runtime
