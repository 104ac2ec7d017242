#include "runtime/http_proxy_entry.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <optional>

#include "gateway/plugin/authority.hpp"
#include "gateway/plugin/deadline.hpp"
#include "net/prefixed_stream.hpp"
#include "socks/jwt.hpp"
#include "tunnel/answering_tunnel.hpp"
#include "tunnel/routing_tunnel.hpp"

namespace gw::runtime {

namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

std::string text_of(beast::string_view view) {
  return std::string(view.data(), view.size());
}

std::string clean(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

// A complete answer that ends the connection. `extra` holds whole header lines.
std::string answer(int status, std::string_view message, const std::string& request_id,
                   std::string_view extra = {}) {
  const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  const std::string text = clean(message);
  std::string out =
      "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason.data(), reason.size()) + "\r\n";
  out += extra;
  out += "content-type: text/plain; charset=utf-8\r\nx-error-message: " + text +
         "\r\nx-request-id: " + request_id + "\r\ncontent-length: " + std::to_string(text.size() + 1) +
         "\r\nconnection: close\r\n\r\n" + text + "\n";
  return out;
}

// A CONNECT target ("host:port", "[v6]:port") or an absolute URL's authority (with a default port),
// split; hosts with spaces, slashes or user information are refused.
bool split_proxy_authority(std::string_view authority, std::uint16_t default_port, std::string& host,
                           std::uint16_t& port) {
  return split_authority(authority, default_port, host, port) &&
         host.find_first_of(" \t/@") == std::string::npos;
}

}  // namespace

asio::awaitable<void> HttpProxyEntryPoint::serve(net::TcpStream& client, const std::string& request_id) {
  const std::shared_ptr<const socks::Options> options_in_force = options_.get();
  const socks::Options& options = *options_in_force;
  auto refuse = [&](int status, std::string reason, std::string extra = {}) -> asio::awaitable<void> {
    log_.log(LogLevel::info, "http_proxy_refused",
             {{"client", client.info().peer},
              {"request_id", request_id},
              {"status", std::to_string(status)},
              {"reason", reason}});
    const std::string text = answer(status, reason, request_id, extra);
    co_await client.write(asio::buffer(text));
    co_await client.shutdown_write();
  };

  // The request head, within the handshake timeout.
  std::string bytes;
  std::size_t head_end = std::string::npos;
  {
    Deadline deadline(client.executor(), options.timeout, [&client] { client.close(); });
    char chunk[8192];
    while (head_end == std::string::npos) {
      IoResult r = co_await client.read_some(asio::buffer(chunk));
      bytes.append(chunk, r.bytes);
      head_end = bytes.find("\r\n\r\n", bytes.size() > r.bytes + 3 ? bytes.size() - r.bytes - 3 : 0);
      if (head_end == std::string::npos && bytes.size() > kMaxHead) {
        co_await refuse(431, "request head larger than 64 KiB");
        co_return;
      }
      if (r.error && head_end == std::string::npos) {
        if (deadline.expired()) {
          log_.log(LogLevel::info, "http_proxy_refused",
                   {{"client", client.info().peer},
                    {"request_id", request_id},
                    {"reason", "request head timeout"}});
        }
        co_return;
      }
    }
  }
  head_end += 4;

  bhttp::request_parser<bhttp::empty_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(kMaxHead));
  error_code ec;
  parser.put(asio::buffer(bytes.data(), head_end), ec);
  if (ec && ec != bhttp::error::need_more) {
    co_await refuse(400, "malformed request: " + ec.message());
    co_return;
  }
  if (!parser.is_header_done()) {
    co_await refuse(400, "malformed request head");
    co_return;
  }
  const auto& head = parser.get();

