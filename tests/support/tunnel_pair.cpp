#include "support/tunnel_pair.hpp"

#include <sys/resource.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <sstream>
#include <thread>

#include "support/digest.hpp"
#include "support/peers.hpp"

namespace gw::e2e {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// A YAML double-quoted scalar (the values here never hold quotes or backslashes).
std::string quoted(const std::string& text) {
  return "\"" + text + "\"";
}

void write_keepalive(std::ostream& out, const Keepalive& keepalive) {
  out << "  ping_interval: " << keepalive.ping_interval << "\n";
  out << "  ping_timeout: " << keepalive.ping_timeout << "\n";
}

}  // namespace

::testing::AssertionResult run_certs(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"certs"};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult result = run_gatewayd(argv);
  std::string command = "gatewayd";
  for (const auto& arg : argv) command += " " + arg;
  if (!result.status) return ::testing::AssertionFailure() << command << " did not finish";
  if (!result.status->success()) {
    return ::testing::AssertionFailure() << command << ": " << *result.status << "\n"
                                         << result.out << result.err;
  }
  return ::testing::AssertionSuccess();
}

std::string Socks5Spec::yaml() const {
  std::ostringstream out;
  out << "socks5:\n  listen: 127.0.0.1:0\n  auth: [" << join(auth) << "]\n";
  if (!users.empty()) {
    out << "  users:\n";
    for (const auto& u : users) {
      out << "    - {username: " << quoted(u.username) << ", password: " << quoted(u.password)
          << ", tenant: " << u.tenant << ", location_id: " << quoted(u.location_id) << "}\n";
    }
  }
  if (!jwt.empty()) out << "  jwt: " << jwt << "\n";
  if (!anonymous.empty()) out << "  anonymous: " << anonymous << "\n";
  return out.str();
}

RecordMatcher audit_event(std::string name,
                          std::initializer_list<std::pair<std::string, std::string>> fields) {
  std::vector<std::pair<std::string, std::string>> expected(fields);
  return [name = std::move(name), expected = std::move(expected)](const Record& record) {
    const bool in_file = record.get("event") == name && record.has("class");
    if (!in_file && record.get("audit_event") != name) return false;
    for (const auto& [key, value] : expected) {
      if (record.get(key) != value) return false;
    }
    return true;
  };
}

RecordMatcher connector_connected() {
  return log_event("connector_connected");
}

RecordMatcher connector_disconnected() {
  return log_event("connector_disconnected");
}

TunnelSetup::TunnelSetup() = default;

::testing::AssertionResult TunnelSetup::create_certificates() {
  if (auto ca = run_certs({"ca", "--out", certs().string()}); !ca) return ca;
  return run_certs({"edge", "--ca", certs().string(), "--out", certs().string(), "--name", "localhost",
                    "--ip", "127.0.0.1"});
}

::testing::AssertionResult TunnelSetup::create_connector_certificate(const std::string& prefix,
                                                                     const std::string& tenant,
                                                                     const std::string& location,
                                                                     const std::filesystem::path& ca_dir) {
  std::vector<std::string> args{"connector", "--ca",           (ca_dir.empty() ? certs() : ca_dir).string(),
                                "--out",     certs().string(), "--tenant",
                                tenant,      "--file-prefix",  prefix};
  if (!location.empty()) {
    args.push_back("--location");
    args.push_back(location);
  }
  return run_certs(args);
}

std::string TunnelSetup::edge_yaml(const EdgeSpec& spec) const {
  std::ostringstream out;
  out << "node:\n  name: " << spec.name << "\n  role: edge\n  drain_timeout: " << spec.drain_timeout << "\n";
  if (spec.workers != 0) out << "  workers: " << spec.workers << "\n";
  out << "log:\n  level: info\n  format: text\n";
  out << "audit:\n  level: all\n  file: " << GatewayProcess::kAuditName << "\n";
  out << "admin:\n  listen: 127.0.0.1:0\n";
  out << "tunnel:\n  listen: 127.0.0.1:0\n";
  out << "  ca_file: " << (certs() / "ca.pem").string() << "\n";
  out << "  cert_file: " << (certs() / "edge.pem").string() << "\n";
  out << "  key_file: " << (certs() / "edge.key").string() << "\n";
  write_keepalive(out, spec.keepalive);
  if (!spec.destinations.empty()) {
    out << "destinations:\n";
    for (const auto& d : spec.destinations) {
      out << "  - name: " << d.name << "\n";
      out << "    route_type: " << d.route_type << "\n";
      out << "    address: " << quoted(d.address) << "\n";
      if (!d.settings.empty()) out << "    settings: " << d.settings << "\n";
      out << "    proxy_type: on_premise\n";
      out << "    tenant: " << d.tenant << "\n";
      out << "    location_id: " << quoted(d.location_id) << "\n";
      out << "    entry_point: {listen: " << quoted(d.listen) << "}\n";
    }
  }
  if (spec.socks5) out << spec.socks5->yaml();
  return out.str();
}

