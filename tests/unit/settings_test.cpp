#include "config/settings.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/config.hpp"

#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using gw::Settings;
using gw::config::Position;
using gw::config::Problem;
using gw::config::SettingSchema;
using gw::config::SettingType;
using namespace std::chrono_literals;

using gw::testing::TempDir;

// Sets an environment variable for the life of the object.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value) : name_(std::move(name)) {
    ::setenv(name_.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name_.c_str()); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
};

SettingSchema setting(std::string name, SettingType type) {
  SettingSchema schema;
  schema.name = std::move(name);
  schema.type = type;
  return schema;
}

const std::string kFile = "/srv/gateway/gateway.yaml";
const Position kParent{kFile, 10, 5};

struct Resolved {
  Settings settings;
  std::vector<Problem> problems;
};

// `text` is the settings mapping as it would appear in a file, starting on line 1.
Resolved resolve(const std::string& text, const std::vector<SettingSchema>& schema,
                 const std::string& file = kFile) {
  Resolved out;
  const YAML::Node node = text.empty() ? YAML::Node() : YAML::Load(text);
  out.problems = gw::config::resolve_settings(node, schema, file, kParent, "destinations[1]", out.settings);
  return out;
}

std::string all_messages(const std::vector<Problem>& problems) {
  std::string out;
  for (const auto& p : problems) out += p.str() + "\n";
  return out;
}

std::vector<SettingSchema> typical_schema() {
  auto nodelay = setting("nodelay", SettingType::boolean);
  nodelay.default_value = true;
  auto retries = setting("retries", SettingType::integer);
  retries.min = 0;
  retries.max = 10;
  retries.default_value = std::int64_t{3};
  auto mode = setting("mode", SettingType::string);
  mode.values = {"fast", "safe"};
  auto timeout = setting("timeout", SettingType::duration);
  timeout.min = 100;
  timeout.max = 60000;
  auto window = setting("window", SettingType::size);
  window.max = 1024 * 1024;
  auto label = setting("label", SettingType::string);
  return {nodelay, retries, mode, timeout, window, label};
}

TEST(PluginSettings, NullNodeGivesDefaults) {
  const auto result = resolve("", typical_schema());
  EXPECT_TRUE(result.problems.empty()) << all_messages(result.problems);
  EXPECT_TRUE(result.settings.get_bool("nodelay"));
  EXPECT_EQ(result.settings.get_int("retries"), 3);
  EXPECT_FALSE(result.settings.has("mode"));
  EXPECT_FALSE(result.settings.has("timeout"));
  EXPECT_EQ(result.settings.values().size(), 2u);
}

TEST(PluginSettings, GivenValuesOfEveryType) {
  const auto result = resolve(R"(nodelay: false
retries: 10
mode: safe
timeout: 1m
window: 64KiB
label: "123"
)",
                              typical_schema());
  EXPECT_TRUE(result.problems.empty()) << all_messages(result.problems);
  EXPECT_FALSE(result.settings.get_bool("nodelay"));
  EXPECT_EQ(result.settings.get_int("retries"), 10);
  EXPECT_EQ(result.settings.get_string("mode"), "safe");
  EXPECT_EQ(result.settings.get_duration("timeout"), 1min);
  EXPECT_EQ(result.settings.get_int("window"), 65536);
  EXPECT_EQ(result.settings.get_string("label"), "123");
}

