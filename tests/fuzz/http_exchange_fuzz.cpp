// The http route's handlers (http_handlers.hpp) between a client and a target that both send whatever
// the input says, on either side of the tunnel. What reaches the target is read back as the target
// reads it, request by request, and checked against what the route promises:
// - connector: every request that reaches the internal system is one the system's resources admit,
//   by its normalised path and method; no Location the edge gets names the internal origin;
// - edge: every request that reaches the target carries the destination's credentials (one
//   Authorization field, the injected one) and no proxy-only field, and the credentials never reach
//   the client.
// Either way the handler must end when both inputs end: the io_context runs out of work.
//
// Input: the first byte's low bit chooses the side, its other bits how the bytes arrive (pieces of 1
// to 128 bytes); the next two bytes say how many of the rest the client sends; the target sends the
// remainder.
#include <algorithm>
#include <fstream>
#include <sstream>

#include "config/config.hpp"
#include "config/settings.hpp"
#include "fuzz/fuzz_target.hpp"
#include "fuzz/http_relay.hpp"
#include "http_handlers.hpp"
#include "path_policy.hpp"
#include "plugins/manifest.hpp"
#include "support/test_host.hpp"

namespace {

using namespace gw;

constexpr std::string_view kToken = "e3b0c4-exchange-token-98fc1c";

test::TestHost& host() {
  static test::TestHost instance(config::AuditLevel::all);
  return instance;
}

http::TokenCache& tokens() {
  static http::TokenCache instance;
  return instance;
}

// Settings as the core resolves them against the plugin's manifest (the schema in settings.yaml),
// without read timeouts: the bytes are all there, and a timer would keep the io_context running.
Settings resolved(const std::string& yaml) {
  static const plugins::Manifest manifest = [] {
    std::ifstream file(std::string(GW_PLUGINS_SOURCE_DIR) + "/http/settings.yaml");
    std::ostringstream text;
    text << "name: http\nversion: 1.0.0\nplugin_api: 1\nlibrary: http.so\nroute_types: [http]\nsettings:\n";
    for (std::string line; std::getline(file, line);) text << "  " << line << "\n";
    return plugins::parse_manifest(text.str(), "http.plugin.yaml");
  }();
  Settings settings;
  const auto problems =
      config::resolve_settings(YAML::Load(yaml), manifest.settings, "fuzz", {}, "fuzz", settings);
  if (!problems.empty()) fuzz::fail("the harness's settings do not resolve: " + problems.front().str());
  settings.set("read_timeout", std::chrono::milliseconds(0));
  return settings;
}

const char* const kResources =
    "{resources: [{path: /allowed}, {path: /exact, match: exact, methods: [GET]}, "
    "{path: /ws, match: exact, websocket: true}]}";

const http::ResourcePolicy& policy() {
  static const http::ResourcePolicy instance({{"/allowed", http::MatchKind::path_prefix, {}, true, false},
                                              {"/exact", http::MatchKind::exact, {"GET"}, true, false},
                                              {"/ws", http::MatchKind::exact, {}, true, true}});
  return instance;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The requests that reached the target, read as the target reads them (headers whole at least).
std::vector<fuzz::HttpMessage> requests_received(const std::string& wire) {
  return fuzz::read_messages<true>(fuzz::pieces_of(wire, 4096), fuzz::kFarSideLimits);
}

void check_connector(std::string_view from_edge, std::string_view from_system, std::size_t piece) {
  static const System system = [] {
    System s;
    s.virtual_host = "web.internal";
    s.virtual_port_first = s.virtual_port_last = 80;
    s.internal_host = "127.0.0.1";
    s.internal_port_first = 8080;
    s.route_type = "http";
    s.limits.idle_timeout = std::chrono::milliseconds(0);
    s.settings = resolved(kResources);
    return s;
  }();
  static const std::unique_ptr<ConnectorRouteHandler> handler =
      http::make_connector_handler(host().services, system);

  asio::io_context context;
  test::PieceStream edge(context, fuzz::pieces_of(from_edge, piece));
  test::PieceStream target(context, fuzz::pieces_of(from_system, piece));
  test::OneStreamTunnel tunnel(&target);
  ConnectorSession session{system, edge, tunnel, "web.internal", 80, "fuzz", "app"};
  fuzz::run_coroutine(context, [&]() { return handler->serve(session); });

  for (const fuzz::HttpMessage& request : requests_received(target.written)) {
    const std::string line = request.head.substr(0, request.head.find("\r\n"));
    const std::size_t space = line.find(' ');
    const std::size_t second = line.find(' ', space + 1);
    const std::string method = line.substr(0, space);
    const std::string raw_target = line.substr(space + 1, second - space - 1);
    std::string error;
    const auto normalized = http::normalize_target(raw_target, error);
    if (!normalized)
      fuzz::fail("the system got a target that does not normalise: " + fuzz::escaped(raw_target));
    // Read back without hop-by-hop fields, so without Upgrade: judged as a plain request.
    if (!policy().check(method, normalized->path, false).allowed) {
      fuzz::fail("the system got a request its resources refuse: " + fuzz::escaped(line));
    }
  }
  // Responses to HEAD have no body however they are framed: without the requests, skip those inputs.
  if (lower(std::string(from_edge)).find("head") != std::string::npos) return;
  const std::string internal_origin = "\r\nlocation: http://127.0.0.1:8080";
  for (const fuzz::HttpMessage& response :
       fuzz::read_messages<false>(fuzz::pieces_of(edge.written, 4096), fuzz::kFarSideLimits)) {
    const std::string head = lower(response.head);
    for (auto at = head.find(internal_origin); at != std::string::npos;
         at = head.find(internal_origin, at + 1)) {
      const char next = head[at + internal_origin.size()];
      if (next == '\r' || next == '/' || next == '?' || next == '#') {
        fuzz::fail("the internal origin reached the edge in a Location: " + fuzz::escaped(response.head));
      }
    }
  }
}

void check_edge(std::string_view from_client, std::string_view from_target, std::size_t piece) {
  static const Destination destination = [] {
    Destination d;
    d.name = "api";
    d.route_type = "http";
    d.scheme = "http";
    d.host = "127.0.0.1";
    d.port = 8080;
    d.proxy_type = ProxyType::internet;
    d.limits.idle_timeout = std::chrono::milliseconds(0);
    d.settings = resolved("{authentication: bearer, token: " + std::string(kToken) +
                          ", headers: [{name: x-tenant, value: acme}]}");
    return d;
  }();
  static const std::unique_ptr<EdgeRouteHandler> handler =
      http::make_edge_handler(host().services, destination, tokens());

  asio::io_context context;
  test::PieceStream client(context, fuzz::pieces_of(from_client, piece));
  test::PieceStream target(context, fuzz::pieces_of(from_target, piece));
  test::OneStreamTunnel tunnel(&target);
  EdgeSession session{destination, client, tunnel, "fuzz", "app"};
  fuzz::run_coroutine(context, [&]() { return handler->serve(session); });

  const std::string injected = "\r\nauthorization: bearer " + lower(std::string(kToken)) + "\r\n";
  for (const fuzz::HttpMessage& request : requests_received(target.written)) {
    const std::string head = lower(request.head);
    if (count(head, "\r\nauthorization:") != 1 || head.find(injected) == std::string::npos) {
      fuzz::fail("a request reached the target without the injected credentials alone: " +
                 fuzz::escaped(request.head));
    }
    if (head.find("\r\nproxy-authorization:") != std::string::npos ||
        head.find("\r\nx-destination-name:") != std::string::npos) {
      fuzz::fail("a proxy-only field reached the target");
    }
  }
  // Unless a peer sent the token's text itself (an error answer may quote the client's request).
  if (from_target.find(kToken) == std::string_view::npos &&
      from_client.find(kToken) == std::string_view::npos &&
      client.written.find(kToken) != std::string::npos) {
    fuzz::fail("the destination's token reached the client");
  }
}

}  // namespace

GW_FUZZ_TARGET(http_exchange) {
  const auto peers = fuzz::two_peers(data, size, 1);
  if (!peers) return 0;
  if (peers->flags & 1) {
    check_connector(peers->first, peers->second, peers->piece);
  } else {
    check_edge(peers->first, peers->second, peers->piece);
  }
  return 0;
}
