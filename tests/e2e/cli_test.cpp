// The command line: version, help, configuration check with precise problem reports, plugin listing,
// and refusing to run a configuration no plugin can serve.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "support/gateway_process.hpp"
#include "support/record.hpp"
#include "support/temp_dir.hpp"

namespace gw::e2e {
namespace {

std::string valid_config() {
  GatewayConfig config;
  config.destinations.push_back({.name = "demo", .address = "127.0.0.1:7000"});
  return config.yaml();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// The problem line for `file` at `line` that names `key` (FILE:LINE:COL: KEY...: message).
std::optional<std::string> problem_line(const std::string& output, const std::string& file, int line,
                                        const std::string& key) {
  std::regex position("^" + std::regex_replace(file, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") + ":" +
                      std::to_string(line) + R"(:[1-9][0-9]*: )");
  for (const auto& text : lines_of(output)) {
    if (std::regex_search(text, position) && text.find(key) != std::string::npos) return text;
  }
  return std::nullopt;
}

TEST(Cli, VersionPrintsVersionAndExitsZero) {
  CommandResult result = run_gatewayd({"--version"});
  ASSERT_TRUE(result.status);
  EXPECT_TRUE(result.status->success()) << *result.status;
  EXPECT_TRUE(std::regex_search(result.out + result.err, std::regex(R"(\b[0-9]+\.[0-9]+\.[0-9]+\b)")))
      << result.out << result.err;
}

TEST(Cli, HelpOnEveryCommandExitsZero) {
  for (std::vector<std::string> args :
       {std::vector<std::string>{"--help"}, {"run", "--help"}, {"check", "--help"}, {"plugins", "--help"}}) {
    CommandResult result = run_gatewayd(args);
    SCOPED_TRACE(args.size() == 1 ? args[0] : args[0] + " " + args[1]);
    ASSERT_TRUE(result.status);
    EXPECT_TRUE(result.status->success()) << *result.status;
    EXPECT_NE(result.out + result.err, "");
  }
}

TEST(Cli, CheckAcceptsValidConfiguration) {
  TempDir dir;
  auto file = dir.write("gateway.yaml", valid_config());
  CommandResult result = run_gatewayd({"check", "--config", file.string()});
  ASSERT_TRUE(result.status);
  EXPECT_TRUE(result.status->success()) << *result.status << "\n" << result.err;
  EXPECT_NE((result.out + result.err).find("configuration OK"), std::string::npos)
      << result.out << result.err;
}

TEST(Cli, CheckReportsEveryProblemWithPositionAndKeyPath) {
  TempDir dir;
  auto file = dir.write("gateway.yaml",
                        "node:\n"                        // 1
                        "  role: edge\n"                 // 2
                        "log:\n"                         // 3
                        "  level: loud\n"                // 4: not a level
                        "destinations:\n"                // 5
                        "  - name: demo\n"               // 6
                        "    route_type: tcp\n"          // 7
                        "    address: 127.0.0.1:7000\n"  // 8
                        "    entry_point:\n"             // 9
                        "      listen: 127.0.0.1:0\n"    // 10
                        "    limits:\n"                  // 11
                        "      idle_timout: 5s\n");      // 12: unknown key
  CommandResult result = run_gatewayd({"check", "--config", file.string()});
  ASSERT_TRUE(result.status);
  EXPECT_EQ(result.status->code, 1) << *result.status;
  EXPECT_TRUE(problem_line(result.err, file.string(), 4, "log.level")) << result.err;
  EXPECT_TRUE(problem_line(result.err, file.string(), 12, "destinations[0].limits")) << result.err;
  EXPECT_TRUE(problem_line(result.err, file.string(), 12, "idle_timout")) << result.err;
  std::size_t problems = 0;
  for (const auto& line : lines_of(result.err)) {
    if (line.rfind(file.string() + ":", 0) == 0) ++problems;
  }
  EXPECT_EQ(problems, 2u) << result.err;
}

TEST(Cli, CheckRejectsMisspelledSecuritySetting) {
  TempDir dir;
  GatewayConfig config;
  config.destinations.push_back(
      {.name = "demo", .address = "127.0.0.1:7000", .tls = "{enabled: true, verfy: false}"});
  auto file = dir.write("gateway.yaml", config.yaml());
  CommandResult result = run_gatewayd({"check", "--config", file.string()});
  ASSERT_TRUE(result.status);
  EXPECT_EQ(result.status->code, 1) << *result.status;
  EXPECT_NE(result.err.find("verfy"), std::string::npos) << result.err;
}

GatewayConfig config_with_unknown_route_type() {
  GatewayConfig config;
  config.destinations.push_back({.name = "demo", .address = "127.0.0.1:7000", .route_type = "quic"});
  return config;
}

TEST(Cli, CheckNamesRouteTypeNoPluginProvides) {
  TempDir dir;
  auto file = dir.write("gateway.yaml", config_with_unknown_route_type().yaml());
  CommandResult result = run_gatewayd({"check", "--config", file.string()});
  ASSERT_TRUE(result.status);
  EXPECT_EQ(result.status->code, 1) << *result.status;
  EXPECT_NE(result.err.find("quic"), std::string::npos) << result.err;
}

TEST(Cli, RunRefusesRouteTypeNoPluginProvides) {
  GatewayProcess gateway(config_with_unknown_route_type());
  auto status = gateway.wait_for_exit();
  ASSERT_TRUE(status) << "gatewayd kept running with a destination it cannot serve";
  EXPECT_FALSE(status->success()) << *status;
  EXPECT_TRUE(status->exited) << *status;
  for (const auto& record : gateway.log_records()) EXPECT_NE(record.get("event"), "ready");
  EXPECT_NE(gateway.process().text().find("quic"), std::string::npos);
}

// The `version:` of the tcp plugin's manifest in the build tree.
std::string tcp_plugin_version() {
  std::istringstream manifest(read_file(std::filesystem::path(GW_PLUGIN_DIR) / "tcp.plugin.yaml"));
  std::string line;
  std::smatch match;
  while (std::getline(manifest, line)) {
    if (std::regex_match(line, match, std::regex(R"re(version:\s*"?([^"\s#]+)"?\s*(#.*)?)re")))
      return match[1];
  }
  return {};
}

TEST(Cli, PluginsListsTcpPluginAsLoadedWithVersionAndRouteTypes) {
  std::string version = tcp_plugin_version();
  ASSERT_NE(version, "") << "no version in " << GW_PLUGIN_DIR << "/tcp.plugin.yaml";
  CommandResult result = run_gatewayd({"plugins"});
  ASSERT_TRUE(result.status);
  EXPECT_TRUE(result.status->success()) << *result.status;
  std::string output = result.out + result.err;
  std::optional<std::string> listed;
  for (const auto& line : lines_of(output)) {
    if (line.find("tcp") != std::string::npos && line.find(version) != std::string::npos) listed = line;
  }
  ASSERT_TRUE(listed) << "no line names the tcp plugin with version " << version << ":\n" << output;
  EXPECT_TRUE(contains_nocase(*listed, "loaded")) << *listed;
  EXPECT_TRUE(contains_nocase(*listed, "route")) << "route types not listed: " << *listed;
}

}  // namespace
}  // namespace gw::e2e
