// The configuration of the tunnel, connectors, systems and the SOCKS5 entry point.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace {

using gw::ProxyType;
using gw::config::Config;
using gw::config::Problem;
using gw::config::Problems;
using gw::config::Role;
using namespace std::chrono_literals;

const char* const kFile = "/etc/gateway/gateway.yaml";

Config parse(const std::string& text) {
  return gw::config::parse_config(text, kFile);
}

std::vector<Problem> problems_of(const std::string& text) {
  try {
    parse(text);
  } catch (const Problems& problems) {
    return problems.problems();
  }
  return {};
}

std::string all(const std::vector<Problem>& problems) {
  std::string out;
  for (const auto& p : problems) out += p.str() + "\n";
  return out;
}

const Problem* find_key(const std::vector<Problem>& problems, const std::string& key) {
  auto it = std::find_if(problems.begin(), problems.end(), [&](const Problem& p) { return p.key == key; });
  return it == problems.end() ? nullptr : &*it;
}

const std::string kEdge = R"(node:
  role: edge
tunnel:
  listen: 127.0.0.1:8443
  ca_file: certs/ca.pem
  cert_file: certs/edge.pem
  key_file: certs/edge.key
  ping_interval: 2s
  stream_window: 4MiB
destinations:
  - name: erp
    route_type: tcp
    address: erp.corp:3300
    proxy_type: on_premise
    tenant: acme
    location_id: berlin
    entry_point:
      listen: 127.0.0.1:7000
)";

const std::string kConnector = R"(node:
  role: connector
connector:
  edges:
    - address: edge1.example.com:8443
    - address: 10.0.0.7:8443
      server_name: edge2.example.com
  connections_per_edge: 3
  ca_file: /etc/gateway/ca.pem
  cert_file: connector.pem
  key_file: connector.key
  reconnect_initial: 100ms
  reconnect_max: 10s
systems:
  - virtual_host: ERP.corp
    virtual_port: 3300
    internal_host: 10.1.2.3
    internal_port: 3301
    route_type: tcp
  - virtual_host: range.corp
    virtual_port: "4000-4009"
    internal_host: 10.1.2.4
    route_type: tcp
    enabled: false
)";

TEST(TunnelConfig, EdgeWithTunnelAndOnPremiseDestination) {
  Config config = parse(kEdge);
  EXPECT_EQ(config.node.role, Role::edge);
  ASSERT_TRUE(config.tunnel);
  EXPECT_EQ(config.tunnel->listen.str(), "127.0.0.1:8443");
  EXPECT_EQ(config.tunnel->tls.ca_file, "/etc/gateway/certs/ca.pem");
  EXPECT_EQ(config.tunnel->tuning.ping_interval, 2s);
  EXPECT_EQ(config.tunnel->tuning.ping_timeout, 5s);
  EXPECT_EQ(config.tunnel->tuning.stream_window, 4u * 1024 * 1024);
  ASSERT_EQ(config.destinations.size(), 1u);
  const auto& spec = config.destinations[0].spec;
  EXPECT_EQ(spec.proxy_type, ProxyType::on_premise);
  EXPECT_EQ(spec.tenant, "acme");
  EXPECT_EQ(spec.location_id, "berlin");
  EXPECT_TRUE(config.runs_edge());
  EXPECT_FALSE(config.runs_connector());
}

TEST(TunnelConfig, ConnectorWithSystems) {
  Config config = parse(kConnector);
  ASSERT_TRUE(config.connector);
  ASSERT_EQ(config.connector->edges.size(), 2u);
  EXPECT_EQ(config.connector->edges[0].server_name, "edge1.example.com");
  EXPECT_EQ(config.connector->edges[1].server_name, "edge2.example.com");
  EXPECT_EQ(config.connector->connections_per_edge, 3u);
  EXPECT_EQ(config.connector->reconnect_initial, 100ms);
  EXPECT_EQ(config.connector->tls.cert_file, "/etc/gateway/connector.pem");
  ASSERT_EQ(config.systems.size(), 2u);
  EXPECT_EQ(config.systems[0].spec.virtual_host, "erp.corp");  // lower case
  EXPECT_EQ(config.systems[0].spec.virtual_port_first, 3300);
  EXPECT_EQ(config.systems[0].spec.virtual_port_last, 3300);
  EXPECT_EQ(config.systems[0].spec.internal_target(3300).port, 3301);
  EXPECT_EQ(config.systems[1].spec.virtual_port_first, 4000);
  EXPECT_EQ(config.systems[1].spec.virtual_port_last, 4009);
  EXPECT_EQ(config.systems[1].spec.internal_target(4005).port, 4005);  // same ports by default
  EXPECT_FALSE(config.systems[1].spec.enabled);
  EXPECT_FALSE(config.runs_edge());
}

