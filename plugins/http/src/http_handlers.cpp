// The `http` route type's handlers: HTTP/1.1 between the application and the target, request by request.
//
// Edge: an application sends plain HTTP to the destination's entry point. Each request gets the
// destination's credentials (Basic, a static bearer token, or an OAuth2 client-credentials token the
// gateway fetches and caches), extra headers and query parameters, and goes to the target: straight to
// an Internet target (http or https, verified), or through the tunnel to the connector of an
// on-premise destination. Keep-alive on both sides; bodies stream.
// Connector: each request that arrives through the tunnel is normalised (path_policy.hpp) and checked
// against the system's resources; what passes goes to the internal system with the normalised target,
// the Host the system asks for, and Location headers of responses mapped back to the virtual host.
#include "http_handlers.hpp"

#include <boost/beast/core/string.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/plugin_api.hpp"
#include "http1.hpp"
#include "path_policy.hpp"
#include "token_cache.hpp"

namespace gw::http {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxTokenResponse = 64 * 1024;

std::int64_t elapsed_ms(Clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count();
}

std::string authority(const std::string& host, std::uint16_t port, bool tls) {
  const bool ipv6 = host.find(':') != std::string::npos;
  std::string out = ipv6 ? "[" + host + "]" : host;
  if (port != (tls ? 443 : 80)) out += ":" + std::to_string(port);
  return out;
}

std::string to_string(beast::string_view text) {
  return std::string(text.data(), text.size());
}

// Percent-encodes a query component (RFC 3986 unreserved characters stay as they are).
std::string encode_query_component(std::string_view text) {
  static const char digits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 0xf];
    }
  }
  return out;
}

// "http://authority/path?query" -> "/path?query".
std::string origin_form(std::string_view absolute) {
  const std::string_view rest = absolute.substr(7);
  const std::size_t start = rest.find_first_of("/?");
  if (start == std::string_view::npos) return "/";
  std::string out(rest.substr(start));
  if (out.front() == '?') out.insert(out.begin(), '/');
  return out;
}

// Whether an absolute http:// URL names the destination's host and port.
bool same_origin(std::string_view absolute, const Destination& destination) {
  std::string_view authority = absolute.substr(7);
  authority = authority.substr(0, authority.find_first_of("/?"));
  std::string host;
  std::uint16_t port = 0;
  return split_authority(authority, 80, host, port) && port == destination.port &&
         beast::iequals(host, destination.host);
}

bool is_websocket_upgrade(const RequestHeader& header) {
  const auto upgrade = header[bhttp::field::upgrade];
  return !upgrade.empty() && beast::iequals(upgrade, "websocket");
}

struct HttpLimits {
  MessageLimits message;
  std::size_t buffer_size = 60 * 1024;
};

HttpLimits limits_from(const Settings& settings, const Limits& route_limits) {
  HttpLimits limits;
  limits.message.read_timeout = settings.get_duration("read_timeout");
  limits.message.max_request_line = static_cast<std::size_t>(settings.get_int("max_request_line"));
  limits.message.max_header = static_cast<std::size_t>(settings.get_int("max_header_size"));
  limits.buffer_size = route_limits.buffer_size;
  return limits;
}

struct RouteMetrics {
  RouteMetrics(Metrics& m, const std::string& name)
      : requests(m.counter("gateway_http_requests_total", "HTTP requests answered", {{"destination", name}})),
        denied(m.counter("gateway_http_denied_total", "HTTP requests refused by policy",
                         {{"destination", name}})),
        upstream_failed(connection_errors(m, name, "connect_failed")),
        bytes_up(bytes_relayed(m, name, "upstream")),
        bytes_down(bytes_relayed(m, name, "downstream")),
        duration(m.histogram("gateway_http_request_duration_seconds",
                             "Time from a request's head to the end of its response", {{"destination", name}},
                             Histogram::kLatencyBounds)) {}
  Counter& requests;
  Counter& denied;
  Counter& upstream_failed;
  Counter& bytes_up;
  Counter& bytes_down;
  Histogram& duration;
};

// What happened to one request, for the audit record.
struct Outcome {
  int status = 0;
  std::uint64_t bytes_up = 0;
  std::uint64_t bytes_down = 0;
  std::string error;
  bool responded = false;   // a response header went to the client (so no error answer can follow)
  bool upgraded = false;    // 101 Switching Protocols went to the client: the connection is a tunnel now
  bool keep_going = false;  // both connections may carry another request
};

