// The configuration files shipped in config/ pass `gatewayd check`: the quick start as it is, and the
// edge + connector pair once the certificates exist, created with the very commands its comments
// give.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "support/child_process.hpp"
#include "support/gateway_process.hpp"
#include "support/temp_dir.hpp"

namespace gw::e2e {
namespace {

namespace fs = std::filesystem;

fs::path shipped(const std::string& name) {
  return fs::path(GW_SOURCE_DIR) / "config" / name;
}

// The `gatewayd certs ...` commands in a file's comments, as argument lists without "gatewayd".
std::vector<std::vector<std::string>> certs_commands_in_comments(const fs::path& file) {
  std::vector<std::vector<std::string>> commands;
  std::istringstream in(read_file(file));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string hash;
    std::string program;
    std::string command;
    words >> hash >> program >> command;
    if (hash != "#" || program != "gatewayd" || command != "certs") continue;
    std::vector<std::string> args{command};
    for (std::string word; words >> word;) args.push_back(word);
    commands.push_back(std::move(args));
  }
  return commands;
}

::testing::AssertionResult passes_check(const fs::path& config, const std::string& role) {
  CommandResult result = run_gatewayd({"check", "--config", config.string()});
  if (!result.status) return ::testing::AssertionFailure() << "check did not finish";
  if (!result.status->success()) {
    return ::testing::AssertionFailure() << *result.status << "\n" << result.out << result.err;
  }
  if (result.out.find("configuration OK: role " + role) == std::string::npos) {
    return ::testing::AssertionFailure() << "no 'configuration OK: role " << role << "' in: " << result.out;
  }
  return ::testing::AssertionSuccess();
}

TEST(ShippedConfig, QuickstartPassesCheck) {
  EXPECT_TRUE(passes_check(shipped("quickstart.yaml"), "standalone"));
}

TEST(ShippedConfig, LdapExamplePassesCheck) {
  EXPECT_TRUE(passes_check(shipped("ldap.yaml"), "standalone"));
}

TEST(ShippedConfig, EdgeAndConnectorPassCheckOnceTheirCertificatesExist) {
  // A copy of the configuration files, so that certificates are created next to them as documented.
  TempDir work;
  const fs::path config_dir = work.path() / "config";
  fs::create_directories(config_dir);
  for (const char* name : {"edge.yaml", "connector.yaml"}) fs::copy_file(shipped(name), config_dir / name);

  // Without certificates the edge cannot start, and check says which file is missing.
  CommandResult before = run_gatewayd({"check", "--config", (config_dir / "edge.yaml").string()});
  ASSERT_TRUE(before.status);
  EXPECT_FALSE(before.status->success()) << before.out;
  EXPECT_NE(before.err.find("certs/"), std::string::npos) << before.err;

  // The commands edge.yaml's comments tell the reader to run, from the directory above config/.
  auto commands = certs_commands_in_comments(config_dir / "edge.yaml");
  ASSERT_GE(commands.size(), 3u) << "edge.yaml no longer explains how to create its certificates";
  for (const auto& args : commands) {
    std::vector<std::string> argv{gatewayd_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    ChildProcess certs(argv, work.path().string());
    auto status = certs.wait_for_exit();
    ASSERT_TRUE(status);
    ASSERT_TRUE(status->success()) << "gatewayd " << args[0] << " " << args[1] << ": " << *status << "\n"
                                   << certs.text();
  }

  EXPECT_TRUE(passes_check(config_dir / "edge.yaml", "edge"));
  EXPECT_TRUE(passes_check(config_dir / "connector.yaml", "connector"));
}

}  // namespace
}  // namespace gw::e2e
