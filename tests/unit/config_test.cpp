#include "config/config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using gw::config::Config;
using gw::config::Endpoint;
using gw::config::Problem;
using gw::config::Problems;
using namespace std::chrono_literals;

const fs::path kConfigFile = "/srv/gateway/gateway.yaml";

using gw::testing::TempDir;

std::vector<Problem> problems_of(std::string_view text, const fs::path& file = kConfigFile) {
  try {
    gw::config::parse_config(text, file);
  } catch (const Problems& problems) {
    return problems.problems();
  }
  return {};
}

// The one problem reported for `text`; fails the test when there is not exactly one.
Problem only_problem(std::string_view text) {
  auto problems = problems_of(text);
  EXPECT_EQ(problems.size(), 1u) << [&] {
    std::string all;
    for (const auto& p : problems) all += p.str() + "\n";
    return all;
  }();
  return problems.empty() ? Problem{} : problems.front();
}

const Problem* find_key(const std::vector<Problem>& problems, const std::string& key) {
  auto it = std::find_if(problems.begin(), problems.end(), [&](const Problem& p) { return p.key == key; });
  return it == problems.end() ? nullptr : &*it;
}

std::string local_host_name() {
  char buffer[256] = {};
  ::gethostname(buffer, sizeof buffer - 1);
  return buffer;
}

const char* const kMinimal = R"(destinations:
  - name: demo
    route_type: tcp
    address: 127.0.0.1:7000
    entry_point:
      listen: 127.0.0.1:0
)";

// One destination, for tests that add a single faulty key to an otherwise valid file. Line 7 is the
// last line of the destination.
std::string with_destination_line(const std::string& line) {
  return std::string(kMinimal) + "    " + line + "\n";
}

// ---- valid files -----------------------------------------------------------------------------------

TEST(ConfigReader, MinimalFileGetsDefaults) {
  const Config config = gw::config::parse_config(kMinimal, kConfigFile);

  EXPECT_EQ(config.file, kConfigFile);
  EXPECT_EQ(config.node.name, local_host_name());
  EXPECT_EQ(config.node.role, gw::config::Role::edge);
  EXPECT_EQ(config.node.workers, 0u);
  EXPECT_EQ(config.node.drain_timeout, 30s);
  EXPECT_TRUE(config.plugins.paths.empty());
  EXPECT_FALSE(config.plugins.allow.has_value());
  EXPECT_EQ(config.log.level, gw::LogLevel::info);
  EXPECT_EQ(config.log.format, gw::config::LogFormat::text);
  EXPECT_EQ(config.audit.level, gw::config::AuditLevel::security);
  EXPECT_TRUE(config.audit.file.empty());
  EXPECT_FALSE(config.admin.listen.has_value());
  EXPECT_EQ(config.limits.connect_timeout, 5s);
  EXPECT_EQ(config.limits.idle_timeout, 5min);
  EXPECT_EQ(config.limits.max_connections, 1024u);
  EXPECT_EQ(config.limits.buffer_size, 60u * 1024);

  ASSERT_EQ(config.destinations.size(), 1u);
  const auto& destination = config.destinations[0];
  EXPECT_EQ(destination.key, "destinations[0]");
  EXPECT_EQ(destination.position.file, kConfigFile.string());
  EXPECT_EQ(destination.position.line, 2);
  EXPECT_EQ(destination.position.column, 5);
  EXPECT_EQ(destination.spec.name, "demo");
  EXPECT_EQ(destination.spec.route_type, "tcp");
  EXPECT_EQ(destination.spec.scheme, "");
  EXPECT_EQ(destination.spec.host, "127.0.0.1");
  EXPECT_EQ(destination.spec.port, 7000);
  EXPECT_EQ(destination.spec.proxy_type, gw::ProxyType::internet);
  EXPECT_EQ(destination.spec.location_id, "");
  EXPECT_EQ(destination.spec.tenant, "default");
  EXPECT_FALSE(destination.spec.tls.enabled);
  EXPECT_TRUE(destination.spec.tls.verify);
  EXPECT_EQ(destination.spec.tls.server_name, "");
  EXPECT_EQ(destination.spec.tls.ca_file, "");
  EXPECT_EQ(destination.spec.limits.connect_timeout, 5s);
  EXPECT_EQ(destination.spec.limits.max_connections, 1024u);
  EXPECT_EQ(destination.listen.host, "127.0.0.1");
  EXPECT_EQ(destination.listen.port, 0);
  EXPECT_TRUE(destination.settings.IsNull());
}

const char* const kFull = R"(node:
  name: edge-1
  role: edge
  workers: 4
  drain_timeout: 10s
plugins:
  paths: [plugins, ../shared/plugins, /opt/gatewayd/plugins]
  allow: [tcp, echo]
log:
  level: debug
  format: json