// Why the upstream connection could not be opened, as the HTTP client is told.
struct OpenFailure {
  int status = 502;
  std::string reason;
};

// An upstream connection kept across the requests of one client connection.
struct Upstream {
  std::unique_ptr<Stream> stream;
  std::unique_ptr<MessageReader> reader;

  // Opens the connection unless one is open. A `first` request without a body then travels with the
  // open as early data: through a connector it leaves with the stream's CONNECT instead of a round
  // trip later.
  asio::awaitable<std::optional<OpenFailure>> ensure(Tunnel& tunnel, OpenRequest& request,
                                                     const MessageLimits& limits, OutgoingRequest& first) {
    if (stream) co_return std::nullopt;
    if (!first.has_body) request.early_data = asio::buffer(first.head);
    OpenResult opened = co_await tunnel.open(request);
    if (!opened) co_return OpenFailure{http_status_for(opened.error), opened.reason};
    first.sent_with_open = !first.has_body;
    stream = std::move(opened.stream);
    reader = std::make_unique<MessageReader>(*stream, limits);
    co_return std::nullopt;
  }
  void reset() {
    reader.reset();
    if (stream) stream->close();
    stream.reset();
  }
};

// Sends `outgoing` (unless it went with the open) and the request's body, then relays the response back
// to the client. `rewrite` adjusts the response header before it goes out.
template <class Rewrite>
asio::awaitable<Outcome> exchange(MessageReader& client, RequestParser& request,
                                  const OutgoingRequest& outgoing, Upstream& upstream, RelayBuffer& scratch,
                                  bool client_keep_alive, Rewrite&& rewrite) {
  Outcome outcome;
  BodyRelay<true> request_body(client, request, request.chunked(), scratch);
  const bool expects_continue = beast::iequals(request.get()[bhttp::field::expect], "100-continue");
  if (outgoing.has_body && !expects_continue) {
    // A body that is malformed from its first bytes never reaches the target. (A client that waits
    // for 100 Continue sends nothing before the target answers, so its body is checked as it flows.)
    ReadError first = co_await request_body.read_first();
    if (first) {
      outcome.status = status_for(first);
      outcome.error = "reading the request body: " + first.detail;
      co_return outcome;
    }
  }
  ReadError read_error;
  error_code write_error;
  if (!outgoing.sent_with_open) {
    outcome.bytes_up = co_await request_body.relay(*upstream.stream, outgoing.head, read_error, write_error);
  }
  if (read_error) {
    outcome.status = status_for(read_error);  // 0: the client broke off its own request
    outcome.error = "reading the request body: " + read_error.detail;
    co_return outcome;
  }
  if (write_error) {
    outcome.status = 502;
    outcome.error = "sending the request body: " + write_error.message();
    co_return outcome;
  }

  const bool head_request = request.get().method() == bhttp::verb::head;
  for (;;) {
    ResponseParser response;
    if (head_request) response.skip(true);
    ReadError header_error = co_await upstream.reader->read_header(response);
    if (header_error) {
      outcome.status = header_error.failure == ReadFailure::timeout ? 504 : 502;
      outcome.error = "reading the response: " + header_error.detail;
      co_return outcome;
    }
    ResponseHeader& header = response.get().base();  // rewritten in place for the client
    const int status = header.result_int();
    if (status >= 100 && status < 200) {
      if (status == 101) {
        if (!is_websocket_upgrade(request.get().base())) {
          outcome.status = 502;
          outcome.error = "the target switched protocols without being asked to";
          co_return outcome;
        }
        remove_hop_by_hop(header, true);
        header.set(bhttp::field::connection, "upgrade");
        const std::string switching = serialize(header);
        outcome.status = 101;
        outcome.responded = true;
        if (error_code ec = co_await write_all(client.stream(), switching)) {
          outcome.error = "sending the response: " + ec.message();
          co_return outcome;
        }
        outcome.upgraded = true;
        co_return outcome;
      }
      remove_hop_by_hop(header);
      const std::string interim = serialize(header);
      if (error_code ec = co_await write_all(client.stream(), interim)) {
        outcome.status = 0;
        outcome.error = "sending an interim response: " + ec.message();
        co_return outcome;
      }
      continue;
    }
    const bool upstream_keep_alive = response.keep_alive();
    remove_hop_by_hop(header);
    rewrite(header);
    const bool chunked_out = frame_response(response, header, head_request, !client_keep_alive);
    outcome.status = status;
    outcome.responded = true;
    const std::string response_head = serialize(header);
    ReadError body_read;
    error_code body_write;
    BodyRelay<false> response_body(*upstream.reader, response, chunked_out, scratch);
    outcome.bytes_down = co_await response_body.relay(client.stream(), response_head, body_read, body_write);
    if (body_read) {
      outcome.error = "reading the response body: " + body_read.detail;
      co_return outcome;  // the client sees the connection end before the body did: it can tell
    }
    if (body_write) {
      outcome.error = "sending the response body: " + body_write.message();
      co_return outcome;
    }
    outcome.keep_going = client_keep_alive;
    if (!upstream_keep_alive) upstream.reset();
    co_return outcome;
  }
}