TEST(TunnelConfig, StandaloneNeedsNoCertificates) {
  Config config = parse(R"(node:
  role: standalone
connector:
  tenant: acme
  location_id: lab
systems:
  - {virtual_host: db, virtual_port: 5432, internal_host: 127.0.0.1, route_type: tcp}
destinations:
  - name: db
    route_type: tcp
    address: db:5432
    proxy_type: on_premise
    tenant: acme
    location_id: lab
    entry_point: {listen: 127.0.0.1:0}
)");
  ASSERT_TRUE(config.tunnel);
  EXPECT_EQ(config.tunnel->listen.str(), "127.0.0.1:0");
  ASSERT_TRUE(config.connector);
  EXPECT_EQ(config.connector->tenant, "acme");
  EXPECT_TRUE(config.runs_edge());
  EXPECT_TRUE(config.runs_connector());
}

TEST(TunnelConfig, SectionsThatDoNotApplyToTheRole) {
  auto problems = problems_of("node: {role: edge}\nsystems: []\nconnector: {}\n");
  ASSERT_TRUE(find_key(problems, "systems")) << all(problems);
  EXPECT_EQ(find_key(problems, "systems")->message,
            "systems does not apply to role edge (the allowlist belongs to the connector)");
  EXPECT_TRUE(find_key(problems, "connector")) << all(problems);

  problems =
      problems_of(kConnector + "socks5: {listen: 127.0.0.1:1080, auth: [none], anonymous: {tenant: a}}\n");
  ASSERT_TRUE(find_key(problems, "socks5")) << all(problems);
  EXPECT_EQ(find_key(problems, "socks5")->where.line, 25);

  problems = problems_of("node: {role: connector}\n");
  ASSERT_TRUE(find_key(problems, "connector")) << all(problems);
  EXPECT_NE(find_key(problems, "connector")->message.find("needs a connector section"), std::string::npos);
}

TEST(TunnelConfig, CertificateFilesAreRequiredOutsideStandalone) {
  auto problems = problems_of("node: {role: edge}\ntunnel:\n  listen: 127.0.0.1:8443\n");
  for (auto key : {"tunnel.ca_file", "tunnel.cert_file", "tunnel.key_file"}) {
    ASSERT_TRUE(find_key(problems, key)) << key << "\n" << all(problems);
    EXPECT_NE(find_key(problems, key)->message.find("gatewayd certs"), std::string::npos);
  }
  problems = problems_of("node: {role: standalone}\ntunnel: {ca_file: ca.pem}\n");
  ASSERT_TRUE(find_key(problems, "tunnel.ca_file")) << all(problems);
  EXPECT_NE(find_key(problems, "tunnel.ca_file")->message.find("in memory"), std::string::npos);

  problems = problems_of("node: {role: edge}\ntunnel: {ca_file: a, cert_file: b, key_file: c}\n");
  ASSERT_TRUE(find_key(problems, "tunnel.listen")) << all(problems);
  EXPECT_FALSE(find_key(problems, "tunnel.crl_file")) << all(problems);  // optional
  problems = problems_of("node: {role: standalone}\ntunnel: {crl_file: crl.pem}\n");
  ASSERT_TRUE(find_key(problems, "tunnel.crl_file")) << all(problems);
  EXPECT_NE(find_key(problems, "tunnel.crl_file")->message.find("in memory"), std::string::npos);
}

TEST(TunnelConfig, ACrlFileIsReadRelativeToTheConfiguration) {
  Config config = parse(
      "node: {role: edge}\ntunnel:\n  listen: 127.0.0.1:8443\n  ca_file: ca.pem\n"
      "  cert_file: edge.pem\n  key_file: edge.key\n  crl_file: certs/crl.pem\n");
  ASSERT_TRUE(config.tunnel);
  EXPECT_EQ(config.tunnel->tls.crl_file, "/etc/gateway/certs/crl.pem");
  EXPECT_EQ(parse(kConnector).connector->tls.crl_file, "");
}

