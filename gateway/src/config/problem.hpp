// Problems found while reading a configuration or manifest file, each with its position and key path,
// so that an operator can go straight to the line at fault. Readers collect every problem they find
// before giving up, rather than stopping at the first.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace gw::config {

struct Position {
  std::string file;
  int line = 0;  // 1-based; 0 when unknown (e.g. the file could not be read)
  int column = 0;
};

struct Problem {
  Position where;
  std::string key;  // key path, e.g. "destinations[2].limits.idle_timeout"; may be empty
  std::string message;
  // "file:line:column: key: message" (parts that are unknown are left out).
  std::string str() const;
};

class Problems : public std::runtime_error {
 public:
  explicit Problems(std::vector<Problem> problems);
  const std::vector<Problem>& problems() const noexcept { return problems_; }

 private:
  std::vector<Problem> problems_;
};

}  // namespace gw::config