TEST(PluginSettings, WrongTypesAndRanges) {
  const auto result = resolve(R"(nodelay: maybe
retries: 11
mode: reckless
timeout: 50ms
window: 2MiB
label: [a]
)",
                              typical_schema());
  ASSERT_EQ(result.problems.size(), 6u) << all_messages(result.problems);
  const auto& p = result.problems;
  EXPECT_EQ(p[0].key, "destinations[1].settings.nodelay");
  EXPECT_EQ(p[0].where.file, kFile);
  EXPECT_EQ(p[0].where.line, 1);
  EXPECT_EQ(p[0].where.column, 10);
  EXPECT_EQ(p[0].message, "expected true or false, got 'maybe'");
  EXPECT_EQ(p[1].key, "destinations[1].settings.retries");
  EXPECT_EQ(p[1].where.line, 2);
  EXPECT_EQ(p[1].message, "expected an integer from 0 to 10, got '11'");
  EXPECT_EQ(p[2].where.line, 3);
  EXPECT_EQ(p[2].message, "expected one of 'fast', 'safe', got 'reckless'");
  EXPECT_EQ(p[3].where.line, 4);
  EXPECT_EQ(p[3].message, "must be at least 100ms, got '50ms'");
  EXPECT_EQ(p[4].where.line, 5);
  EXPECT_EQ(p[4].message, "must be at most 1MiB, got '2MiB'");
  EXPECT_EQ(p[5].where.line, 6);
  EXPECT_EQ(p[5].message, "expected a string, got a list");
  EXPECT_FALSE(result.settings.has("retries") && result.settings.get_int("retries") == 11);
}

TEST(PluginSettings, UnknownKey) {
  const auto result = resolve("nodelay: true\nno_delay: true\n", typical_schema());
  ASSERT_EQ(result.problems.size(), 1u);
  EXPECT_EQ(result.problems[0].key, "destinations[1].settings.no_delay");
  EXPECT_EQ(result.problems[0].where.line, 2);
  EXPECT_EQ(result.problems[0].message,
            "unknown key 'no_delay' (expected one of: nodelay, retries, mode, timeout, window, label)");

  const auto none = resolve("anything: 1\n", {});
  ASSERT_EQ(none.problems.size(), 1u);
  EXPECT_EQ(none.problems[0].message, "unknown key 'anything' (no keys are expected here)");
}

TEST(PluginSettings, NotAMapping) {
  const auto result = resolve("[nodelay]\n", typical_schema());
  ASSERT_EQ(result.problems.size(), 1u);
  EXPECT_EQ(result.problems[0].key, "destinations[1].settings");
  EXPECT_EQ(result.problems[0].message, "expected a mapping, got a list");
}

TEST(PluginSettings, MissingRequiredSetting) {
  auto token = setting("token", SettingType::string);
  token.required = true;
  auto result = resolve("", {token});
  ASSERT_EQ(result.problems.size(), 1u);
  EXPECT_EQ(result.problems[0].key, "destinations[1].settings.token");
  EXPECT_EQ(result.problems[0].where.line, kParent.line);
  EXPECT_EQ(result.problems[0].message, "missing required setting 'token'");

  result = resolve("\n\nother: 1\n", {token, setting("other", SettingType::integer)});
  ASSERT_EQ(result.problems.size(), 1u);
  EXPECT_EQ(result.problems[0].where.line, 3);
}

TEST(PluginSettings, PlainSecret) {
  const auto result = resolve("password: hunter2\n", {setting("password", SettingType::secret)});
  EXPECT_TRUE(result.problems.empty());
  EXPECT_EQ(result.settings.get_string("password"), "hunter2");
}

TEST(PluginSettings, SecretFromEnvironment) {
  const std::string name = "GW_SETTINGS_TEST_SECRET_" + std::to_string(::getpid());
  ScopedEnv env(name, "s3cr3t-from-env");
  const auto result = resolve("password: {env: " + name + "}\n", {setting("password", SettingType::secret)});
  EXPECT_TRUE(result.problems.empty()) << all_messages(result.problems);
  EXPECT_EQ(result.settings.get_string("password"), "s3cr3t-from-env");
}

TEST(PluginSettings, SecretFromUnsetEnvironmentVariable) {
  const std::string name = "GW_SETTINGS_TEST_UNSET_" + std::to_string(::getpid());
  ::unsetenv(name.c_str());
  const auto result = resolve("password:\n  env: " + name + "\n", {setting("password", SettingType::secret)});
  ASSERT_EQ(result.problems.size(), 1u);
  EXPECT_EQ(result.problems[0].key, "destinations[1].settings.password.env");
  EXPECT_EQ(result.problems[0].where.line, 2);
  EXPECT_EQ(result.problems[0].message, "environment variable " + name + " is not set");
  EXPECT_FALSE(result.settings.has("password"));
}