TEST(TunnelConfig, ConnectorIdentityComesFromTheCertificate) {
  std::string text = kConnector;
  text.replace(text.find("  connections_per_edge"), 0, "  tenant: acme\n");
  auto problems = problems_of(text);
  ASSERT_TRUE(find_key(problems, "connector.tenant")) << all(problems);
  EXPECT_EQ(find_key(problems, "connector.tenant")->where.line, 8);
  EXPECT_NE(find_key(problems, "connector.tenant")->message.find("comes from its certificate"),
            std::string::npos);
}

TEST(TunnelConfig, BadConnectorValues) {
  std::string text = kConnector;
  text.replace(text.find("connections_per_edge: 3"), 23, "connections_per_edge: 0");
  text.replace(text.find("reconnect_max: 10s"), 18, "reconnect_max: 50ms");
  text.replace(text.find("edge1.example.com:8443"), 22, "edge1.example.com");
  auto problems = problems_of(text);
  EXPECT_TRUE(find_key(problems, "connector.connections_per_edge")) << all(problems);
  EXPECT_TRUE(find_key(problems, "connector.reconnect_max")) << all(problems);
  EXPECT_TRUE(find_key(problems, "connector.edges[0].address")) << all(problems);
  EXPECT_EQ(find_key(problems, "connector.edges[0].address")->where.line, 5);

  problems =
      problems_of("node: {role: connector}\nconnector: {edges: [], ca_file: a, cert_file: b, key_file: c}\n");
  ASSERT_TRUE(find_key(problems, "connector.edges")) << all(problems);
  EXPECT_EQ(find_key(problems, "connector.edges")->message, "list at least one edge");
}

TEST(TunnelConfig, TuningLimits) {
  std::string text = kEdge;
  text.replace(text.find("stream_window: 4MiB"), 19, "stream_window: 1KiB");
  text.replace(text.find("ping_interval: 2s"), 17, "ping_interval: 1ms");
  auto problems = problems_of(text);
  ASSERT_TRUE(find_key(problems, "tunnel.stream_window")) << all(problems);
  EXPECT_EQ(find_key(problems, "tunnel.stream_window")->message, "must be from 64KiB to 2GiB-1, got '1KiB'");
  EXPECT_TRUE(find_key(problems, "tunnel.ping_interval")) << all(problems);
}

TEST(TunnelConfig, SystemProblems) {
  const std::string head = "node: {role: standalone}\nsystems:\n";
  auto problems = problems_of(head +
                              "  - {virtual_host: 'bad host', virtual_port: 70000, internal_host: x, "
                              "route_type: TCP}\n");
  EXPECT_TRUE(find_key(problems, "systems[0].virtual_host")) << all(problems);
  EXPECT_TRUE(find_key(problems, "systems[0].virtual_port")) << all(problems);
  EXPECT_TRUE(find_key(problems, "systems[0].route_type")) << all(problems);

  problems =
      problems_of(head + "  - {virtual_host: a, virtual_port: 10-5, internal_host: x, route_type: tcp}\n");
  ASSERT_TRUE(find_key(problems, "systems[0].virtual_port")) << all(problems);
  EXPECT_NE(find_key(problems, "systems[0].virtual_port")->message.find("range"), std::string::npos);

  problems = problems_of(head +
                         "  - {virtual_host: a, virtual_port: 65000-65010, internal_host: x, internal_port: "
                         "65530, route_type: tcp}\n");
  ASSERT_TRUE(find_key(problems, "systems[0].internal_port")) << all(problems);

  problems = problems_of(head + "  - {virtual_host: a}\n");
  for (auto key : {"systems[0].virtual_port", "systems[0].internal_host", "systems[0].route_type"}) {
    EXPECT_TRUE(find_key(problems, key)) << key << "\n" << all(problems);
  }
}

TEST(TunnelConfig, OverlappingSystemsAreRefused) {
  auto problems = problems_of(R"(node: {role: standalone}
systems:
  - {virtual_host: a.corp, virtual_port: 4000-4010, internal_host: x, route_type: tcp}
  - {virtual_host: A.CORP, virtual_port: 4010, internal_host: y, route_type: tcp}
  - {virtual_host: b.corp, virtual_port: 4010, internal_host: y, route_type: tcp}
)");
  ASSERT_EQ(problems.size(), 1u) << all(problems);
  EXPECT_EQ(problems[0].key, "systems[1].virtual_port");
  EXPECT_EQ(problems[0].message, "a.corp:4010 overlaps the system on line 3");
}