audit:
  level: all
  file: logs/audit.log
admin:
  listen: 127.0.0.1:9901
limits:
  connect_timeout: 3s
  idle_timeout: 2m
  max_connections: 500
  buffer_size: 32KiB
destinations:
  - name: demo
    route_type: tcp
    address: tcp://db.internal:5432
    proxy_type: internet
    entry_point:
      listen: 0.0.0.0:15432
    tls:
      enabled: true
      verify: false
      server_name: db.example.com
      ca_file: certs/ca.pem
      cert_file: /etc/gatewayd/client.pem
      key_file: ./certs/../certs/client.key
    limits: {connect_timeout: 2s, max_connections: 10}
    settings:
      nodelay: false
  - name: v6
    route_type: tcp
    address: "[2001:db8::1]:443"
    entry_point: {listen: "[::1]:8443"}
)";

TEST(ConfigReader, FullFileReadsEveryKey) {
  const Config config = gw::config::parse_config(kFull, kConfigFile);

  EXPECT_EQ(config.node.name, "edge-1");
  EXPECT_EQ(config.node.workers, 4u);
  EXPECT_EQ(config.node.drain_timeout, 10s);
  ASSERT_EQ(config.plugins.paths.size(), 3u);
  EXPECT_EQ(config.plugins.paths[0], fs::path("/srv/gateway/plugins"));
  EXPECT_EQ(config.plugins.paths[1], fs::path("/srv/shared/plugins"));
  EXPECT_EQ(config.plugins.paths[2], fs::path("/opt/gatewayd/plugins"));
  ASSERT_TRUE(config.plugins.allow.has_value());
  EXPECT_EQ(*config.plugins.allow, (std::vector<std::string>{"tcp", "echo"}));
  EXPECT_EQ(config.log.level, gw::LogLevel::debug);
  EXPECT_EQ(config.log.format, gw::config::LogFormat::json);
  EXPECT_EQ(config.audit.level, gw::config::AuditLevel::all);
  EXPECT_EQ(config.audit.file, fs::path("/srv/gateway/logs/audit.log"));
  ASSERT_TRUE(config.admin.listen.has_value());
  EXPECT_EQ(config.admin.listen->str(), "127.0.0.1:9901");
  EXPECT_EQ(config.limits.connect_timeout, 3s);
  EXPECT_EQ(config.limits.idle_timeout, 2min);
  EXPECT_EQ(config.limits.max_connections, 500u);
  EXPECT_EQ(config.limits.buffer_size, 32u * 1024);

  ASSERT_EQ(config.destinations.size(), 2u);
  const auto& demo = config.destinations[0].spec;
  EXPECT_EQ(demo.scheme, "tcp");
  EXPECT_EQ(demo.host, "db.internal");
  EXPECT_EQ(demo.port, 5432);
  EXPECT_TRUE(demo.tls.enabled);
  EXPECT_FALSE(demo.tls.verify);
  EXPECT_EQ(demo.tls.server_name, "db.example.com");
  EXPECT_EQ(demo.tls.ca_file, "/srv/gateway/certs/ca.pem");
  EXPECT_EQ(demo.tls.cert_file, "/etc/gatewayd/client.pem");
  EXPECT_EQ(demo.tls.key_file, "/srv/gateway/certs/client.key");
  // Destination limits start from the top-level limits; only the given ones are overridden.
  EXPECT_EQ(demo.limits.connect_timeout, 2s);
  EXPECT_EQ(demo.limits.max_connections, 10u);
  EXPECT_EQ(demo.limits.idle_timeout, 2min);
  EXPECT_EQ(demo.limits.buffer_size, 32u * 1024);
  EXPECT_EQ(config.destinations[0].listen.str(), "0.0.0.0:15432");
  ASSERT_TRUE(config.destinations[0].settings.IsMap());
  EXPECT_EQ(config.destinations[0].settings["nodelay"].Scalar(), "false");

  const auto& v6 = config.destinations[1];
  EXPECT_EQ(v6.key, "destinations[1]");
  EXPECT_EQ(v6.spec.host, "2001:db8::1");
  EXPECT_EQ(v6.spec.port, 443);
  EXPECT_EQ(v6.listen.host, "::1");
  EXPECT_EQ(v6.listen.str(), "[::1]:8443");
  EXPECT_EQ(v6.spec.limits.connect_timeout, 3s);
  EXPECT_EQ(v6.position.line, 39);
}

TEST(ConfigReader, LoadConfigResolvesPathsAgainstTheFilesDirectory) {
  TempDir dir;
  const fs::path file =
      dir.write("etc/gateway.yaml", std::string(kMinimal) + "plugins: {paths: [plugins]}\n" +
                                        "audit: {file: ../var/audit.log}\n");
  const Config config = gw::config::load_config(file);
  ASSERT_EQ(config.plugins.paths.size(), 1u);
  EXPECT_EQ(config.plugins.paths[0], (dir.path() / "etc/plugins").lexically_normal());
  EXPECT_EQ(config.audit.file, (dir.path() / "var/audit.log").lexically_normal());
  EXPECT_TRUE(config.file.is_absolute());
}