TEST(PluginSettings, SecretFromFileRelativeToTheConfigFile) {
  TempDir dir;
  dir.write("secrets/token", "tok-en\n\n");
  dir.write("secrets/plain", "no-newline");
  const std::string config_file = (dir.path() / "gateway.yaml").string();
  auto schema = std::vector<SettingSchema>{setting("token", SettingType::secret),
                                           setting("plain", SettingType::secret)};
  const auto result = resolve(
      "token: {file: secrets/token}\nplain: {file: " + (dir.path() / "secrets/plain").string() + "}\n",
      schema, config_file);
  EXPECT_TRUE(result.problems.empty()) << all_messages(result.problems);
  // Exactly one trailing newline is removed.
  EXPECT_EQ(result.settings.get_string("token"), "tok-en\n");
  EXPECT_EQ(result.settings.get_string("plain"), "no-newline");
}

TEST(PluginSettings, UnreadableSecretFile) {
  TempDir dir;
  const std::string config_file = (dir.path() / "gateway.yaml").string();
  const auto result =
      resolve("token: {file: missing}\n", {setting("token", SettingType::secret)}, config_file);
  ASSERT_EQ(result.problems.size(), 1u);
  EXPECT_EQ(result.problems[0].key, "destinations[1].settings.token.file");
  EXPECT_EQ(result.problems[0].where.line, 1);
  EXPECT_EQ(result.problems[0].message, "secret file " + (dir.path() / "missing").string() +
                                            ": cannot read the file: No such file or directory");
}

TEST(PluginSettings, SecretFormsThatAreWrong) {
  const std::vector<SettingSchema> schema{setting("token", SettingType::secret)};
  auto result = resolve("token: {env: A, file: b}\n", schema);
  ASSERT_EQ(result.problems.size(), 1u);
  EXPECT_EQ(result.problems[0].message,
            "expected a string, {env: NAME} or {file: PATH} (exactly one of env and file)");

  result = resolve("token: {vault: kv/token}\n", schema);
  ASSERT_EQ(result.problems.size(), 2u);
  EXPECT_EQ(result.problems[0].key, "destinations[1].settings.token");
  EXPECT_EQ(result.problems[1].key, "destinations[1].settings.token.vault");

  result = resolve("token: [a]\n", schema);
  ASSERT_EQ(result.problems.size(), 1u);
  EXPECT_EQ(result.problems[0].message, "expected a string, {env: NAME} or {file: PATH}, got a list");

  result = resolve("token: {env: \"not a name\"}\n", schema);
  ASSERT_EQ(result.problems.size(), 1u);
  EXPECT_EQ(result.problems[0].key, "destinations[1].settings.token.env");
}

TEST(PluginSettings, SecretValuesNeverAppearInProblems) {
  TempDir dir;
  dir.write("token", "TOPSECRET-FILE\n");
  const std::string name = "GW_SETTINGS_TEST_LEAK_" + std::to_string(::getpid());
  ScopedEnv env(name, "TOPSECRET-ENV");
  const std::string config_file = (dir.path() / "gateway.yaml").string();
  auto schema =
      std::vector<SettingSchema>{setting("a", SettingType::secret), setting("b", SettingType::secret),
                                 setting("c", SettingType::secret), setting("n", SettingType::integer)};
  const auto result =
      resolve("a: {file: token}\nb: {env: " + name + "}\nc: TOPSECRET-PLAIN\nn: x\nd: TOPSECRET-UNKNOWN\n",
              schema, config_file);
  ASSERT_EQ(result.problems.size(), 2u);
  EXPECT_EQ(all_messages(result.problems).find("TOPSECRET"), std::string::npos)
      << all_messages(result.problems);
}