TEST(TunnelConfig, TenantAndLocationNames) {
  const std::string head =
      "node: {role: standalone}\ndestinations:\n  - name: d\n    route_type: tcp\n"
      "    address: d:1\n    entry_point: {listen: 127.0.0.1:0}\n";
  auto problems =
      problems_of(head + "    proxy_type: on_premise\n    tenant: Acme\n    location_id: 'a b'\n");
  EXPECT_TRUE(find_key(problems, "destinations[0].tenant")) << all(problems);
  EXPECT_TRUE(find_key(problems, "destinations[0].location_id")) << all(problems);

  problems = problems_of(head + "    tenant: acme\n");
  ASSERT_TRUE(find_key(problems, "destinations[0].tenant")) << all(problems);
  EXPECT_EQ(find_key(problems, "destinations[0].tenant")->message,
            "tenant applies only to proxy_type on_premise destinations");
}

const std::string kSocksEdge = R"(node: {role: standalone}
socks5:
  listen: 127.0.0.1:1080
  auth: [password, jwt]
  users:
    - {username: app1, password: s3cret, tenant: acme, location_id: berlin}
  jwt:
    algorithm: HS256
    secret: 0123456789abcdef0123456789abcdef
    audience: gateway
)";

TEST(SocksConfig, PasswordAndJwt) {
  Config config = parse(kSocksEdge);
  ASSERT_TRUE(config.socks5);
  EXPECT_TRUE(config.socks5->offer_password);
  EXPECT_TRUE(config.socks5->offer_jwt);
  EXPECT_FALSE(config.socks5->offer_none);
  ASSERT_EQ(config.socks5->users.size(), 1u);
  EXPECT_EQ(config.socks5->users[0].password, "s3cret");
  EXPECT_EQ(config.socks5->users[0].location_id, "berlin");
  ASSERT_TRUE(config.socks5->jwt);
  EXPECT_EQ(config.socks5->jwt->tenant_claim, "tenant");
  EXPECT_EQ(config.socks5->jwt->audience, "gateway");
}

TEST(SocksConfig, JwtLeewayAndMaximumLifetime) {
  Config defaults = parse(kSocksEdge);
  ASSERT_TRUE(defaults.socks5 && defaults.socks5->jwt);
  EXPECT_EQ(defaults.socks5->jwt->leeway, std::chrono::seconds(60));
  EXPECT_EQ(defaults.socks5->jwt->max_lifetime, std::chrono::milliseconds(0));
  Config bounded = parse(kSocksEdge + "    leeway: 5s\n    max_lifetime: 1h\n");
  ASSERT_TRUE(bounded.socks5 && bounded.socks5->jwt);
  EXPECT_EQ(bounded.socks5->jwt->leeway, std::chrono::seconds(5));
  EXPECT_EQ(bounded.socks5->jwt->max_lifetime, std::chrono::hours(1));
  const auto problems = problems_of(kSocksEdge + "    max_lifetime: forever\n");
  ASSERT_TRUE(find_key(problems, "socks5.jwt.max_lifetime")) << all(problems);
}

TEST(SocksConfig, EachMethodNeedsItsSettings) {
  auto problems = problems_of(
      "node: {role: standalone}\nsocks5:\n  listen: 127.0.0.1:1080\n  auth: [none, jwt]\n"
      "  users: []\n");
  ASSERT_TRUE(find_key(problems, "socks5.anonymous")) << all(problems);
  EXPECT_EQ(find_key(problems, "socks5.anonymous")->message, "auth offers none but anonymous is not set");
  ASSERT_TRUE(find_key(problems, "socks5.jwt")) << all(problems);
  ASSERT_TRUE(find_key(problems, "socks5.users")) << all(problems);
  EXPECT_EQ(find_key(problems, "socks5.users")->message, "users is set but auth does not offer password");

  problems = problems_of("node: {role: standalone}\nsocks5:\n  listen: 127.0.0.1:1080\n  auth: [kerberos]\n");
  ASSERT_TRUE(find_key(problems, "socks5.auth[0]")) << all(problems);
}

