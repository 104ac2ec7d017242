#include "plugins/manifest.hpp"

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
using gw::config::Problem;
using gw::config::Problems;
using gw::config::SettingType;
using gw::plugins::Manifest;
using namespace std::chrono_literals;

const fs::path kManifestFile = "/opt/gatewayd/plugins/tcp.plugin.yaml";

using gw::testing::TempDir;

std::vector<Problem> problems_of(std::string_view text) {
  try {
    gw::plugins::parse_manifest(text, kManifestFile);
  } catch (const Problems& problems) {
    return problems.problems();
  }
  return {};
}

std::string all_messages(const std::vector<Problem>& problems) {
  std::string out;
  for (const auto& p : problems) out += p.str() + "\n";
  return out;
}

Problem only_problem(std::string_view text) {
  const auto problems = problems_of(text);
  EXPECT_EQ(problems.size(), 1u) << all_messages(problems);
  return problems.empty() ? Problem{} : problems.front();
}

// Lines 1-5; tests append from line 6 on.
const std::string kMinimal = R"(name: tcp
version: 1.0.0
plugin_api: 1
library: libgateway_plugin_tcp.so
route_types: [tcp]
)";

TEST(ManifestReader, Minimal) {
  const Manifest manifest = gw::plugins::parse_manifest(kMinimal, kManifestFile);
  EXPECT_EQ(manifest.file, kManifestFile);
  EXPECT_EQ(manifest.name, "tcp");
  EXPECT_EQ(manifest.version, "1.0.0");
  EXPECT_EQ(manifest.description, "");
  EXPECT_EQ(manifest.plugin_api, 1);
  EXPECT_EQ(manifest.library, fs::path("/opt/gatewayd/plugins/libgateway_plugin_tcp.so"));
  EXPECT_FALSE(manifest.sha256.has_value());
  EXPECT_EQ(manifest.route_types, std::vector<std::string>{"tcp"});
  EXPECT_TRUE(manifest.settings.empty());
}

TEST(ManifestReader, Full) {
  const Manifest manifest = gw::plugins::parse_manifest(R"(name: my-proto_2
version: "2.1"
description: Raw TCP relay
plugin_api: 3
library: lib/./libproto.so
sha256: 3B1F00000000000000000000000000000000000000000000000000000000ABCD
route_types: [proto, proto-tls]
settings:
  nodelay: {type: bool, default: true, description: TCP_NODELAY on both sockets}
  retries: {type: int, min: 0, max: 5, default: 2}
  mode: {type: string, values: [fast, safe], default: safe}
  timeout: {type: duration, min: 100ms, max: 1m, default: 5s}
  window: {type: size, max: 1MiB, default: 64KiB}
  token: {type: secret, required: true}
)",
                                                        kManifestFile);
  EXPECT_EQ(manifest.name, "my-proto_2");
  EXPECT_EQ(manifest.version, "2.1");
  EXPECT_EQ(manifest.description, "Raw TCP relay");
  EXPECT_EQ(manifest.plugin_api, 3);
  EXPECT_EQ(manifest.library, fs::path("/opt/gatewayd/plugins/lib/libproto.so"));
  ASSERT_TRUE(manifest.sha256.has_value());
  EXPECT_EQ(*manifest.sha256, "3b1f00000000000000000000000000000000000000000000000000000000abcd");
  EXPECT_EQ(manifest.route_types, (std::vector<std::string>{"proto", "proto-tls"}));

  ASSERT_EQ(manifest.settings.size(), 6u);
  const auto& nodelay = manifest.settings[0];
  EXPECT_EQ(nodelay.name, "nodelay");
  EXPECT_EQ(nodelay.type, SettingType::boolean);
  EXPECT_FALSE(nodelay.required);
  ASSERT_TRUE(nodelay.default_value.has_value());
  EXPECT_EQ(std::get<bool>(*nodelay.default_value), true);
  EXPECT_EQ(nodelay.description, "TCP_NODELAY on both sockets");

  const auto& retries = manifest.settings[1];
  EXPECT_EQ(retries.type, SettingType::integer);
  EXPECT_EQ(retries.min, 0);
  EXPECT_EQ(retries.max, 5);
  EXPECT_EQ(std::get<std::int64_t>(*retries.default_value), 2);

  const auto& mode = manifest.settings[2];
  EXPECT_EQ(mode.type, SettingType::string);
  EXPECT_EQ(mode.values, (std::vector<std::string>{"fast", "safe"}));
  EXPECT_EQ(std::get<std::string>(*mode.default_value), "safe");

  const auto& timeout = manifest.settings[3];
  EXPECT_EQ(timeout.type, SettingType::duration);
  EXPECT_EQ(timeout.min, 100);
  EXPECT_EQ(timeout.max, 60000);
  EXPECT_EQ(std::get<std::chrono::milliseconds>(*timeout.default_value), 5s);

  const auto& window = manifest.settings[4];
  EXPECT_EQ(window.type, SettingType::size);
  EXPECT_EQ(window.max, 1024 * 1024);
  EXPECT_EQ(std::get<std::int64_t>(*window.default_value), 65536);

  const auto& token = manifest.settings[5];
  EXPECT_EQ(token.type, SettingType::secret);
  EXPECT_TRUE(token.required);
  EXPECT_FALSE(token.default_value.has_value());
}

