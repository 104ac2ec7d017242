// The ldap route's relay (ldap_relay.hpp) between an application and a directory that both send
// whatever the input says, on either side of the tunnel. What each side lets through is checked,
// message by message, against what it promises:
// - connector: every request that reaches the directory decodes and passes the system's policy as it
//   is (nothing left to refuse, to cap or to remove); every message that reaches the edge decodes, and
//   no entry outside the base DNs or with a denied attribute is among them.
// - edge with bind injection: every bind that reaches the directory is the service account's, no
//   request carries the Proxied Authorization control, and the service password never reaches the
//   application.
// Either way the relay must end when both inputs end: the io_context runs out of work.
//
// Input: the first byte's low bit chooses the side, bit 1 (edge) an Internet destination (responses
// decoded) instead of an on-premise one, its other bits how the bytes arrive (pieces of 1 to 64
// bytes); the next two bytes say how many of the rest the application sends; the directory sends
// the remainder.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "fuzz/fuzz_target.hpp"
#include "ldap_relay.hpp"
#include "support/piece_stream.hpp"
#include "support/test_host.hpp"

namespace {

using namespace gw;
using namespace gw::ldap;

constexpr std::string_view kServiceDn = "cn=svc,dc=example,dc=com";
constexpr std::string_view kServicePassword = "7d4b-relay-service-password-9f2c";

// The messages in what one side wrote; everything the relay writes must frame and decode.
std::vector<Message> written_messages(const std::string& written, std::vector<Bytes>& storage,
                                      std::string_view to) {
  storage.clear();
  ByteView rest(reinterpret_cast<const std::uint8_t*>(written.data()), written.size());
  while (!rest.empty()) {
    const Frame framed = frame(rest, 64 * 1024 * 1024);
    if (framed.status != Frame::Status::complete)
      fuzz::fail("the relay wrote a partial message to the " + std::string(to));
    storage.emplace_back(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(framed.size));
    rest = rest.subspan(framed.size);
  }
  std::vector<Message> messages;
  for (const Bytes& bytes : storage) {
    std::string error;
    auto message = decode(bytes, error);
    if (!message)
      fuzz::fail("the relay wrote a message to the " + std::string(to) + " that does not decode: " + error);
    messages.push_back(std::move(*message));
  }
  return messages;
}

test::TestHost& host() {
  static test::TestHost instance(config::AuditLevel::all);
  return instance;
}

const SystemConfig& system_config() {
  static const SystemConfig config = [] {
    PolicyConfig policy;
    policy.operations = OperationSet::parse({"read-only", "modify"});
    std::string error;
    policy.base_dns.push_back(*Dn::parse("ou=people,dc=example,dc=com", error));
    policy.max_size_limit = 100;
    policy.max_time_limit = 10;
    policy.denied_attributes = {"userPassword", "telephoneNumber"};
    return SystemConfig{"directory.internal:389", Common{64 * 1024, false, 8}, Policy(std::move(policy))};
  }();
  return config;
}

void check_connector(std::string_view from_edge, std::string_view from_directory, std::size_t piece) {
  asio::io_context context;
  test::PieceStream edge(context, fuzz::pieces_of(from_edge, piece));
  test::PieceStream directory(context, fuzz::pieces_of(from_directory, piece));
  System system;
  system.limits.idle_timeout = std::chrono::milliseconds(0);
  test::OneStreamTunnel unused(nullptr);
  const ConnectorSession session{system, edge, unused, "directory.internal", 389, "fuzz", "app"};
  static OperationCounters counters(host().metrics, system_config().name);
  asio::co_spawn(context, relay_connector(host().services, system_config(), counters, session, directory),
                 asio::detached);
  context.run();

  const Policy& policy = system_config().policy;
  std::vector<Bytes> storage;
  for (const Message& request : written_messages(directory.written, storage, "directory")) {
    if (!is_request(request.op)) fuzz::fail("the connector sent the directory a response");
    if (request.op == Op::unbind_request) {
      for (const Control& control : request.controls) {
        if (!policy.config().controls.allows(control.type))
          fuzz::fail("an unbind kept a control not allowed");
      }
      continue;
    }
    const Decision decision = policy.check(request);
    if (!decision.allowed) fuzz::fail("the directory got a request the policy refuses: " + decision.reason);
    if (!decision.removed_controls.empty()) fuzz::fail("the directory got a control the policy removes");
    if (decision.size_limit || decision.time_limit || decision.deref_aliases) {
      fuzz::fail("the directory got a search the policy would still rewrite");
    }
  }
  for (const Message& message : written_messages(edge.written, storage, "edge")) {
    if (message.op != Op::search_result_entry) continue;
    if (!policy.entry_visible(message.dn)) fuzz::fail("an entry outside the base DNs reached the edge");
    for (const std::string& attribute : message.entry_attributes) {
      if (policy.attribute_denied(attribute)) fuzz::fail("a denied attribute reached the edge: " + attribute);
    }
  }
}

void check_edge(std::string_view from_application, std::string_view from_directory, std::size_t piece,
                bool internet) {
  asio::io_context context;
  test::PieceStream application(context, fuzz::pieces_of(from_application, piece));
  test::PieceStream directory(context, fuzz::pieces_of(from_directory, piece));
  test::OneStreamTunnel tunnel(&directory);
  Destination destination;
  destination.name = "directory";
  destination.route_type = "ldap";
  destination.host = "directory.internal";
  destination.port = 389;
  destination.proxy_type = internet ? ProxyType::internet : ProxyType::on_premise;
  destination.limits.idle_timeout = std::chrono::milliseconds(0);
  EdgeSession session{destination, application, tunnel, "fuzz", "app"};
  static const std::optional<BindInjection> injection =
      BindInjection{std::string(kServiceDn), std::string(kServicePassword), std::nullopt, ""};
  static const Common common{64 * 1024, false, 8};
  asio::co_spawn(context, relay_edge(host().services, session, common, injection, destination.target()),
                 asio::detached);
  context.run();

  std::vector<Bytes> storage;
  for (const Message& request : written_messages(directory.written, storage, "directory")) {
    if (request.op == Op::bind_request &&
        (request.dn != kServiceDn || request.password != kServicePassword)) {
      fuzz::fail("a bind other than the service account's reached the directory");
    }
    for (const Control& control : request.controls) {
      if (is_proxied_authorization(control.type)) fuzz::fail("proxied authorization reached the directory");
    }
  }
  // Unless a peer sent the password's text itself (an answer may quote what the application sent).
  if (from_directory.find(kServicePassword) == std::string_view::npos &&
      from_application.find(kServicePassword) == std::string_view::npos &&
      application.written.find(kServicePassword) != std::string::npos) {
    fuzz::fail("the service password reached the application");
  }
}

}  // namespace

GW_FUZZ_TARGET(ldap_relay) {
  const auto peers = fuzz::two_peers(data, size, 2);
  if (!peers) return 0;
  if (peers->flags & 1) {
    check_connector(peers->first, peers->second, peers->piece);
  } else {
    check_edge(peers->first, peers->second, peers->piece, peers->flags & 2);
  }
  return 0;
}