TEST(SocksConfig, JwtKeys) {
  std::string text = kSocksEdge;
  text.replace(text.find("0123456789abcdef0123456789abcdef"), 32, "short");
  auto problems = problems_of(text);
  ASSERT_TRUE(find_key(problems, "socks5.jwt.secret")) << all(problems);
  EXPECT_EQ(find_key(problems, "socks5.jwt.secret")->message, "an HS256 secret must be at least 32 bytes");
  EXPECT_EQ(all(problems).find("short"), std::string::npos) << "a secret must never be echoed";

  text = kSocksEdge;
  text.replace(text.find("HS256"), 5, "RS256");
  problems = problems_of(text);
  EXPECT_TRUE(find_key(problems, "socks5.jwt.public_key_file")) << all(problems);
  EXPECT_TRUE(find_key(problems, "socks5.jwt.secret")) << all(problems);

  text = kSocksEdge;
  text.replace(text.find("HS256"), 5, "none");
  problems = problems_of(text);
  ASSERT_TRUE(find_key(problems, "socks5.jwt.algorithm")) << all(problems);
}

TEST(SocksConfig, UserProblems) {
  auto problems = problems_of(R"(node: {role: standalone}
socks5:
  listen: 127.0.0.1:1080
  auth: [password]
  users:
    - {username: app1, password: x, tenant: acme}
    - {username: app1, password: {env: GATEWAY_TEST_UNSET_VARIABLE}, tenant: acme}
    - {username: '', password: '', tenant: 'Not A Tenant'}
)");
  ASSERT_TRUE(find_key(problems, "socks5.users[1].username")) << all(problems);
  EXPECT_EQ(find_key(problems, "socks5.users[1].username")->message,
            "user 'app1' is already listed on line 6");
  EXPECT_TRUE(find_key(problems, "socks5.users[1].password.env")) << all(problems);
  EXPECT_TRUE(find_key(problems, "socks5.users[2].username")) << all(problems);
  EXPECT_TRUE(find_key(problems, "socks5.users[2].password")) << all(problems);
  EXPECT_TRUE(find_key(problems, "socks5.users[2].tenant")) << all(problems);
}

TEST(SocksConfig, NeedsATunnelOnAnEdge) {
  auto problems = problems_of("socks5: {listen: 127.0.0.1:1080, auth: [none], anonymous: {tenant: a}}\n");
  ASSERT_TRUE(find_key(problems, "socks5")) << all(problems);
  EXPECT_EQ(find_key(problems, "socks5")->message,
            "the SOCKS5 entry point reaches connectors and needs a tunnel section");
}

TEST(HttpProxyConfig, SharesTheProxyAuthenticationSettings) {
  Config config = parse(R"(node: {role: standalone}
http_proxy:
  listen: 127.0.0.1:3128
  auth: [password, jwt]
  users:
    - {username: app1, password: s3cret, tenant: acme}
  jwt: {algorithm: HS256, secret: 0123456789abcdef0123456789abcdef, audience: gateway}
)");
  ASSERT_TRUE(config.http_proxy);
  EXPECT_EQ(config.http_proxy->listen.port, 3128);
  EXPECT_TRUE(config.http_proxy->offer_password);
  EXPECT_TRUE(config.http_proxy->offer_jwt);
  ASSERT_EQ(config.http_proxy->users.size(), 1u);
  EXPECT_EQ(config.http_proxy->users[0].tenant, "acme");
}

TEST(HttpProxyConfig, ProblemsNameTheSection) {
  auto no_tunnel =
      problems_of("http_proxy: {listen: 127.0.0.1:3128, auth: [none], anonymous: {tenant: a}}\n");
  ASSERT_TRUE(find_key(no_tunnel, "http_proxy")) << all(no_tunnel);
  EXPECT_EQ(find_key(no_tunnel, "http_proxy")->message,
            "the HTTP proxy reaches connectors and needs a tunnel section");
  auto missing_users =
      problems_of("node: {role: standalone}\nhttp_proxy: {listen: 127.0.0.1:3128, auth: [password]}\n");
  ASSERT_TRUE(find_key(missing_users, "http_proxy.users")) << all(missing_users);
  auto on_connector = problems_of(
      "node: {role: connector}\nconnector: {edges: [{address: 127.0.0.1:8443}], ca_file: ca.pem, cert_file: "
      "c.pem, "
      "key_file: c.key}\nhttp_proxy: {listen: 127.0.0.1:3128, auth: [none], anonymous: {tenant: a}}\n");
  ASSERT_TRUE(find_key(on_connector, "http_proxy")) << all(on_connector);
  EXPECT_NE(find_key(on_connector, "http_proxy")->message.find("does not apply to role connector"),
            std::string::npos);
}

}  // namespace