TEST(ManifestReader, LoadResolvesTheLibraryAgainstTheManifestsDirectory) {
  TempDir dir;
  const fs::path file = dir.write("plugins/tcp.plugin.yaml", kMinimal);
  const Manifest manifest = gw::plugins::load_manifest(file);
  EXPECT_EQ(manifest.library, (dir.path() / "plugins/libgateway_plugin_tcp.so").lexically_normal());
  EXPECT_TRUE(manifest.file.is_absolute());
}

TEST(ManifestReader, MissingFile) {
  TempDir dir;
  try {
    gw::plugins::load_manifest(dir.path() / "none.plugin.yaml");
    FAIL() << "expected Problems";
  } catch (const Problems& problems) {
    ASSERT_EQ(problems.problems().size(), 1u);
    EXPECT_EQ(problems.problems()[0].where.line, 0);
    EXPECT_NE(problems.problems()[0].message.find("cannot read the file"), std::string::npos);
  }
}

TEST(ManifestReader, MissingRequiredFields) {
  const auto problems = problems_of("description: nothing else\n");
  ASSERT_EQ(problems.size(), 5u) << all_messages(problems);
  for (const char* key : {"name", "version", "plugin_api", "library", "route_types"}) {
    EXPECT_TRUE(std::any_of(problems.begin(), problems.end(), [&](const Problem& p) {
      return p.key == key && p.message == "missing required key '" + std::string(key) + "'";
    })) << key;
  }
}

TEST(ManifestReader, BadName) {
  for (const char* name : {"Tcp", "1tcp", "tc p", "-tcp", "\"\""}) {
    const auto problem =
        only_problem(std::string("name: ") + name + "\n" + kMinimal.substr(kMinimal.find('\n') + 1));
    EXPECT_EQ(problem.key, "name") << name;
    EXPECT_EQ(problem.where.line, 1);
  }
  const auto problem =
      only_problem("name: " + std::string(65, 'a') + "\n" + kMinimal.substr(kMinimal.find('\n') + 1));
  EXPECT_EQ(problem.key, "name");
}

TEST(ManifestReader, EmptyVersion) {
  const auto problem = only_problem(R"(name: tcp
version: ""
plugin_api: 1
library: libx.so
route_types: [tcp]
)");
  EXPECT_EQ(problem.key, "version");
  EXPECT_EQ(problem.where.line, 2);
  EXPECT_EQ(problem.message, "must not be empty");
}

TEST(ManifestReader, PluginApiMustBeAPositiveInteger) {
  for (const char* value : {"0", "-1", "one", "1.5", "99999999999999999999"}) {
    const auto problem = only_problem(std::string("name: tcp\nversion: 1\nplugin_api: ") + value +
                                      "\nlibrary: libx.so\nroute_types: [tcp]\n");
    EXPECT_EQ(problem.key, "plugin_api") << value;
    EXPECT_EQ(problem.where.line, 3);
    EXPECT_NE(problem.message.find("expected an integer from 1 to 2147483647"), std::string::npos) << value;
  }
}

TEST(ManifestReader, LibraryPath) {
  const std::string head = "name: tcp\nversion: 1\nplugin_api: 1\nroute_types: [tcp]\n";
  auto problem = only_problem(head + "library: /usr/lib/libx.so\n");
  EXPECT_EQ(problem.key, "library");
  EXPECT_EQ(problem.where.line, 5);
  EXPECT_EQ(
      problem.message,
      "expected a file name relative to the manifest's directory, got '/usr/lib/libx.so' (an absolute path)");

  problem = only_problem(head + "library: ../other/libx.so\n");
  EXPECT_NE(problem.message.find("'..' is not allowed"), std::string::npos);

  problem = only_problem(head + "library: lib/../../libx.so\n");
  EXPECT_NE(problem.message.find("'..' is not allowed"), std::string::npos);

  problem = only_problem(head + "library: \"\"\n");
  EXPECT_EQ(problem.key, "library");

  problem = only_problem(head + "library: lib/\n");
  EXPECT_NE(problem.message.find("names a directory"), std::string::npos);
}

