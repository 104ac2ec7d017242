// The plugin loader against real shared libraries built for each refusal case (tests/plugins).
#include <gtest/gtest.h>

#include <filesystem>

#include "gateway/plugin/abi.hpp"
#include "plugins/loader.hpp"
#include "support/test_host.hpp"

namespace fs = std::filesystem;
using namespace gw;

namespace {

// What the loader says of a plugin built for the API after this gateway's (the test plugins' case).
std::string other_api_refusal() {
  return "built for plugin API " + std::to_string(gw::kPluginApiVersion + 1) + ", this gateway speaks " +
         std::to_string(gw::kPluginApiVersion);
}

class LoaderTest : public ::testing::Test {
 protected:
  test::TestHost test_host;
  host::MetricsRegistry& metrics = test_host.metrics;
  host::HostServices& host = test_host.services;

  // Loads one case directory and returns its registry.
  std::unique_ptr<plugins::PluginRegistry> load(
      const std::string& dir, std::optional<std::vector<std::string>> allow = std::nullopt) {
    auto registry = std::make_unique<plugins::PluginRegistry>(host);
    registry->load({fs::path(GW_TEST_PLUGIN_DIR) / dir}, allow);
    return registry;
  }

  static const plugins::PluginReport& only_report(const plugins::PluginRegistry& registry) {
    EXPECT_EQ(registry.reports().size(), 1u);
    return registry.reports().front();
  }
};

TEST_F(LoaderTest, LoadsAGoodPluginAndRegistersItsRouteType) {
  auto registry = load("good");
  const auto& report = only_report(*registry);
  EXPECT_TRUE(report.loaded) << report.refusal;
  ASSERT_NE(registry->plugin_for("probe"), nullptr);
  EXPECT_EQ(registry->manifest_for("probe")->name, "probe");
  EXPECT_EQ(registry->plugin_for("nosuch"), nullptr);
}

TEST_F(LoaderTest, TheInTreeTcpPluginLoads) {
  auto registry = std::make_unique<plugins::PluginRegistry>(host);
  registry->load({GW_PLUGIN_DIR}, std::nullopt);
  ASSERT_NE(registry->plugin_for("tcp"), nullptr);
  EXPECT_TRUE(registry->manifest_for("tcp")->sha256.has_value());
}

TEST_F(LoaderTest, RefusesAWrongAbiTagNamingWhatDiffers) {
  auto registry = load("wrong-abi");
  const auto& report = only_report(*registry);
  EXPECT_FALSE(report.loaded);
  EXPECT_NE(report.refusal.find("ABI mismatch"), std::string::npos) << report.refusal;
  EXPECT_NE(report.refusal.find(other_api_refusal()), std::string::npos) << report.refusal;
  EXPECT_NE(report.refusal.find("compiler: plugin gcc-11"), std::string::npos) << report.refusal;
  EXPECT_NE(report.refusal.find("rebuild the plugin with this gateway's SDK"), std::string::npos);
  EXPECT_EQ(registry->plugin_for("probe"), nullptr);
}

TEST_F(LoaderTest, RefusesALibraryWithoutEntryPoint) {
  auto registry = load("missing-entry");
  const auto& report = only_report(*registry);
  EXPECT_FALSE(report.loaded);
  EXPECT_NE(report.refusal.find("exports no entry point gw_plugin_create"), std::string::npos)
      << report.refusal;
}

TEST_F(LoaderTest, RefusesAPluginThatThrowsWhileInitialising) {
  auto registry = load("throws");
  const auto& report = only_report(*registry);
  EXPECT_FALSE(report.loaded);
  EXPECT_NE(report.refusal.find("threw while initialising: probe cannot start: licence file missing"),
            std::string::npos)
      << report.refusal;
  EXPECT_EQ(registry->plugin_for("probe"), nullptr);
}

TEST_F(LoaderTest, RefusesASecondPluginWithTheSameRouteType) {
  auto registry = load("duplicate");
  ASSERT_EQ(registry->reports().size(), 2u);
  EXPECT_TRUE(registry->reports()[0].loaded);
  EXPECT_FALSE(registry->reports()[1].loaded);
  EXPECT_NE(
      registry->reports()[1].refusal.find("route type 'probe' is already registered by plugin 'probe-a'"),
      std::string::npos)
      << registry->reports()[1].refusal;
  EXPECT_EQ(registry->manifest_for("probe")->name, "probe-a");
}

TEST_F(LoaderTest, RefusesAManifestNamingAMissingLibrary) {
  auto registry = load("missing-library");
  const auto& report = only_report(*registry);
  EXPECT_FALSE(report.loaded);
  EXPECT_NE(report.refusal.find("libnot_built.so named by the manifest does not exist"), std::string::npos)
      << report.refusal;
}

TEST_F(LoaderTest, RefusesACorruptLibrary) {
  auto registry = load("corrupt");
  const auto& report = only_report(*registry);
  EXPECT_FALSE(report.loaded);
  EXPECT_NE(report.refusal.find("cannot load"), std::string::npos) << report.refusal;
  EXPECT_NE(report.refusal.find("libcorrupt.so"), std::string::npos) << report.refusal;
}

TEST_F(LoaderTest, RefusesALibraryWhoseSha256DiffersFromTheManifest) {
  auto registry = load("sha-mismatch");
  const auto& report = only_report(*registry);
  EXPECT_FALSE(report.loaded);
  EXPECT_NE(report.refusal.find("SHA-256 of"), std::string::npos) << report.refusal;
  EXPECT_NE(report.refusal.find("manifest pins 0000"), std::string::npos) << report.refusal;
}

TEST_F(LoaderTest, RefusesAManifestForAnotherPluginApi) {
  auto registry = load("manifest-api");
  const auto& report = only_report(*registry);
  EXPECT_FALSE(report.loaded);
  EXPECT_NE(report.refusal.find(other_api_refusal()), std::string::npos) << report.refusal;
}

TEST_F(LoaderTest, RefusesAnInvalidManifestWithItsPosition) {
  auto registry = load("invalid-manifest");
  const auto& report = only_report(*registry);
  EXPECT_FALSE(report.loaded);
  EXPECT_FALSE(report.manifest.has_value());
  EXPECT_NE(report.refusal.find("invalid manifest"), std::string::npos) << report.refusal;
  EXPECT_NE(report.refusal.find("probe.plugin.yaml:1:"), std::string::npos) << report.refusal;
}

TEST_F(LoaderTest, HonoursTheAllowList) {
  auto registry = load("good", std::vector<std::string>{"other"});
  const auto& report = only_report(*registry);
  EXPECT_FALSE(report.loaded);
  EXPECT_EQ(report.refusal, "not in plugins.allow");
}

TEST_F(LoaderTest, ReportsAMissingPluginPath) {
  auto registry = load("no-such-directory");
  EXPECT_TRUE(registry->reports().empty());
  ASSERT_EQ(registry->path_problems().size(), 1u);
  EXPECT_NE(registry->path_problems()[0].find("is not a directory"), std::string::npos);
}

TEST(AbiTag, MatchingTagsHaveNoMismatch) {
  EXPECT_EQ(plugins::abi_mismatch(kPluginAbiTag, kPluginAbiTag), "");
}

TEST(AbiTag, NamesEveryDifferingKey) {
  auto diff =
      plugins::abi_mismatch("api=1;compiler=clang-14;boost=107500", "api=1;compiler=gcc-12;boost=107400");
  EXPECT_NE(diff.find("compiler: plugin clang-14, gateway gcc-12"), std::string::npos) << diff;
  EXPECT_NE(diff.find("boost: plugin 107500, gateway 107400"), std::string::npos) << diff;
  EXPECT_EQ(diff.find("api"), std::string::npos) << diff;
}

TEST(AbiTag, GarbageTagIsAMismatch) {
  EXPECT_FALSE(plugins::abi_mismatch("", kPluginAbiTag).empty());
  EXPECT_FALSE(plugins::abi_mismatch("\x01\x02;;==", kPluginAbiTag).empty());
}

}  // namespace