// After an exchange: the request's metrics, and the error answer when nothing of a response reached
// the client (which then ends the connection).
asio::awaitable<void> settle(Outcome& outcome, MessageReader& client, RouteMetrics& metrics,
                             Clock::time_point start, const std::string& request_id) {
  metrics.requests.add();
  metrics.duration.observe(Clock::now() - start);
  metrics.bytes_up.add(outcome.bytes_up);
  metrics.bytes_down.add(outcome.bytes_down);
  if (!outcome.responded && outcome.status != 0) {
    co_await answer_and_close(client, error_response(outcome.status, outcome.error, request_id));
    outcome.keep_going = false;
  }
}

// The `http.request` audit record of either side; `route` is {"destination" or "system", its name},
// `extra` more fields first (the edge's client address).
void audit_request(Host& host, std::pair<const char*, const std::string&> route,
                   std::vector<AuditField> extra, const std::string& request_id, const std::string& principal,
                   const std::string& method, const std::string& target, int status, bool failure,
                   const std::string& error, Clock::time_point start, const Outcome& outcome) {
  if (!host.audit().enabled(AuditClass::access)) return;
  AuditEvent event{AuditClass::access, "http.request", {{route.first, route.second}}};
  event.fields.push_back({"request_id", request_id});
  event.fields.push_back({"principal", principal});
  for (auto& field : extra) event.fields.push_back(std::move(field));
  for (auto& field : std::vector<AuditField>{{"method", method},
                                             {"target", target},
                                             {"status", static_cast<std::int64_t>(status)},
                                             {"outcome", failure ? "error" : "ok"},
                                             {"reason", error},
                                             {"bytes_up", static_cast<std::int64_t>(outcome.bytes_up)},
                                             {"bytes_down", static_cast<std::int64_t>(outcome.bytes_down)},
                                             {"duration_ms", elapsed_ms(start)}}) {
    event.fields.push_back(std::move(field));
  }
  host.audit().record(event);
}

// After 101: whatever either reader buffered past the handshake goes on first, then the bytes flow
// both ways (WebSocket frames are the application's business) until either side ends.
asio::awaitable<SpliceResult> relay_upgraded(Host& host, MessageReader& client, Upstream& upstream,
                                             const Limits& limits, RouteMetrics& metrics) {
  SpliceResult result;
  auto& from_client = client.buffer();
  if (from_client.size() > 0) {
    IoResult w = co_await upstream.stream->write(from_client.data());
    from_client.consume(from_client.size());
    if (w.error) co_return result;
  }
  auto& from_upstream = upstream.reader->buffer();
  if (from_upstream.size() > 0) {
    IoResult w = co_await client.stream().write(from_upstream.data());
    from_upstream.consume(from_upstream.size());
    if (w.error) co_return result;
  }
  SpliceOptions options;
  options.idle_timeout = limits.idle_timeout;
  options.half_close_timeout = limits.half_close_timeout;
  options.buffer_size = limits.buffer_size;
  options.bytes_a_to_b = &metrics.bytes_up;
  options.bytes_b_to_a = &metrics.bytes_down;
  result = co_await host.splice(client.stream(), *upstream.stream, options);
  co_return result;
}

// ---- edge ------------------------------------------------------------------------------------------

enum class AuthKind { none, basic, bearer, oauth2 };

struct TokenEndpoint {
  bool tls = false;
  std::string host;
  std::uint16_t port = 0;
  std::string path;
};