TEST(ManifestReader, Sha256) {
  for (const char* value : {"abc", "zz00000000000000000000000000000000000000000000000000000000000000",
                            "00000000000000000000000000000000000000000000000000000000000000000"}) {
    const auto problem = only_problem(kMinimal + "sha256: " + value + "\n");
    EXPECT_EQ(problem.key, "sha256");
    EXPECT_EQ(problem.where.line, 6);
    EXPECT_NE(problem.message.find("64 hexadecimal digits"), std::string::npos);
  }
}

TEST(ManifestReader, RouteTypes) {
  const std::string head = "name: tcp\nversion: 1\nplugin_api: 1\nlibrary: libx.so\n";
  auto problem = only_problem(head + "route_types: []\n");
  EXPECT_EQ(problem.key, "route_types");
  EXPECT_EQ(problem.where.line, 5);
  EXPECT_EQ(problem.message, "expected at least one route type");

  problem = only_problem(head + "route_types: tcp\n");
  EXPECT_EQ(problem.message, "expected a list, got 'tcp'");

  problem = only_problem(head + "route_types:\n  - tcp\n  - tcp\n");
  EXPECT_EQ(problem.key, "route_types[1]");
  EXPECT_EQ(problem.where.line, 7);
  EXPECT_EQ(problem.message, "route type 'tcp' is listed twice");

  problem = only_problem(head + "route_types: [tcp, " + std::string(33, 'x') + "]\n");
  EXPECT_EQ(problem.key, "route_types[1]");
}

TEST(ManifestReader, UnknownKeys) {
  const auto problems =
      problems_of(kMinimal + "entry: main\nsettings:\n  nodelay: {type: bool, deafult: true}\n");
  ASSERT_EQ(problems.size(), 2u) << all_messages(problems);
  EXPECT_EQ(problems[0].key, "entry");
  EXPECT_EQ(problems[0].where.line, 6);
  EXPECT_EQ(problems[1].key, "settings.nodelay.deafult");
  EXPECT_EQ(problems[1].where.line, 8);
  EXPECT_EQ(problems[1].message,
            "unknown key 'deafult' (expected one of: type, default, required, min, max, values, description, "
            "fields)");
}

TEST(ManifestReader, SettingSchemaProblems) {
  const auto problems = problems_of(kMinimal + R"(settings:
  a: {type: float}
  b: {type: int, default: "x"}
  c: {type: int, min: 5, max: 1}
  d: {type: int, min: 1, max: 10, default: 11}
  e: {type: bool, min: 1}
  f: {type: string, values: [x, y], default: z}
  g: {type: secret, default: hunter2}
  h: {type: string, required: true, default: x}
  i: {type: duration, default: 5}
  j: {type: int, values: [a]}
  k: {default: 1}
  L: {type: bool}
  m: [type, bool]
)");
  ASSERT_EQ(problems.size(), 13u) << all_messages(problems);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"settings.a.type", "expected bool, int, string, duration, size, secret, list or records, got 'float'"},
      {"settings.b.default", "expected an integer, got 'x'"},
      {"settings.c.max", "max is less than min"},
      {"settings.d.default", "expected an integer from 1 to 10, got '11'"},
      {"settings.e.min", "min applies only to int, duration and size settings, not to bool"},
      {"settings.f.default", "expected one of 'x', 'y', got 'z'"},
      {"settings.g.default", "a secret setting cannot have a default"},
      {"settings.h.default", "a required setting cannot have a default"},
      {"settings.i.default",
       "expected a duration such as 5s or 250ms, got '5' (a unit is needed: ms, s, m or h)"},
      {"settings.j.values", "values applies only to string and list settings, not to int"},
      {"settings.k.type", "missing required key 'type'"},
      {"settings.L", ""},
      {"settings.m", "expected a mapping, got a list"},
  };
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(problems[i].key, expected[i].first) << i;
    EXPECT_EQ(problems[i].where.line, static_cast<int>(7 + i)) << i;
    if (!expected[i].second.empty()) {
      EXPECT_EQ(problems[i].message, expected[i].second) << i;
    }
  }
  EXPECT_EQ(all_messages(problems).find("hunter2"), std::string::npos);
}

