// Flat records as the gateway writes them: log lines (logfmt or JSON) and audit lines (JSON).
//
// Both formats are flat: a record is a sequence of key/value pairs whose values are strings or
// numbers, never nested. A full JSON library would be more than these tests need (and none is part of
// the build), so this reader accepts exactly one flat JSON object per line and rejects anything else,
// which also makes it a check that a line is well formed.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace gw::e2e {

struct Record {
  std::string line;                           // the text the record was read from
  std::map<std::string, std::string> fields;  // strings unescaped; numbers and literals as written

  bool has(const std::string& key) const { return fields.count(key) != 0; }
  // The value of `key`, or "" when absent.
  std::string get(const std::string& key) const;
  // The value of `key` as an integer, or nullopt when absent or not an integer.
  std::optional<std::int64_t> integer(const std::string& key) const;
  // True if every given key has the given value.
  bool matches(std::initializer_list<std::pair<std::string, std::string>> expected) const;
};

// One flat JSON object ({"k":"v","n":1,...}); nullopt if `line` is anything else.
std::optional<Record> parse_flat_json(std::string_view line);

// A logfmt line: `TIMESTAMP key=value key="quoted \" value" ...`. A leading bare word is stored as "ts".
std::optional<Record> parse_logfmt(std::string_view line);

// A log line in either format (JSON if it starts with '{').
std::optional<Record> parse_log_line(std::string_view line);

// Case-insensitive substring test, for human-readable reasons such as "Connection refused".
bool contains_nocase(std::string_view text, std::string_view needle);

}  // namespace gw::e2e