std::optional<TokenEndpoint> parse_token_url(const std::string& url) {
  TokenEndpoint out;
  std::string_view rest(url);
  if (rest.substr(0, 8) == "https://") {
    out.tls = true;
    rest.remove_prefix(8);
  } else if (rest.substr(0, 7) == "http://") {
    rest.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  const std::size_t slash = rest.find('/');
  out.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (!split_authority(rest.substr(0, slash), out.tls ? 443 : 80, out.host, out.port)) return std::nullopt;
  for (char c : out.path) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return std::nullopt;
  }
  return out;
}

class HttpEdgeHandler final : public EdgeRouteHandler {
 public:
  HttpEdgeHandler(Host& host, const Destination& destination, TokenCache& tokens)
      : host_(host),
        tokens_(tokens),
        metrics_(host.metrics(), destination.name),
        limits_(limits_from(destination.settings, destination.limits)) {
    if (!destination.scheme.empty() && destination.scheme != "http" && destination.scheme != "https") {
      throw RouteConfigError("address",
                             "route type http takes http://host[:port] or https://host[:port], not " +
                                 destination.scheme + "://");
    }
    tls_ = destination.scheme == "https" || destination.tls.enabled;
    if (tls_ && destination.proxy_type == ProxyType::on_premise) {
      throw RouteConfigError("address",
                             "an on_premise destination is reached through the tunnel in plain HTTP; the "
                             "connector's system decides whether the internal hop uses TLS");
    }
    const Settings& s = destination.settings;
    const std::string& kind = s.get_string("authentication");
    if (kind == "basic") {
      auth_ = AuthKind::basic;
      if (!s.has("user") || !s.has("password")) {
        throw RouteConfigError("settings", "authentication basic needs settings user and password");
      }
      authorization_ = "Basic " + base64(s.get_string("user") + ":" + s.get_string("password"));
    } else if (kind == "bearer") {
      auth_ = AuthKind::bearer;
      if (!s.has("token")) throw RouteConfigError("settings", "authentication bearer needs setting token");
      authorization_ = "Bearer " + s.get_string("token");
    } else if (kind == "oauth2_client_credentials") {
      auth_ = AuthKind::oauth2;
      if (!s.has("token_url") || !s.has("client_id") || !s.has("client_secret")) {
        throw RouteConfigError(
            "settings",
            "authentication oauth2_client_credentials needs settings token_url, client_id and "
            "client_secret");
      }
      auto endpoint = parse_token_url(s.get_string("token_url"));
      if (!endpoint) {
        throw RouteConfigError("settings.token_url",
                               "expected http://host[:port]/path or https://host[:port]/path");
      }
      token_endpoint_ = std::move(*endpoint);
      token_request_ = make_client_credentials_request(
          s.get_string("client_id"), s.get_string("client_secret"),
          s.has("scope") ? s.get_string("scope") : "",
          s.get_string("client_auth") == "post" ? ClientAuth::post : ClientAuth::basic);
      token_key_ = destination.name + "\n" + destination.tenant;
    }
    if (s.has("headers")) {
      for (const auto& record : s.get_records("headers")) {
        extra_headers_.emplace_back(record.get_string("name"), record.get_string("value"));
      }
    }
    if (s.has("query")) {
      for (const auto& record : s.get_records("query")) {
        if (!extra_query_.empty()) extra_query_ += '&';
        extra_query_ += encode_query_component(record.get_string("name")) + "=" +
                        encode_query_component(record.get_string("value"));
      }
    }
    for (const char* key : {"resources"}) {
      if (s.has(key))
        throw RouteConfigError(std::string("settings.") + key, "applies to systems, not destinations");
    }
  }

  bool reads_before_open() const noexcept override { return true; }

  asio::awaitable<std::vector<AuthToken>> auth_tokens(const Destination&, Tunnel& tunnel) override {
    std::vector<AuthToken> out;
    if (auth_ == AuthKind::basic || auth_ == AuthKind::bearer) {
      const auto space = authorization_.find(' ');
      out.push_back({authorization_.substr(0, space), authorization_.substr(space + 1), "Authorization",
                     authorization_, std::chrono::seconds(0), ""});
    } else if (auth_ == AuthKind::oauth2) {
      auto* through = &tunnel;
      TokenFetch fetch = [this, through]() -> asio::awaitable<TokenResult> { return fetch_token(*through); };
      TokenResult token = co_await tokens_.get(token_key_, std::move(fetch));
      AuthToken entry;
      entry.type = "Bearer";
      if (!token.token) {
        entry.error = token.error;
      } else {
        entry.value = token.token->value;
        entry.header_name = "Authorization";
        entry.header_value = "Bearer " + token.token->value;
        entry.expires_in =
            std::chrono::duration_cast<std::chrono::seconds>(token.token->expires_at - Clock::now());
      }
      out.push_back(std::move(entry));
    }
    co_return out;
  }

