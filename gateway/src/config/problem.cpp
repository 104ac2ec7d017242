#include "config/problem.hpp"

#include <utility>

namespace gw::config {

std::string Problem::str() const {
  std::string out;
  if (!where.file.empty()) out += where.file;
  if (where.line > 0) {
    if (!out.empty()) out += ':';
    out += std::to_string(where.line);
    if (where.column > 0) out += ':' + std::to_string(where.column);
  }
  if (!key.empty()) {
    if (!out.empty()) out += ": ";
    out += key;
  }
  if (!out.empty()) out += ": ";
  out += message;
  return out;
}

namespace {

std::string join_problems(const std::vector<Problem>& problems) {
  std::string out;
  for (const auto& problem : problems) {
    if (!out.empty()) out += '\n';
    out += problem.str();
  }
  return out;
}

}  // namespace

Problems::Problems(std::vector<Problem> problems)
    : std::runtime_error(join_problems(problems)), problems_(std::move(problems)) {}

}  // namespace gw::config
