// The configuration reader (YAML through yaml-cpp, then gatewayd's schema): any text either gives a
// configuration or config::Problems, each naming the file; nothing else escapes.
#include "config/config.hpp"
#include "fuzz/config_problems.hpp"

GW_FUZZ_TARGET(config) {
  try {
    (void)gw::config::parse_config(gw::fuzz::text(data, size), "fuzz.yaml");
  } catch (const gw::config::Problems& problems) {
    gw::fuzz::check_problems(problems, "fuzz.yaml");
  }
  return 0;
}