  asio::awaitable<void> serve(EdgeSession& session) override {
    // Requests and responses are written whole; Nagle would hold back each one's last segment.
    session.client.set_no_delay(true);
    MessageReader client(session.client, limits_.message);
    Upstream upstream;
    RelayBuffer scratch(limits_.buffer_size);
    // Per connection: an HTTP proxy hands this handler destinations whose address it set.
    const Destination& destination = session.destination;
    const std::string host_header = authority(destination.host, destination.port, tls_);
    for (;;) {
      const auto start = Clock::now();
      RequestParser request;
      ReadError read_error = co_await client.read_header(request);
      if (read_error) {
        if (const int status = status_for(read_error)) {
          co_await answer_and_close(client, error_response(status, read_error.detail, session.request_id));
          audit(session, "", "", status, read_error.detail, start, Outcome{});
        }
        co_return;
      }
      const RequestHeader& incoming = request.get().base();
      const std::string method = to_string(incoming.method_string());
      std::string target = to_string(incoming.target());
      if (target.rfind("http://", 0) == 0) {
        // Absolute form, from a proxy client: it must name this connection's destination.
        if (!same_origin(target, destination)) {
          // A proxy client reuses its connection for another host: end it unanswered, and the client
          // retries on a new connection (which the proxy routes afresh).
          host_.logger().log(LogLevel::debug, "http_connection_ended",
                             {{"destination", destination.name},
                              {"request_id", session.request_id},
                              {"reason", "request for another destination on this connection"}});
          co_return;
        }
        target = origin_form(target);
      }
      std::string refusal;
      int refusal_status = 400;
      if (target.empty() || target.front() != '/') {
        refusal = "expected a request target starting with '/' or an absolute http:// URL";
      } else if (incoming.count(bhttp::field::upgrade) != 0 && !is_websocket_upgrade(incoming)) {
        refusal = "protocol upgrades other than WebSocket are not supported";
        refusal_status = 501;
      }
      if (!refusal.empty()) {
        co_await answer_and_close(client, error_response(refusal_status, refusal, session.request_id));
        audit(session, method, target, refusal_status, refusal, start, Outcome{});
        co_return;
      }

      const bool websocket = is_websocket_upgrade(incoming);
      RequestHeader& outgoing = request.get().base();  // rewritten in place for the target
      outgoing.target(target);
      remove_hop_by_hop(outgoing, websocket);
      if (websocket) outgoing.set(bhttp::field::connection, "upgrade");
      for (const char* proxy_only :
           {"proxy-authorization", "x-destination-name", "sap-connectivity-scc-location_id"}) {
        outgoing.erase(proxy_only);
      }
      outgoing.set(bhttp::field::host, host_header);
      if (!extra_query_.empty()) {
        outgoing.target(target + (target.find('?') == std::string::npos ? "?" : "&") + extra_query_);
      }
      for (const auto& [name, value] : extra_headers_) outgoing.set(name, value);
      std::string bearer_token;  // the token this request carries, to drop if the target rejects it
      if (auth_ != AuthKind::none) {
        std::string authorization = authorization_;
        if (auth_ == AuthKind::oauth2) {
          TokenResult token = co_await oauth2_token(session);
          if (!token.token) {
            const std::string message = "cannot obtain a token for the destination: " + token.error;
            co_await answer_and_close(client, error_response(502, message, session.request_id));
            audit(session, method, target, 502, message, start, Outcome{});
            co_return;
          }
          bearer_token = token.token->value;
          authorization = "Bearer " + bearer_token;
        }
        outgoing.set(bhttp::field::authorization, authorization);
      }

      OpenRequest open = destination.target();
      open.tls.enabled = tls_;
      open.request_id = session.request_id;
      open.principal = session.principal;
      OutgoingRequest next = prepare_request(request, outgoing);
      if (auto failure = co_await upstream.ensure(session.tunnel, open, limits_.message, next)) {
        metrics_.upstream_failed.add();
        co_await answer_and_close(client,
                                  error_response(failure->status, failure->reason, session.request_id));
        audit(session, method, target, failure->status, failure->reason, start, Outcome{});
        co_return;
      }

      Outcome outcome = co_await exchange(client, request, next, upstream, scratch, request.keep_alive(),
                                          [](ResponseHeader&) {});
      // A target that rejects the token (revoked, rotated keys) gets a fresh one on the next request.
      if (outcome.status == 401 && !bearer_token.empty()) tokens_.invalidate(token_key_, bearer_token);
      co_await settle(outcome, client, metrics_, start, session.request_id);
      audit(session, method, target, outcome.status, outcome.error, start, outcome);
      if (outcome.upgraded) {
        co_await relay_upgraded(host_, client, upstream, destination.limits, metrics_);
        co_return;
      }
      if (!outcome.keep_going || !outcome.error.empty()) co_return;
    }
  }