TEST(ConfigReader, EmptySectionsKeepDefaults) {
  const Config config =
      gw::config::parse_config(std::string("node:\nlog:\nlimits: {}\n") + kMinimal, kConfigFile);
  EXPECT_EQ(config.log.level, gw::LogLevel::info);
  EXPECT_EQ(config.limits.max_connections, 1024u);
}

TEST(ConfigReader, FileWithoutDestinationsIsValid) {
  const Config config = gw::config::parse_config("admin: {listen: \"127.0.0.1:9901\"}\n", kConfigFile);
  EXPECT_TRUE(config.destinations.empty());
}

// ---- problems --------------------------------------------------------------------------------------

TEST(ConfigReader, ProblemFormat) {
  EXPECT_EQ((Problem{{"a.yaml", 3, 7}, "limits.idle_timeout", "bad"}).str(),
            "a.yaml:3:7: limits.idle_timeout: bad");
  EXPECT_EQ((Problem{{"a.yaml", 0, 0}, "", "cannot read"}).str(), "a.yaml: cannot read");
  EXPECT_EQ((Problem{{"a.yaml", 3, 0}, "", "bad"}).str(), "a.yaml:3: bad");
  const Problems problems({Problem{{"a.yaml", 1, 1}, "x", "one"}, Problem{{"a.yaml", 2, 1}, "y", "two"}});
  EXPECT_STREQ(problems.what(), "a.yaml:1:1: x: one\na.yaml:2:1: y: two");
}

TEST(ConfigReader, UnknownKeyIsReportedAtTheKey) {
  const auto problem = only_problem(R"(limits:
  connect_timeout: 1s
  idel_timeout: 5m
)");
  EXPECT_EQ(problem.key, "limits.idel_timeout");
  EXPECT_EQ(problem.where.file, kConfigFile.string());
  EXPECT_EQ(problem.where.line, 3);
  EXPECT_EQ(problem.where.column, 3);
  EXPECT_EQ(problem.message,
            "unknown key 'idel_timeout' (expected one of: connect_timeout, idle_timeout, half_close_timeout, "
            "max_connections, "
            "buffer_size)");
  EXPECT_EQ(
      problem.str(),
      "/srv/gateway/gateway.yaml:3:3: limits.idel_timeout: unknown key 'idel_timeout' (expected one of: "
      "connect_timeout, idle_timeout, half_close_timeout, max_connections, buffer_size)");
}

TEST(ConfigReader, UnknownTopLevelAndDestinationKeys) {
  auto problems = problems_of(std::string("listen: 1\n") + with_destination_line("nodelay: true"));
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].key, "listen");
  EXPECT_EQ(problems[0].where.line, 1);
  EXPECT_EQ(problems[1].key, "destinations[0].nodelay");
  EXPECT_EQ(problems[1].where.line, 8);
  EXPECT_NE(problems[1].message.find("unknown key 'nodelay'"), std::string::npos);
  EXPECT_NE(problems[1].message.find("settings"), std::string::npos);
}

TEST(ConfigReader, BadDurationNamesTheDestinationIndex) {
  const auto problems = problems_of(R"(destinations:
  - {name: a, route_type: tcp, address: "h:1", entry_point: {listen: "127.0.0.1:0"}}
  - {name: b, route_type: tcp, address: "h:1", entry_point: {listen: "127.0.0.1:0"}}
  - name: c
    route_type: tcp
    address: h:1
    entry_point: {listen: "127.0.0.1:0"}
    limits:
      idle_timeout: abc
)");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].key, "destinations[2].limits.idle_timeout");
  EXPECT_EQ(problems[0].where.line, 9);
  EXPECT_EQ(problems[0].where.column, 21);
  EXPECT_EQ(problems[0].message, "expected a duration such as 5s or 250ms, got 'abc'");
}