TEST(PluginSettings, FromAConfigFile) {
  const auto config = gw::config::parse_config(R"(destinations:
  - name: demo
    route_type: tcp
    address: 127.0.0.1:7000
    entry_point: {listen: "127.0.0.1:0"}
    settings:
      nodelay: sometimes
)",
                                               kFile);
  const auto& destination = config.destinations.at(0);
  Settings settings;
  auto nodelay = setting("nodelay", SettingType::boolean);
  nodelay.default_value = true;
  const auto problems = gw::config::resolve_settings(destination.settings, {nodelay}, kFile,
                                                     destination.position, destination.key, settings);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].str(),
            "/srv/gateway/gateway.yaml:7:16: destinations[0].settings.nodelay: expected true or false, got "
            "'sometimes'");
}

std::vector<SettingSchema> resources_schema() {
  auto path = setting("path", SettingType::string);
  path.required = true;
  auto match = setting("match", SettingType::string);
  match.values = {"exact", "prefix"};
  match.default_value = std::string("prefix");
  auto methods = setting("methods", SettingType::list);
  methods.values = {"GET", "POST"};
  auto token = setting("token", SettingType::secret);
  auto resources = setting("resources", SettingType::records);
  resources.fields = {path, match, methods, token};
  auto tags = setting("tags", SettingType::list);
  tags.default_value = Settings::List{"a"};
  return {resources, tags};
}

TEST(PluginSettings, ListsAndRecords) {
  ScopedEnv env("GW_SETTINGS_TEST_TOKEN", "s3cret");
  const auto result = resolve(R"(resources:
  - {path: /api, methods: [GET]}
  - path: /admin
    match: exact
    token: {env: GW_SETTINGS_TEST_TOKEN}
tags: [x, y]
)",
                              resources_schema());
  ASSERT_TRUE(result.problems.empty()) << all_messages(result.problems);
  const auto& records = result.settings.get_records("resources");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].get_string("path"), "/api");
  EXPECT_EQ(records[0].get_string("match"), "prefix");  // the record field's default
  EXPECT_EQ(records[0].get_list("methods"), (Settings::List{"GET"}));
  EXPECT_FALSE(records[0].has("token"));
  EXPECT_EQ(records[1].get_string("match"), "exact");
  EXPECT_FALSE(records[1].has("methods"));
  EXPECT_EQ(records[1].get_string("token"), "s3cret");
  EXPECT_EQ(result.settings.get_list("tags"), (Settings::List{"x", "y"}));
}

TEST(PluginSettings, ListDefaultAndAbsentRecords) {
  const auto result = resolve("", resources_schema());
  ASSERT_TRUE(result.problems.empty()) << all_messages(result.problems);
  EXPECT_FALSE(result.settings.has("resources"));
  EXPECT_EQ(result.settings.get_list("tags"), (Settings::List{"a"}));
}

TEST(PluginSettings, BadListsAndRecordsNameTheItem) {
  const auto result = resolve(R"(resources:
  - {methods: [GET, DELETE]}
  - just-a-string
  - {path: /x, colour: red}
tags: {a: b}
)",
                              resources_schema());
  ASSERT_EQ(result.problems.size(), 5u) << all_messages(result.problems);
  const auto& p = result.problems;
  EXPECT_EQ(p[0].key, "destinations[1].settings.resources[0].path");
  EXPECT_NE(p[0].message.find("missing required setting"), std::string::npos);
  EXPECT_EQ(p[1].key, "destinations[1].settings.resources[0].methods[1]");
  EXPECT_NE(p[1].message.find("DELETE"), std::string::npos) << p[1].message;
  EXPECT_EQ(p[2].key, "destinations[1].settings.resources[1]");
  EXPECT_EQ(p[2].where.line, 3);
  EXPECT_EQ(p[3].key, "destinations[1].settings.resources[2].colour");
  EXPECT_EQ(p[4].key, "destinations[1].settings.tags");
}

}  // namespace