std::string TunnelSetup::connector_yaml(const ConnectorSpec& spec) const {
  std::ostringstream out;
  out << "node:\n  name: " << spec.name << "\n  role: connector\n  drain_timeout: " << spec.drain_timeout
      << "\n";
  out << "log:\n  level: info\n  format: text\n";
  out << "audit:\n  level: all\n  file: " << GatewayProcess::kAuditName << "\n";
  out << "connector:\n  edges:\n";
  for (auto port : spec.edge_ports)
    out << "    - {address: " << loopback_address(port) << ", server_name: localhost}\n";
  out << "  connections_per_edge: " << spec.connections_per_edge << "\n";
  out << "  ca_file: " << (certs() / "ca.pem").string() << "\n";
  out << "  cert_file: " << (certs() / (spec.cert + ".pem")).string() << "\n";
  out << "  key_file: " << (certs() / (spec.cert + ".key")).string() << "\n";
  // Reconnect quickly: tests wait for the connector to come back after an edge or it went away.
  out << "  reconnect_initial: 50ms\n  reconnect_max: 500ms\n";
  write_keepalive(out, spec.keepalive);
  if (!spec.systems.empty()) {
    out << "systems:\n";
    for (const auto& s : spec.systems) {
      const bool range = s.virtual_port.find('-') != std::string::npos;
      out << "  - virtual_host: " << s.virtual_host << "\n";
      out << "    virtual_port: " << (range ? quoted(s.virtual_port) : s.virtual_port) << "\n";
      out << "    internal_host: " << s.internal_host << "\n";
      out << "    internal_port: " << s.internal_port << "\n";
      out << "    route_type: " << s.route_type << "\n";
      if (!s.settings.empty()) out << "    settings: " << s.settings << "\n";
      out << "    enabled: " << (s.enabled ? "true" : "false") << "\n";
    }
  }
  return out.str();
}

GatewayProcess& TunnelSetup::start(const std::string& name, const std::string& yaml) {
  processes_.push_back(std::make_unique<GatewayProcess>(root() / name, yaml));
  return *processes_.back();
}

GatewayProcess& TunnelSetup::start_edge(const EdgeSpec& spec) {
  return start(spec.name, edge_yaml(spec));
}

GatewayProcess& TunnelSetup::start_connector(const ConnectorSpec& spec) {
  return start(spec.name, connector_yaml(spec));
}

::testing::AssertionResult wait_connected(GatewayProcess& edge, std::size_t count, std::size_t from) {
  if (edge.wait_for_log_count(connector_connected(), count, kGuard, from))
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "the edge did not log event=connector_connected " << count << " times (got "
         << edge.count_log(connector_connected(), from) << ")";
}

::testing::AssertionResult TunnelPair::start() {
  if (auto made = setup_.create_certificates(); !made) return made;
  if (auto made = setup_.create_connector_certificate(connector_spec_.cert, connector_spec_.tenant,
                                                      connector_spec_.location);
      !made) {
    return made;
  }
  edge_ = &setup_.start_edge(edge_spec_);
  if (auto ready = edge_->wait_ready(); !ready) return ready << " (edge)";
  connector_spec_.edge_ports = {edge_->tunnel_port()};
  connector_ = &setup_.start_connector(connector_spec_);
  if (auto ready = connector_->wait_ready(); !ready) return ready << " (connector)";
  return wait_connected(*edge_, connector_spec_.connections_per_edge);
}

::testing::AssertionResult TunnelPair::restart_connector() {
  const std::size_t mark = edge_->log_mark();
  connector_->restart();
  if (auto ready = connector_->wait_ready(); !ready) return ready << " (connector after restart)";
  return wait_connected(*edge_, connector_spec_.connections_per_edge, mark);
}