TEST(ConfigReader, WrongNodeKinds) {
  auto problem = only_problem("node: [edge-1]\n");
  EXPECT_EQ(problem.key, "node");
  EXPECT_EQ(problem.where.line, 1);
  EXPECT_EQ(problem.message, "expected a mapping, got a list");

  problem = only_problem("destinations:\n  name: demo\n");
  EXPECT_EQ(problem.key, "destinations");
  EXPECT_EQ(problem.where.line, 2);
  EXPECT_EQ(problem.message, "expected a list of destinations, got a mapping");

  problem = only_problem("destinations:\n  - demo\n");
  EXPECT_EQ(problem.key, "destinations[0]");
  EXPECT_EQ(problem.message, "expected a destination (a mapping), got 'demo'");

  problem = only_problem("plugins:\n  paths: plugins\n");
  EXPECT_EQ(problem.key, "plugins.paths");
  EXPECT_EQ(problem.message, "expected a list, got 'plugins'");

  problem = only_problem("node:\n  name: {a: b}\n");
  EXPECT_EQ(problem.key, "node.name");
  EXPECT_EQ(problem.where.line, 2);
  EXPECT_EQ(problem.message, "expected a string, got a mapping");

  problem = only_problem("- a\n- b\n");
  EXPECT_EQ(problem.where.line, 1);
  EXPECT_NE(problem.message.find("expected a mapping of keys to values at the top level, got a list"),
            std::string::npos);
}

TEST(ConfigReader, SyntaxErrorHasAPosition) {
  const auto problem = only_problem("log:\n  level: info\nadmin: {listen: 127.0.0.1:9901\n");
  EXPECT_EQ(problem.key, "");
  EXPECT_GE(problem.where.line, 3);
  EXPECT_NE(problem.message.find("YAML syntax error"), std::string::npos);
}

// yaml-cpp's parser alone never gets past these: it produces empty documents until memory runs out.
TEST(ConfigReader, InputTheYamlParserLoopsOnIsASyntaxError) {
  for (const std::string text : {",", "- a\n,", "log: {level: info}\n---\n,\n"}) {
    const auto problem = only_problem(text);
    EXPECT_EQ(problem.key, "") << text;
    EXPECT_GE(problem.where.line, 1) << text;
    EXPECT_EQ(problem.message, "YAML syntax error: the parser cannot get past this point") << text;
  }
}

TEST(ConfigReader, TabIndentationIsExplained) {
  const auto problem = only_problem("log:\n\tlevel: info\n");
  EXPECT_EQ(problem.where.line, 2);
  EXPECT_NE(problem.message.find("line 2 is indented with a tab; YAML indentation must use spaces"),
            std::string::npos);
}

TEST(ConfigReader, MissingFile) {
  TempDir dir;
  try {
    gw::config::load_config(dir.path() / "absent.yaml");
    FAIL() << "expected Problems";
  } catch (const Problems& problems) {
    ASSERT_EQ(problems.problems().size(), 1u);
    const auto& problem = problems.problems()[0];
    EXPECT_EQ(problem.where.line, 0);
    EXPECT_EQ(problem.where.file, (dir.path() / "absent.yaml").string());
    EXPECT_NE(problem.message.find("cannot read the file"), std::string::npos);
    EXPECT_EQ(problem.str(), (dir.path() / "absent.yaml").string() + ": " + problem.message);
  }
}

TEST(ConfigReader, DirectoryInsteadOfFile) {
  TempDir dir;
  try {
    gw::config::load_config(dir.path());
    FAIL() << "expected Problems";
  } catch (const Problems& problems) {
    ASSERT_EQ(problems.problems().size(), 1u);
    EXPECT_EQ(problems.problems()[0].message, "cannot read the file: it is a directory");
  }
}

TEST(ConfigReader, EmptyFile) {
  for (const char* text : {"", "\n\n", "# only a comment\n", "~\n", "---\n"}) {
    const auto problem = only_problem(text);
    EXPECT_EQ(problem.message, "the file is empty") << text;
    EXPECT_EQ(problem.where.line, 0);
  }
}

TEST(ConfigReader, DuplicateDestinationNames) {
  const auto problems = problems_of(R"(destinations:
  - {name: demo, route_type: tcp, address: "h:1", entry_point: {listen: "127.0.0.1:0"}}
  - {name: other, route_type: tcp, address: "h:1", entry_point: {listen: "127.0.0.1:0"}}
  - {name: demo, route_type: tcp, address: "h:1", entry_point: {listen: "127.0.0.1:0"}}
)");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].key, "destinations[2].name");
  EXPECT_EQ(problems[0].where.line, 4);
  EXPECT_EQ(problems[0].message, "destination name 'demo' is already used on line 2");
}

