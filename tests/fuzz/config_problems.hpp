// For the targets of the configuration and manifest readers: what they throw must name the file and
// say what is wrong.
#pragma once

#include <string>

#include "config/problem.hpp"
#include "fuzz/fuzz_target.hpp"

namespace gw::fuzz {

inline void check_problems(const config::Problems& problems, const std::string& file) {
  if (problems.problems().empty()) fail("Problems thrown with no problem in it");
  for (const auto& problem : problems.problems()) {
    if (problem.where.file != file) fail("a problem that does not name its file: " + problem.str());
    if (problem.message.empty()) fail("a problem without a message: " + problem.str());
  }
}

}  // namespace gw::fuzz
