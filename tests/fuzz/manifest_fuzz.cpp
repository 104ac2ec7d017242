// The plugin manifest reader: any text either gives a manifest or config::Problems naming the file.
#include "config/problem.hpp"
#include "fuzz/fuzz_target.hpp"
#include "plugins/manifest.hpp"

GW_FUZZ_TARGET(manifest) {
  try {
    (void)gw::plugins::parse_manifest(gw::fuzz::text(data, size), "fuzz-manifest.yaml");
  } catch (const gw::config::Problems& problems) {
    if (problems.problems().empty()) gw::fuzz::fail("Problems thrown with no problem in it");
    for (const auto& problem : problems.problems()) {
      if (problem.where.file != "fuzz-manifest.yaml") {
        gw::fuzz::fail("a problem that does not name its file: " + problem.str());
      }
    }
  }
  return 0;
}