TEST(ConfigReader, DuplicateListenAddresses) {
  const auto problems = problems_of(R"(admin:
  listen: 127.0.0.1:9000
destinations:
  - {name: a, route_type: tcp, address: "h:1", entry_point: {listen: "127.0.0.1:9000"}}
  - {name: b, route_type: tcp, address: "h:1", entry_point: {listen: "0.0.0.0:8000"}}
  - {name: c, route_type: tcp, address: "h:1", entry_point: {listen: "10.0.0.1:8000"}}
  - {name: d, route_type: tcp, address: "h:1", entry_point: {listen: "127.0.0.1:0"}}
  - {name: e, route_type: tcp, address: "h:1", entry_point: {listen: "127.0.0.1:0"}}
  - {name: f, route_type: tcp, address: "h:1", entry_point: {listen: "127.0.0.1:9001"}}
)");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].key, "destinations[0].entry_point.listen");
  EXPECT_EQ(problems[0].where.line, 4);
  EXPECT_EQ(problems[0].message, "listen address 127.0.0.1:9000 is already used by admin.listen (line 2)");
  EXPECT_EQ(problems[1].key, "destinations[2].entry_point.listen");
  EXPECT_EQ(problems[1].where.line, 6);
  EXPECT_EQ(
      problems[1].message,
      "listen address 10.0.0.1:8000 overlaps 0.0.0.0:8000 of destinations[1].entry_point.listen (line 5)");
}

TEST(ConfigReader, BadNames) {
  auto problem = only_problem(R"(destinations:
  - name: "no spaces"
    route_type: tcp
    address: h:1
    entry_point: {listen: "127.0.0.1:0"}
)");
  EXPECT_EQ(problem.key, "destinations[0].name");
  EXPECT_EQ(problem.where.line, 2);
  EXPECT_EQ(problem.message,
            "expected a destination name of 1 to 200 letters, digits, '-' or '_', got 'no spaces'");

  problem = only_problem(std::string(R"(destinations:
  - name: ")") + std::string(201, 'a') +
                         R"("
    route_type: tcp
    address: h:1
    entry_point: {listen: "127.0.0.1:0"}
)");
  EXPECT_EQ(problem.key, "destinations[0].name");

  problem = only_problem(R"(destinations:
  - name: demo
    route_type: TCP
    address: h:1
    entry_point: {listen: "127.0.0.1:0"}
)");
  EXPECT_EQ(problem.key, "destinations[0].route_type");
  EXPECT_EQ(problem.where.line, 3);

  problem = only_problem("node: {name: \"edge 1\"}\n");
  EXPECT_EQ(problem.key, "node.name");

  problem = only_problem("plugins: {allow: [Tcp]}\n");
  EXPECT_EQ(problem.key, "plugins.allow[0]");
}

TEST(ConfigReader, PortsOutOfRange) {
  auto problem = only_problem(R"(destinations:
  - name: demo
    route_type: tcp
    address: 127.0.0.1:70000
    entry_point: {listen: "127.0.0.1:0"}
)");
  EXPECT_EQ(problem.key, "destinations[0].address");
  EXPECT_EQ(problem.where.line, 4);
  EXPECT_EQ(problem.message,
            "expected an address such as 127.0.0.1:7000, tcp://db.internal:5432 or [::1]:7000, got "
            "'127.0.0.1:70000'");

  problem = only_problem(R"(destinations:
  - name: demo
    route_type: tcp
    address: 127.0.0.1:0
    entry_point: {listen: "127.0.0.1:0"}
)");
  EXPECT_EQ(problem.key, "destinations[0].address");
  EXPECT_EQ(problem.message, "the target port must be from 1 to 65535, got '127.0.0.1:0'");

  problem = only_problem("admin: {listen: \"127.0.0.1:65536\"}\n");
  EXPECT_EQ(problem.key, "admin.listen");
  EXPECT_EQ(problem.where.line, 1);
  EXPECT_EQ(problem.message,
            "expected an address such as 127.0.0.1:7000 or [::1]:7000, got '127.0.0.1:65536'");
}

TEST(ConfigReader, AddressForms) {
  auto problem = only_problem(R"(destinations:
  - name: demo
    route_type: tcp
    address: "::1:7000"
    entry_point: {listen: "127.0.0.1:0"}
)");
  EXPECT_NE(problem.message.find("write IPv6 addresses in brackets"), std::string::npos);

  problem = only_problem(R"(destinations:
  - name: demo
    route_type: tcp
    address: db.internal
    entry_point: {listen: "127.0.0.1:0"}
)");
  EXPECT_NE(problem.message.find("the port is missing"), std::string::npos);

  problem = only_problem(R"(destinations:
  - name: demo
    route_type: tcp
    address: "TCP://db:1"
    entry_point: {listen: "127.0.0.1:0"}
)");
  EXPECT_NE(problem.message.find("scheme"), std::string::npos);
}

TEST(ConfigReader, OnPremiseNeedsATunnelOnAnEdge) {
  auto problem = only_problem(with_destination_line("proxy_type: on_premise"));
  EXPECT_EQ(problem.key, "destinations[0].proxy_type");
  EXPECT_EQ(problem.message, "proxy_type on_premise needs a tunnel section (where connectors dial in)");

  problem = only_problem(with_destination_line("proxy_type: satellite"));
  EXPECT_EQ(problem.message, "expected internet or on_premise, got 'satellite'");

  problem = only_problem("node:\n  role: hub\n");
  EXPECT_EQ(problem.message, "expected edge, connector or standalone, got 'hub'");
}