 private:
  asio::awaitable<TokenResult> oauth2_token(EdgeSession& session) {
    // The fetch may outlive this client connection (other requests wait for it), so it owns copies.
    auto tunnel = &session.tunnel;  // the core's tunnel outlives every connection
    TokenFetch fetch = [this, tunnel]() -> asio::awaitable<TokenResult> { return fetch_token(*tunnel); };
    co_return co_await tokens_.get(token_key_, std::move(fetch));
  }

  asio::awaitable<TokenResult> fetch_token(Tunnel& tunnel) {
    TokenResult result;
    OpenRequest open;
    open.host = token_endpoint_.host;
    open.port = token_endpoint_.port;
    open.proxy_type = ProxyType::internet;
    open.tls.enabled = token_endpoint_.tls;
    open.route_type = "http";
    OpenResult opened = co_await tunnel.open(open);
    if (!opened) {
      result.error = "token endpoint " + token_endpoint_.host + ": " + opened.reason;
      co_return result;
    }
    std::string text = "POST " + token_endpoint_.path + " HTTP/1.1\r\nhost: " +
                       authority(token_endpoint_.host, token_endpoint_.port, token_endpoint_.tls) +
                       "\r\naccept: application/json\r\ncontent-type: application/x-www-form-urlencoded\r\n";
    if (!token_request_.authorization.empty())
      text += "authorization: " + token_request_.authorization + "\r\n";
    text += "content-length: " + std::to_string(token_request_.body.size()) + "\r\nconnection: close\r\n\r\n";
    text += token_request_.body;
    if (error_code ec = co_await write_all(*opened.stream, text)) {
      result.error = "token endpoint: sending the request: " + ec.message();
      co_return result;
    }
    MessageReader reader(*opened.stream, limits_.message);
    ResponseParser response;
    ReadError error = co_await reader.read_header(response);
    if (error) {
      result.error = "token endpoint: reading the response: " + error.detail;
      co_return result;
    }
    std::string body;
    std::vector<char> buffer(16 * 1024);
    for (;;) {
      const std::size_t n = co_await reader.read_body(response, asio::buffer(buffer), error);
      if (error) {
        result.error = "token endpoint: reading the response body: " + error.detail;
        co_return result;
      }
      if (n == 0) break;
      if (body.size() + n > kMaxTokenResponse) {
        result.error = "token endpoint: response larger than 64 KiB";
        co_return result;
      }
      body.append(buffer.data(), n);
    }
    co_return parse_token_response(response.get().result_int(), body, Clock::now());
  }

  void audit(const EdgeSession& session, const std::string& method, const std::string& target, int status,
             const std::string& error, Clock::time_point start, const Outcome& outcome) {
    if (!host_.audit().enabled(AuditClass::access)) return;  // the client's address costs a system call
    const bool failure = status == 0 || status >= 400 || !error.empty();
    audit_request(host_, {"destination", session.destination.name}, {{"client", session.client.info().peer}},
                  session.request_id, session.principal, method, target, status, failure, error, start,
                  outcome);
  }

  Host& host_;
  TokenCache& tokens_;
  RouteMetrics metrics_;
  HttpLimits limits_;
  bool tls_ = false;
  AuthKind auth_ = AuthKind::none;
  std::string authorization_;
  TokenEndpoint token_endpoint_;
  TokenRequest token_request_;
  std::string token_key_;
  std::vector<std::pair<std::string, std::string>> extra_headers_;
  std::string extra_query_;
};