  // Who is calling.
  std::optional<socks::Identity> identity;
  std::string auth_error = "proxy authorization required";
  const std::string authorization = text_of(head[bhttp::field::proxy_authorization]);
  const std::string location = text_of(head[kLocationHeader]);
  if (authorization.size() > 6 && beast::iequals(authorization.substr(0, 6), "Basic ") &&
      options.offer_password) {
    auto decoded = socks::base64_decode(std::string_view(authorization).substr(6));
    const auto colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos) {
      auth_error = "malformed Basic credentials";
    } else {
      identity = socks::authenticate_password(options, std::string_view(*decoded).substr(0, colon),
                                              std::string_view(*decoded).substr(colon + 1), auth_error);
    }
  } else if (authorization.size() > 7 && beast::iequals(authorization.substr(0, 7), "Bearer ") &&
             options.offer_jwt) {
    identity =
        socks::authenticate_jwt(options, std::string_view(authorization).substr(7), location, auth_error);
  } else if (authorization.empty() && options.offer_none) {
    identity = socks::Identity{options.anonymous_tenant, options.anonymous_location, ""};
  }
  if (!identity) {
    if (host_.audit().enabled(AuditClass::security)) {
      host_.audit().record({AuditClass::security,
                            "http_proxy.authentication",
                            {{"client", client.info().peer},
                             {"request_id", request_id},
                             {"outcome", std::string("refused")},
                             {"reason", auth_error}}});
    }
    std::string challenge;
    if (options.offer_password) challenge += "proxy-authenticate: Basic realm=\"gatewayd\"\r\n";
    if (options.offer_jwt) challenge += "proxy-authenticate: Bearer realm=\"gatewayd\"\r\n";
    co_await refuse(407, auth_error, challenge);
    co_return;
  }
  // A location in the header applies to Basic and anonymous callers too, unless their user fixes one.
  if (identity->location_id.empty()) identity->location_id = location;

  // Where to.
  const std::string target = text_of(head.target());
  const std::string destination_name = text_of(head["X-Destination-Name"]);
  std::shared_ptr<const RouteState> state;  // held to the request's end
  Destination destination;
  const auto destinations = routes_.destinations();
  // The destination with this virtual address, or else the proxy's own route for `fallback`.
  auto by_address = [&](const std::string& host, std::uint16_t port, Route& fallback) {
    Route* route = destinations->at(identity->tenant, identity->location_id, host, port);
    state = (route ? route : &fallback)->state();
    destination = state->destination;
    destination.host = host;
    destination.port = port;
  };
  const bool connect = head.method() == bhttp::verb::connect;
  if (connect) {
    std::string host;
    std::uint16_t port = 0;
    if (!split_proxy_authority(target, 0, host, port)) {
      co_await refuse(400, "CONNECT needs host:port");
      co_return;
    }
    by_address(host, port, *routes_.proxies.http_proxy_connect);
  } else if (!destination_name.empty()) {
    if (auto route = destinations->named(destination_name)) state = route->state();
    if (!state || state->destination.tenant != identity->tenant) {
      co_await refuse(404, "no destination " + destination_name + " for this tenant");
      co_return;
    }
    destination = state->destination;
  } else if (target.rfind("https://", 0) == 0) {
    co_await refuse(405, "https:// URLs go through CONNECT");
    co_return;
  } else if (target.rfind("http://", 0) == 0) {
    const std::string_view rest = std::string_view(target).substr(7);
    const std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
    std::string host;
    std::uint16_t port = 0;
    if (!split_proxy_authority(authority, 80, host, port)) {
      co_await refuse(400, "malformed URL authority");
      co_return;
    }
    by_address(host, port, *routes_.proxies.http_proxy);
  } else {
    co_await refuse(400, "expected an absolute http:// URL, CONNECT, or X-Destination-Name");
    co_return;
  }
  if (destination.proxy_type == ProxyType::on_premise) {
    destination.tenant = identity->tenant;
    destination.location_id = identity->location_id;
  }
  EdgeRouteHandler& handler = *state->handler;

  // CONNECT's head is ours; anything else goes to the route handler as it came.
  std::string prefix = connect ? bytes.substr(head_end) : std::move(bytes);
  net::PrefixedStream stream(client, std::move(prefix));
  tunnel::RoutingTunnel routing(direct_, pool_, destination);
  tunnel::AnsweringTunnel tunnel(
      routing,
      [&client, connect, &request_id](const error_code& error,
                                      const std::string& reason) -> asio::awaitable<void> {
        if (!connect) co_return;  // a request-based route type answers in HTTP itself
        const std::string reply = error ? answer(http_status_for(error), reason, request_id)
                                        : std::string("HTTP/1.1 200 Connection Established\r\n\r\n");
        co_await client.write(asio::buffer(reply));
      });
  EdgeSession session{destination, stream, tunnel, request_id, identity->principal};
  if (!connect || handler.reads_before_open()) co_await tunnel.answer_success();
  co_await handler.serve(session);
  if (!tunnel.answered()) {
    const std::string reply = answer(502, "the route handler did not reach the target", request_id);
    co_await client.write(asio::buffer(reply));
  }
}

}  // namespace gw::runtime