TEST(ConfigReader, RequiredKeys) {
  auto problems = problems_of(R"(destinations:
  - name: demo
    address: h:1
    entry_point: {}
  - name: other
)");
  ASSERT_EQ(problems.size(), 5u);
  EXPECT_EQ(problems[0].key, "destinations[0].route_type");
  EXPECT_EQ(problems[0].where.line, 2);
  EXPECT_EQ(problems[0].message, "missing required key 'route_type'");
  EXPECT_EQ(problems[1].key, "destinations[0].entry_point.listen");
  EXPECT_EQ(problems[1].where.line, 4);
  EXPECT_EQ(problems[1].message, "missing required key 'listen'");
  EXPECT_EQ(problems[2].where.line, 5);
  EXPECT_NE(find_key(problems, "destinations[1].route_type"), nullptr);
  EXPECT_NE(find_key(problems, "destinations[1].address"), nullptr);
  EXPECT_NE(find_key(problems, "destinations[1].entry_point"), nullptr);
}

TEST(ConfigReader, NullEntryPointReportsMissingListenAtItsKey) {
  const auto problem = only_problem(R"(destinations:
  - name: demo
    route_type: tcp
    address: h:1
    entry_point:
)");
  EXPECT_EQ(problem.key, "destinations[0].entry_point.listen");
  EXPECT_EQ(problem.where.line, 5);
}

TEST(ConfigReader, TlsKeyWithoutCertificate) {
  auto problem = only_problem(with_destination_line("tls: {enabled: true, key_file: client.key}"));
  EXPECT_EQ(problem.key, "destinations[0].tls.key_file");
  EXPECT_EQ(problem.where.line, 7);
  EXPECT_EQ(problem.message, "key_file is set but cert_file is not: a client key needs its certificate");

  problem = only_problem(with_destination_line("tls: {enabled: true, cert_file: client.pem}"));
  EXPECT_EQ(problem.key, "destinations[0].tls.cert_file");
}

TEST(ConfigReader, LimitValues) {
  auto problem = only_problem("limits: {max_connections: -1}\n");
  EXPECT_EQ(problem.key, "limits.max_connections");
  EXPECT_EQ(problem.message, "expected an integer from 1 to 4294967295, got '-1'");

  problem = only_problem("limits: {max_connections: 99999999999999999999999999}\n");
  EXPECT_EQ(problem.key, "limits.max_connections");

  problem = only_problem("limits: {connect_timeout: 0s}\n");
  EXPECT_EQ(problem.key, "limits.connect_timeout");
  EXPECT_EQ(problem.message, "must be longer than 0 (e.g. 5s)");

  problem = only_problem("limits: {buffer_size: 2GiB}\n");
  EXPECT_EQ(problem.message, "must be from 1 byte to 1GiB, got '2GiB'");

  problem = only_problem("limits: {buffer_size: 64KB}\n");
  EXPECT_EQ(problem.message, "expected a size such as 65536, 64KiB or 1MiB, got '64KB'");

  problem = only_problem("limits: {idle_timeout: 99999999999999999999999h}\n");
  EXPECT_EQ(problem.message, "duration '99999999999999999999999h' is too long (at most 100000h)");

  problem = only_problem("limits: {buffer_size: 99999999999999TiB}\n");
  EXPECT_EQ(problem.message, "size '99999999999999TiB' is too large");

  problem = only_problem("node: {drain_timeout: 30}\n");
  EXPECT_EQ(problem.key, "node.drain_timeout");
  EXPECT_EQ(problem.message,
            "expected a duration such as 5s or 250ms, got '30' (a unit is needed: ms, s, m or h)");

  problem = only_problem("node: {workers: 5000}\n");
  EXPECT_EQ(problem.message, "expected an integer from 0 to 1024, got '5000'");

  const Config config = gw::config::parse_config("limits: {idle_timeout: 0}\n", kConfigFile);
  EXPECT_EQ(config.limits.idle_timeout, 0ms);
}

TEST(ConfigReader, EnumerationsAndBooleans) {
  auto problem = only_problem("log: {level: verbose}\n");
  EXPECT_EQ(problem.key, "log.level");
  EXPECT_EQ(problem.message, "expected debug, info, warn or error, got 'verbose'");

  problem = only_problem("audit: {level: everything}\n");
  EXPECT_EQ(problem.message, "expected off, security or all, got 'everything'");

  problem = only_problem(with_destination_line("tls: {enabled: yes}"));
  EXPECT_EQ(problem.key, "destinations[0].tls.enabled");
  EXPECT_EQ(problem.message, "expected true or false, got 'yes'");
}