// ---- connector -------------------------------------------------------------------------------------

MatchKind match_kind(const std::string& text) {
  if (text == "exact") return MatchKind::exact;
  if (text == "prefix") return MatchKind::prefix;
  return MatchKind::path_prefix;
}

std::vector<Resource> resources_from(const Settings& settings) {
  std::vector<Resource> out;
  if (!settings.has("resources")) return out;
  for (const auto& record : settings.get_records("resources")) {
    Resource resource;
    resource.path = record.get_string("path");
    resource.match = match_kind(record.get_string("match"));
    if (record.has("methods")) resource.methods = record.get_list("methods");
    resource.enabled = record.get_bool("enabled");
    resource.websocket = record.get_bool("websocket");
    out.push_back(std::move(resource));
  }
  return out;
}

ResourcePolicy policy_from(const Settings& settings) {
  try {
    return ResourcePolicy(resources_from(settings));
  } catch (const std::invalid_argument& e) {
    throw RouteConfigError("settings.resources", e.what());
  }
}

class HttpConnectorHandler final : public ConnectorRouteHandler {
 public:
  HttpConnectorHandler(Host& host, const System& system)
      : host_(host),
        name_(system.virtual_host + ":" + std::to_string(system.virtual_port_first)),
        metrics_(host.metrics(), name_),
        limits_(limits_from(system.settings, system.limits)),
        policy_(policy_from(system.settings)),
        internal_host_header_(system.settings.get_string("host_header") == "internal") {
    const Settings& s = system.settings;
    for (const char* key : {"user", "password", "token", "token_url", "client_id", "client_secret", "scope",
                            "headers", "query"}) {
      if (s.has(key))
        throw RouteConfigError(std::string("settings.") + key, "applies to destinations, not systems");
    }
    if (s.get_string("authentication") != "none") {
      throw RouteConfigError("settings.authentication", "applies to destinations, not systems");
    }
  }

  bool reads_before_open() const noexcept override { return true; }

