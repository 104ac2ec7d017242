// The plugin manifest reader: any text either gives a manifest or config::Problems naming the file.
#include "fuzz/config_problems.hpp"
#include "plugins/manifest.hpp"

GW_FUZZ_TARGET(manifest) {
  try {
    (void)gw::plugins::parse_manifest(gw::fuzz::text(data, size), "fuzz-manifest.yaml");
  } catch (const gw::config::Problems& problems) {
    gw::fuzz::check_problems(problems, "fuzz-manifest.yaml");
  }
  return 0;
}