TEST(ConfigReader, RepeatedKey) {
  const auto problem = only_problem("log:\n  level: info\n  level: debug\n");
  EXPECT_EQ(problem.key, "log.level");
  EXPECT_EQ(problem.where.line, 3);
  EXPECT_EQ(problem.message, "key 'level' is given twice (first on line 2)");
}

TEST(ConfigReader, ReportsEveryProblemInFileOrder) {
  const std::string text = R"(node:
  workers: many
log:
  level: loud
destinations:
  - name: demo
    route_type: tcp
    address: h:1
    entry_point: {listen: "127.0.0.1:0"}
    limits:
      idle_timeout: abc
      idel_timeout: 5m
)";
  try {
    gw::config::parse_config(text, kConfigFile);
    FAIL() << "expected Problems";
  } catch (const Problems& problems) {
    const auto& list = problems.problems();
    ASSERT_EQ(list.size(), 4u);
    EXPECT_EQ(list[0].key, "node.workers");
    EXPECT_EQ(list[0].where.line, 2);
    EXPECT_EQ(list[1].key, "log.level");
    EXPECT_EQ(list[1].where.line, 4);
    EXPECT_EQ(list[2].key, "destinations[0].limits.idle_timeout");
    EXPECT_EQ(list[2].where.line, 11);
    EXPECT_EQ(list[3].key, "destinations[0].limits.idel_timeout");
    EXPECT_EQ(list[3].where.line, 12);
    std::string expected;
    for (const auto& p : list) expected += (expected.empty() ? "" : "\n") + p.str();
    EXPECT_EQ(problems.what(), expected);
  }
}

TEST(ConfigReader, MoreThanOneDocument) {
  const auto problem = only_problem(std::string(kMinimal) + "---\nlog: {level: debug}\n");
  EXPECT_EQ(problem.where.line, 8);
  EXPECT_NE(problem.message.find("exactly one YAML document"), std::string::npos);
}

// ---- hostile input ---------------------------------------------------------------------------------

TEST(ConfigReader, DeeplyNestedDocument) {
  const std::string flow = "node: " + std::string(100000, '[') + std::string(100000, ']') + "\n";
  auto problems = problems_of(flow);
  ASSERT_FALSE(problems.empty());

  std::string block;
  for (int depth = 0; depth < 3000; ++depth)
    block += std::string(static_cast<std::size_t>(depth), ' ') + "k:\n";
  problems = problems_of(block);
  ASSERT_FALSE(problems.empty());
}

TEST(ConfigReader, NulByte) {
  const std::string text = std::string("log:\n  level: in\0fo\n", 20);
  const auto problem = only_problem(text);
  EXPECT_EQ(problem.where.line, 2);
  EXPECT_EQ(problem.where.column, 12);
  EXPECT_EQ(problem.message, "the file contains a NUL byte; expected YAML text");
}

TEST(ConfigReader, ControlCharactersAndLongValuesAreQuotedSafely) {
  const auto problem = only_problem("log: {level: \"a\\nb\\u0001" + std::string(200, 'x') + "\"}\n");
  EXPECT_EQ(problem.message.find('\n'), std::string::npos);
  EXPECT_NE(problem.message.find("'a\\nb\\x01xxx"), std::string::npos);
  EXPECT_LT(problem.message.size(), 120u);
}