TEST(ManifestReader, SettingDeclaredTwice) {
  const auto problem = only_problem(kMinimal + "settings:\n  a: {type: bool}\n  a: {type: int}\n");
  EXPECT_EQ(problem.key, "settings.a");
  EXPECT_EQ(problem.where.line, 8);
  EXPECT_EQ(problem.message, "setting 'a' is declared twice");
}

TEST(ManifestReader, SyntaxErrorAndWrongDocument) {
  auto problem = only_problem("name: [tcp\n");
  EXPECT_NE(problem.message.find("YAML syntax error"), std::string::npos);
  EXPECT_GE(problem.where.line, 1);

  problem = only_problem("just text\n");
  EXPECT_EQ(problem.where.line, 1);
  EXPECT_NE(problem.message.find("at the top level"), std::string::npos);

  problem = only_problem("");
  EXPECT_EQ(problem.message, "the file is empty");
}

TEST(ManifestReader, ManifestSchemaValidatesDestinationSettings) {
  const Manifest manifest = gw::plugins::parse_manifest(
      kMinimal + "settings:\n  nodelay: {type: bool, default: true}\n  window: {type: size, min: 1KiB}\n",
      kManifestFile);
  gw::Settings settings;
  auto problems =
      gw::config::resolve_settings(YAML::Load("window: 4KiB"), manifest.settings, "gw.yaml",
                                   gw::config::Position{"gw.yaml", 3, 5}, "destinations[0]", settings);
  EXPECT_TRUE(problems.empty()) << all_messages(problems);
  EXPECT_TRUE(settings.get_bool("nodelay"));
  EXPECT_EQ(settings.get_int("window"), 4096);

  gw::Settings rejected;
  problems = gw::config::resolve_settings(YAML::Load("window: 512"), manifest.settings, "gw.yaml",
                                          gw::config::Position{"gw.yaml", 3, 5}, "destinations[0]", rejected);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].message, "must be at least 1KiB, got '512'");
}

}  // namespace

namespace {

TEST(ManifestReader, ListAndRecordsSettings) {
  const Manifest manifest = gw::plugins::parse_manifest(R"(name: web
version: "1"
plugin_api: 3
library: libweb.so
route_types: [web]
settings:
  methods: {type: list, values: [GET, POST], default: [GET]}
  resources:
    type: records
    description: Paths the system admits
    fields:
      path: {type: string, required: true}
      methods: {type: list}
      enabled: {type: bool, default: true}
)",
                                                        kManifestFile);
  ASSERT_EQ(manifest.settings.size(), 2u);
  const auto& methods = manifest.settings[0];
  EXPECT_EQ(methods.type, SettingType::list);
  EXPECT_EQ(methods.values, (std::vector<std::string>{"GET", "POST"}));
  ASSERT_TRUE(methods.default_value.has_value());
  EXPECT_EQ(std::get<gw::Settings::List>(*methods.default_value), (gw::Settings::List{"GET"}));
  const auto& resources = manifest.settings[1];
  EXPECT_EQ(resources.type, SettingType::records);
  ASSERT_EQ(resources.fields.size(), 3u);
  EXPECT_EQ(resources.fields[0].name, "path");
  EXPECT_TRUE(resources.fields[0].required);
  EXPECT_EQ(resources.fields[1].type, SettingType::list);
  EXPECT_EQ(resources.fields[2].type, SettingType::boolean);
}

TEST(ManifestReader, BadRecordsSchemas) {
  const std::string head = "name: web\nversion: 1\nplugin_api: 3\nlibrary: libweb.so\nroute_types: [web]\n";
  const auto missing_fields = only_problem(head + "settings:\n  resources: {type: records}\n");
  EXPECT_EQ(missing_fields.key, "settings.resources.fields");
  const auto nested = only_problem(head +
                                   "settings:\n  resources:\n    type: records\n    fields:\n"
                                   "      inner: {type: records, fields: {a: {type: bool}}}\n");
  EXPECT_EQ(nested.key, "settings.resources.fields.inner");
  EXPECT_NE(nested.message.find("records cannot contain records"), std::string::npos);
  const auto stray = only_problem(head + "settings:\n  flag: {type: bool, fields: {a: {type: bool}}}\n");
  EXPECT_EQ(stray.key, "settings.flag.fields");
  const auto records_default =
      only_problem(head + "settings:\n  r: {type: records, fields: {a: {type: bool}}, default: []}\n");
  EXPECT_EQ(records_default.key, "settings.r.default");
  const auto bad_item = only_problem(head + "settings:\n  m: {type: list, values: [A], default: [B]}\n");
  EXPECT_EQ(bad_item.key, "settings.m.default[0]");
}

}  // namespace
