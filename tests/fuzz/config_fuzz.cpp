// The configuration reader (YAML through yaml-cpp, then gatewayd's schema): any text either gives a
// configuration or config::Problems, each naming the file; nothing else escapes.
#include "config/config.hpp"
#include "config/problem.hpp"
#include "fuzz/fuzz_target.hpp"

GW_FUZZ_TARGET(config) {
  try {
    (void)gw::config::parse_config(gw::fuzz::text(data, size), "fuzz.yaml");
  } catch (const gw::config::Problems& problems) {
    if (problems.problems().empty()) gw::fuzz::fail("Problems thrown with no problem in it");
    for (const auto& problem : problems.problems()) {
      if (problem.where.file != "fuzz.yaml")
        gw::fuzz::fail("a problem that does not name its file: " + problem.str());
      if (problem.message.empty()) gw::fuzz::fail("a problem without a message: " + problem.str());
    }
  }
  return 0;
}