TEST(ConfigReader, NonScalarKeysAndAliases) {
  auto problems = problems_of("? [a, b]\n: 1\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].message.find("expected a key name, got a list"), std::string::npos);

  // A list that contains itself must not send the reader round in circles.
  problems = problems_of("plugins: {paths: &p [a, *p]}\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].key, "plugins.paths[1]");
}

// ---- value parsers ---------------------------------------------------------------------------------

TEST(ConfigValueParsers, Duration) {
  using gw::config::parse_duration;
  EXPECT_EQ(parse_duration("250ms"), 250ms);
  EXPECT_EQ(parse_duration("5s"), 5s);
  EXPECT_EQ(parse_duration("2m"), 2min);
  EXPECT_EQ(parse_duration("1h"), 1h);
  EXPECT_EQ(parse_duration("1m30s"), 90s);
  EXPECT_EQ(parse_duration("0"), 0ms);
  EXPECT_EQ(parse_duration("0s"), 0ms);
  EXPECT_EQ(parse_duration("100000h"), 100000h);
  for (const char* bad : {"", "5", "s", "5 s", "-5s", "+5s", "5S", "1.5s", "5sec", "5s ", "h1", "ms",
                          "100001h", "99999999999999999999ms", "18446744073709551616h", "5d"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
  }
}

TEST(ConfigValueParsers, Size) {
  using gw::config::parse_size;
  EXPECT_EQ(parse_size("65536"), 65536u);
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("512B"), 512u);
  EXPECT_EQ(parse_size("64KiB"), 65536u);
  EXPECT_EQ(parse_size("1MiB"), 1048576u);
  EXPECT_EQ(parse_size("1GiB"), 1073741824u);
  EXPECT_EQ(parse_size("2TiB"), 2199023255552u);
  EXPECT_EQ(parse_size("18446744073709551615"), 18446744073709551615u);
  for (const char* bad : {"", "KiB", "-1", "64kib", "64KB", "64 KiB", "1.5MiB", "18446744073709551616",
                          "16777216TiB", "0x10"}) {
    EXPECT_FALSE(parse_size(bad).has_value()) << bad;
  }
}

TEST(ConfigValueParsers, Endpoint) {
  using gw::config::parse_endpoint;
  auto endpoint = parse_endpoint("127.0.0.1:9901");
  ASSERT_TRUE(endpoint);
  EXPECT_EQ(endpoint->host, "127.0.0.1");
  EXPECT_EQ(endpoint->port, 9901);

  endpoint = parse_endpoint("[::1]:0");
  ASSERT_TRUE(endpoint);
  EXPECT_EQ(endpoint->host, "::1");
  EXPECT_EQ(endpoint->port, 0);
  EXPECT_EQ(endpoint->str(), "[::1]:0");

  endpoint = parse_endpoint("[fe80::1%eth0]:443");
  ASSERT_TRUE(endpoint);
  EXPECT_EQ(endpoint->host, "fe80::1%eth0");

  endpoint = parse_endpoint("db.internal:65535");
  ASSERT_TRUE(endpoint);
  EXPECT_EQ(endpoint->host, "db.internal");
  EXPECT_EQ(endpoint->port, 65535);
  EXPECT_EQ(endpoint->str(), "db.internal:65535");

  for (const char* bad : {"", ":80", "host", "host:", "host:65536", "host:-1", "host:+1", "host:080a",
                          "::1:80", "[::1]", "[::1]80", "[]:80", "[nothost]:80", "999.1.1.1:80", "a..b:80",
                          "a b:80", "host:100000", "tcp://host:80"}) {
    EXPECT_FALSE(parse_endpoint(bad).has_value()) << bad;
  }
}

TEST(AdminConfig, LookupTokenIsASecretOfSixteenBytesOrMore) {
  const auto problems = problems_of("admin: {listen: 127.0.0.1:9901, lookup_token: short}\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].key, "admin.lookup_token");
  EXPECT_EQ(problems[0].message, "must be at least 16 bytes (it guards credentials)");
}

}  // namespace

TEST(ConfigSections, ChangedSectionsAreThoseWhoseValuesDiffer) {
  using gw::config::changed_sections;
  const std::string before = "node: {role: connector}  # a comment\nlog:\n  level: info\nsystems:\n  - a\n";
  EXPECT_TRUE(changed_sections(before, before).empty());
  // Comments, and the order of sections, do not count; a change of style within a value does.
  EXPECT_TRUE(
      changed_sections(before, "log:\n  level: info\nsystems:\n  - a\nnode: {role: connector}\n").empty());
  EXPECT_EQ(changed_sections(before, "node: {role: connector}\nlog:\n  level: info\nsystems: [a]\n"),
            std::vector<std::string>{"systems"});
  EXPECT_EQ(changed_sections(before, "node: {role: connector}\nlog: {level: debug}\nsystems:\n  - b\n"),
            (std::vector<std::string>{"log", "systems"}));
  // Added and removed sections: those of the new text first, then those only the old one has.
  EXPECT_EQ(
      changed_sections(before, "admin: {listen: 127.0.0.1:9901}\nnode: {role: connector}\nsystems:\n  - a\n"),
      (std::vector<std::string>{"admin", "log"}));
  EXPECT_EQ(changed_sections("", "node: {role: edge}\n"), std::vector<std::string>{"node"});
}

TEST(ConfigSections, ChangedEntriesAreNamedByTheirKey) {
  using gw::config::changed_entries;
  using gw::config::list_entries;
  const auto before =
      list_entries("destinations:\n  - {name: a, port: 1}\n  - {name: b, port: 2}\n  - {name: c}\n",
                   "destinations", "name");
  ASSERT_EQ(before.size(), 3u);
  EXPECT_EQ(before[1].first, "b");
  EXPECT_TRUE(changed_entries(before, before).empty());
  // b changed, c removed, d added; a's comment does not count.
  const auto after =
      list_entries("destinations:\n  - {name: d}\n  - {name: a, port: 1}  # same\n  - {name: b, port: 3}\n",
                   "destinations", "name");
  EXPECT_EQ(changed_entries(before, after), (std::vector<std::string>{"d", "b", "c"}));
  EXPECT_EQ(changed_entries(before, list_entries("node: {role: edge}\n", "destinations", "name")),
            (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(list_entries("", "destinations", "name").empty());
}
