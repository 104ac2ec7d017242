#include "runtime/socks_entry.hpp"

#include "net/host_name.hpp"
#include "net/prefixed_stream.hpp"
#include "tunnel/answering_tunnel.hpp"
#include "tunnel/routing_tunnel.hpp"

namespace gw::runtime {

asio::awaitable<void> SocksEntryPoint::serve(net::TcpStream& client, const std::string& request_id) {
  const std::shared_ptr<const socks::Options> options = options_.get();
  socks::Negotiation negotiation = co_await socks::negotiate(client, *options);
  if (!negotiation.ok) {
    log_.log(LogLevel::info, "socks5_refused",
             {{"client", client.info().peer}, {"request_id", request_id}, {"reason", negotiation.reason}});
    if (negotiation.authentication_failed && host_.audit().enabled(AuditClass::security)) {
      host_.audit().record({AuditClass::security,
                            "socks5.authentication",
                            {{"client", client.info().peer},
                             {"method", negotiation.method},
                             {"outcome", std::string("refused")},
                             {"reason", negotiation.reason}}});
    }
    co_return;
  }
  const auto destinations = routes_.destinations();
  Route* route =
      destinations->at(negotiation.tenant, negotiation.location_id, negotiation.host, negotiation.port);
  // Virtual hosts no destination describes are relayed as tcp, with the SOCKS5 entry point's limits.
  const std::shared_ptr<const RouteState> state = (route ? route : routes_.proxies.socks5.get())->state();
  Destination destination = state->destination;
  EdgeRouteHandler& handler = *state->handler;
  destination.host = negotiation.host;
  destination.port = negotiation.port;
  destination.tenant = negotiation.tenant;
  destination.location_id = negotiation.location_id;

  net::PrefixedStream stream(client, std::move(negotiation.early_data));
  tunnel::RoutingTunnel routing(direct_, pool_, destination);
  // The CONNECT reply waits for the handler's first open(): success, or the code that says why not.
  tunnel::AnsweringTunnel tunnel(
      routing, [&client](const error_code& error, const std::string&) -> asio::awaitable<void> {
        co_await socks::send_reply(client, error ? socks::reply_for(error) : socks::ReplyCode::succeeded);
      });
  EdgeSession session{destination, stream, tunnel, request_id, negotiation.principal};
  if (handler.reads_before_open()) co_await tunnel.answer_success();
  co_await handler.serve(session);
  if (!tunnel.answered()) co_await socks::send_reply(client, socks::ReplyCode::general_failure);
}

}  // namespace gw::runtime