  asio::awaitable<void> serve(ConnectorSession& session) override {
    MessageReader edge(session.stream, limits_.message);
    Upstream upstream;
    RelayBuffer scratch(limits_.buffer_size);
    const OpenRequest internal = session.system.internal_target(session.virtual_port);
    const std::string internal_authority = authority(internal.host, internal.port, internal.tls.enabled);
    const std::string virtual_authority = authority(session.virtual_host, session.virtual_port, false);
    const std::string internal_scheme = internal.tls.enabled ? "https://" : "http://";
    // A Location on the internal origin (scheme and host in any case, the port given or not) is
    // mapped to the virtual one, in every Location field: the internal address stays inside.
    const std::string origins[] = {internal_scheme + internal_authority,
                                   internal_scheme + internal.host + ":" + std::to_string(internal.port)};
    for (;;) {
      const auto start = Clock::now();
      RequestParser request;
      ReadError read_error = co_await edge.read_header(request);
      if (read_error) {
        if (const int status = status_for(read_error)) {
          co_await answer_and_close(edge, error_response(status, read_error.detail, session.request_id));
          deny(session, "", "", status, read_error.detail);
        }
        co_return;
      }
      const RequestHeader& incoming = request.get().base();
      const std::string method = to_string(incoming.method_string());
      const std::string raw_target = to_string(incoming.target());
      std::string error;
      auto target = normalize_target(raw_target, error);
      if (!target) {
        co_await answer_and_close(
            edge, error_response(400, "invalid request target: " + error, session.request_id));
        deny(session, method, raw_target.substr(0, raw_target.find('?')), 400,
             "invalid request target: " + error);
        co_return;
      }
      const bool websocket = is_websocket_upgrade(incoming);
      Decision decision = policy_.check(method, target->path, websocket);
      if (decision.allowed && incoming.count(bhttp::field::upgrade) != 0 && !websocket) {
        decision.allowed = false;
        decision.reason = "protocol upgrades other than WebSocket are not supported";
      }
      if (!decision.allowed) {
        metrics_.denied.add();
        co_await answer_and_close(edge, error_response(403, decision.reason, session.request_id));
        deny(session, method, encode_path(target->path), 403, decision.reason);
        co_return;  // the request's body, if any, is not read: the connection ends here
      }

      const std::string original_host = to_string(incoming[bhttp::field::host]);
      RequestHeader& outgoing = request.get().base();  // rewritten in place for the internal system
      remove_hop_by_hop(outgoing, websocket);
      if (websocket) outgoing.set(bhttp::field::connection, "upgrade");
      outgoing.target(target->forward_target());
      // Logs and audit records name the path only: a query may carry credentials the edge added.
      const std::string logged_path = encode_path(target->path);
      if (internal_host_header_) {
        outgoing.set(bhttp::field::host, internal_authority);
        outgoing.set("x-forwarded-host", original_host.empty() ? virtual_authority : original_host);
      } else if (original_host.empty()) {
        outgoing.set(bhttp::field::host, virtual_authority);
      }

      OpenRequest open = internal;
      open.request_id = session.request_id;
      open.principal = session.principal;
      OutgoingRequest next = prepare_request(request, outgoing);
      if (auto failure = co_await upstream.ensure(session.tunnel, open, limits_.message, next)) {
        metrics_.upstream_failed.add();
        co_await answer_and_close(edge, error_response(failure->status, failure->reason, session.request_id));
        record(session, method, logged_path, failure->status, failure->reason, start, Outcome{});
        co_return;
      }

      auto map_location = [&](ResponseHeader& header) {
        if (header.count(bhttp::field::location) == 0) return;
        std::vector<std::string> values;
        const auto [first, last] = header.equal_range(bhttp::field::location);
        for (auto field = first; field != last; ++field) values.push_back(to_string(field->value()));
        for (std::string& value : values) {
          for (const std::string& origin : origins) {
            if (value.size() >= origin.size() && beast::iequals(value.substr(0, origin.size()), origin) &&
                (value.size() == origin.size() ||
                 std::string_view("/?#").find(value[origin.size()]) != std::string_view::npos)) {
              value = "http://" + virtual_authority + value.substr(origin.size());
              break;
            }
          }
        }
        header.erase(bhttp::field::location);
        for (const std::string& value : values) header.insert(bhttp::field::location, value);
      };
      Outcome outcome =
          co_await exchange(edge, request, next, upstream, scratch, request.keep_alive(), map_location);
      co_await settle(outcome, edge, metrics_, start, session.request_id);
      record(session, method, logged_path, outcome.status, outcome.error, start, outcome);
      if (outcome.upgraded) {
        co_await relay_upgraded(host_, edge, upstream, session.system.limits, metrics_);
        co_return;
      }
      if (!outcome.keep_going || !outcome.error.empty()) co_return;
    }
  }

 private:
  void deny(const ConnectorSession& session, const std::string& method, const std::string& target, int status,
            const std::string& reason) {
    host_.logger().log(LogLevel::info, "http_denied",
                       {{"system", name_},
                        {"request_id", session.request_id},
                        {"method", method},
                        {"target", target},
                        {"reason", reason}});
    if (!host_.audit().enabled(AuditClass::security)) return;
    host_.audit().record({AuditClass::security,
                          "http.denied",
                          {{"system", name_},
                           {"virtual_host", session.virtual_host},
                           {"virtual_port", static_cast<std::int64_t>(session.virtual_port)},
                           {"request_id", session.request_id},
                           {"principal", session.principal},
                           {"method", method},
                           {"target", target},
                           {"status", static_cast<std::int64_t>(status)},
                           {"reason", reason}}});
  }

  void record(const ConnectorSession& session, const std::string& method, const std::string& target,
              int status, const std::string& error, Clock::time_point start, const Outcome& outcome) {
    audit_request(host_, {"system", name_}, {}, session.request_id, session.principal, method, target, status,
                  !error.empty(), error, start, outcome);
  }

  Host& host_;
  std::string name_;
  RouteMetrics metrics_;
  HttpLimits limits_;
  ResourcePolicy policy_;
  bool internal_host_header_;
};

}  // namespace

std::unique_ptr<EdgeRouteHandler> make_edge_handler(Host& host, const Destination& destination,
                                                    TokenCache& tokens) {
  return std::make_unique<HttpEdgeHandler>(host, destination, tokens);
}

std::unique_ptr<ConnectorRouteHandler> make_connector_handler(Host& host, const System& system) {
  return std::make_unique<HttpConnectorHandler>(host, system);
}

}  // namespace gw::http
