// Plugin settings: the schema a manifest declares and the validation of a destination's `settings:`
// mapping against it.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/problem.hpp"
#include "gateway/plugin/route.hpp"

namespace gw::config {

enum class SettingType {
  boolean,   // YAML true/false
  integer,   // with optional min/max
  string,    // with optional `values` (an enumeration)
  duration,  // "5s", "250ms"; stored as milliseconds
  size,      // "64KiB" or a number of bytes; stored as an integer
  secret,    // a string, or {env: NAME}, or {file: PATH}; resolved at load, never logged
  list,      // a sequence of strings, each optionally restricted by `values`
  records,   // a sequence of mappings, each validated against the schema in `fields`
};

struct SettingSchema {
  std::string name;
  SettingType type = SettingType::string;
  bool required = false;
  std::optional<Settings::Value> default_value;
  std::optional<std::int64_t> min;
  std::optional<std::int64_t> max;
  std::vector<std::string> values;  // allowed strings (string, list items), empty: any
  std::string description;
  std::vector<SettingSchema> fields;  // records: the schema of each record
};

// Validates `node` (a destination's `settings:` mapping, possibly null) against `schema` and fills
// `out` with given or default values. Unknown keys, wrong types, out-of-range values and missing
// required keys are problems; each names `file`, the line, and `key_prefix` + ".settings.<name>".
std::vector<Problem> resolve_settings(const YAML::Node& node, const std::vector<SettingSchema>& schema,
                                      const std::string& file, const Position& parent,
                                      const std::string& key_prefix, Settings& out);

}  // namespace gw::config