namespace {

struct EchoClient {
  explicit EchoClient(asio::io_context& context) : socket(context) {}
  tcp::socket socket;
  std::string payload;
  std::string received;
  std::string failure;
  bool ended = false;
};

asio::awaitable<void> run_echo_client(EchoClient& client, tcp::endpoint endpoint) {
  try {
    co_await client.socket.async_connect(endpoint, asio::use_awaitable);
    // Both directions at once: a separate coroutine sends, this one receives.
    asio::co_spawn(
        client.socket.get_executor(),
        [&client]() -> asio::awaitable<void> {
          co_await asio::async_write(client.socket, asio::buffer(client.payload), asio::use_awaitable);
          client.socket.shutdown(tcp::socket::shutdown_send);
        },
        [&client](std::exception_ptr error) {
          if (error) client.failure = "send failed";
        });
    client.received = co_await read_to_eof(client.socket);
    client.ended = true;
  } catch (const std::exception& e) {
    client.failure = e.what();
  }
}

}  // namespace

ConcurrentEchoes run_concurrent_echoes(std::uint16_t port, std::size_t connections,
                                       std::size_t payload_size) {
  asio::io_context context;
  tcp::endpoint endpoint(asio::ip::address_v4::loopback(), port);
  std::vector<std::unique_ptr<EchoClient>> clients;
  for (std::size_t i = 0; i < connections; ++i) {
    auto client = std::make_unique<EchoClient>(context);
    client->payload = RandomBytes(5000 + i).next(payload_size);
    asio::co_spawn(context, run_echo_client(*client, endpoint), asio::detached);
    clients.push_back(std::move(client));
  }
  // Returns as soon as every client is done; the guard only bounds a hang.
  context.run_for(kGuard);

  ConcurrentEchoes result;
  result.connections = connections;
  for (std::size_t i = 0; i < connections; ++i) {
    const EchoClient& c = *clients[i];
    std::string what;
    if (!c.failure.empty()) {
      what = c.failure;
    } else if (!c.ended) {
      what = "not ended before the guard expired";
    } else if (c.received.size() != c.payload.size()) {
      what = "received " + std::to_string(c.received.size()) + " of " + std::to_string(c.payload.size()) +
             " bytes";
    } else if (c.received != c.payload) {
      what = "received different bytes";
    }
    if (what.empty()) {
      ++result.intact;
    } else {
      result.failures.push_back("connection " + std::to_string(i) + ": " + what);
    }
  }
  return result;
}

std::uint64_t raise_open_files_limit(std::uint64_t wanted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min<rlim_t>(wanted, limit.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur == RLIM_INFINITY ? wanted : limit.rlim_cur;
}

::testing::AssertionResult socks_echoes(gw::testing::SocksClient& client, std::string_view payload) {
  try {
    client.send(payload);
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << e.what();
  }
  std::string back = client.receive_exact(payload.size());
  if (back.size() != payload.size()) {
    return ::testing::AssertionFailure()
           << "received " << back.size() << " of " << payload.size() << " bytes";
  }
  if (back != payload) return ::testing::AssertionFailure() << "the bytes received back differ";
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult socks_echo_transfer(gw::testing::SocksClient& client, std::size_t size,
                                               std::uint64_t seed) {
  const std::string payload = RandomBytes(seed).next(size);
  std::string send_error;
  std::thread sender([&] {
    try {
      client.send(payload);
      client.shutdown_write();
    } catch (const std::exception& e) {
      send_error = e.what();
    }
  });
  std::string back = client.receive_all();
  sender.join();
  if (!send_error.empty()) return ::testing::AssertionFailure() << "send failed: " << send_error;
  if (back.size() != payload.size()) {
    return ::testing::AssertionFailure()
           << "received " << back.size() << " of " << payload.size() << " bytes";
  }
  if (sha256_hex(back) != sha256_hex(payload)) return ::testing::AssertionFailure() << "the bytes differ";
  return ::testing::AssertionSuccess();
}

CommandResult curl_through_socks(std::uint16_t socks_port, const std::string& credentials,
                                 const std::string& url) {
  return run_program({"curl", "-sS", "--max-time", "15", "--socks5-hostname",
                      credentials + "@127.0.0.1:" + std::to_string(socks_port), url});
}

}  // namespace gw::e2e
