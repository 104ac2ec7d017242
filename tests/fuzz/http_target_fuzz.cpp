// The connector's request-target normalisation (path_policy.hpp): an accepted target's canonical
// form normalises to itself (the backend sees exactly the path the policy checked), and holds no dot
// segment, repeated slash, backslash or control byte.
#include "fuzz/fuzz_target.hpp"
#include "path_policy.hpp"

GW_FUZZ_TARGET(http_target) {
  std::string error;
  const auto normalized = gw::http::normalize_target(gw::fuzz::text(data, size), error);
  if (!normalized) {
    if (error.empty()) gw::fuzz::fail("refused without a reason");
    for (char c : error) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
        gw::fuzz::fail("a raw request byte in an error text");
      }
    }
    return 0;
  }
  const std::string& path = normalized->path;
  if (path.empty() || path.front() != '/') gw::fuzz::fail("a path that does not start with '/'");
  if (path.find("//") != std::string::npos) gw::fuzz::fail("a repeated slash left in " + path);
  if (path.find("/./") != std::string::npos || path.find("/../") != std::string::npos ||
      path.ends_with("/.") || path.ends_with("/..")) {
    gw::fuzz::fail("a dot segment left in " + path);
  }
  if (path.find('\\') != std::string::npos) gw::fuzz::fail("a backslash left in the path");
  const std::string forward = normalized->forward_target();
  const auto again = gw::http::normalize_target(forward, error);
  if (!again) gw::fuzz::fail("the canonical target " + forward + " is refused: " + error);
  if (!(*again == *normalized)) gw::fuzz::fail("the canonical target " + forward + " normalises differently");
  if (again->forward_target() != forward) gw::fuzz::fail("the canonical target is not stable: " + forward);
  return 0;
}
