// Reading YAML documents into typed values while collecting problems, shared by the configuration,
// plugin settings and manifest readers.
//
// A Reader owns the list of problems for one file. Readers for values (string, boolean, integer,
// duration, size, one of a set of words) report a problem naming the node's position and key path and
// return nullopt when the node is not what was expected, so that the caller can carry on and find the
// next problem. Fields wraps a mapping with a fixed set of keys and reports unknown and repeated keys.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/problem.hpp"
#include "config/settings.hpp"

namespace gw::config::yaml {

// The longest duration any reader accepts (about eleven years): durations are added to clock readings
// in nanoseconds, which must not overflow.
inline constexpr std::chrono::milliseconds kMaxDuration = std::chrono::hours(100000);
// Files larger than this are refused before parsing.
inline constexpr std::uintmax_t kMaxDocumentBytes = 16 * 1024 * 1024;

// Value parsers. `out_of_range` is set when the text is well formed but the value too large.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text, bool& out_of_range);
std::optional<std::uint64_t> parse_size(std::string_view text, bool& out_of_range);
// Plain decimal integer with an optional leading '-'.
std::optional<std::int64_t> parse_integer(std::string_view text, bool& out_of_range);

// Compact forms for messages: 90000ms -> "90s", 65536 -> "64KiB".
std::string format_duration(std::chrono::milliseconds value);
std::string format_size(std::uint64_t bytes);

// 'text' for messages: control characters escaped, long text shortened.
std::string quote(std::string_view text);
// How a node looks, for messages: "a mapping", "a list", "nothing", or the quoted scalar.
std::string describe(const YAML::Node& node);
// "a, b, c"
std::string join(const std::vector<std::string>& words, std::string_view separator = ", ");
// Key paths: child_key("limits", "idle_timeout") == "limits.idle_timeout", child_key("", "node") ==
// "node", item_key("destinations", 2) == "destinations[2]".
std::string child_key(std::string_view parent, std::string_view name);
std::string item_key(std::string_view parent, std::size_t index);

// `path` made absolute against `base_dir` (when relative) and lexically normalised.
std::filesystem::path resolve_path(const std::filesystem::path& base_dir, const std::filesystem::path& path);
// The directory relative paths in `file` are resolved against (absolute).
std::filesystem::path directory_of(const std::filesystem::path& file);

// True when `text` is 1..max_length characters of which the first is in [a-z] and the others in
// [a-z0-9_-].
bool is_lower_name(std::string_view text, std::size_t max_length);

// Reads a whole file of at most `max_bytes`. On failure returns nullopt and sets `error` to a
// message such as "cannot read the file: No such file or directory".
std::optional<std::string> read_file(const std::filesystem::path& file, std::uintmax_t max_bytes,
                                     std::string& error);

class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  const std::string& file() const noexcept { return file_; }

  // 1-based position of `node` in the file; line 0 when the node has no position.
  Position position(const YAML::Node& node) const;
  Position position(const YAML::Mark& mark) const;

  void add(Position where, std::string key, std::string message);
  void add(const YAML::Node& at, std::string key, std::string message);

  bool ok() const noexcept { return problems_.empty(); }
  std::size_t count() const noexcept { return problems_.size(); }
  // The problems so far, ordered by position.
  std::vector<Problem> take();
  // Throws Problems when there are any.
  void throw_if_any();

  // Parses `text`, which must hold exactly one YAML document that is a mapping. Syntax errors, NUL
  // bytes, an empty document and a document that is not a mapping are reported; returns nullopt then.
  std::optional<YAML::Node> parse_mapping_document(std::string_view text);

  // Scalar readers. Each reports a problem at `node` under `key` and returns nullopt when the node is
  // not of the expected form.
  std::optional<std::string> string(const YAML::Node& node, const std::string& key);
  std::optional<bool> boolean(const YAML::Node& node, const std::string& key);
  std::optional<std::int64_t> integer(const YAML::Node& node, const std::string& key, std::int64_t min,
                                      std::int64_t max);
  std::optional<std::chrono::milliseconds> duration(const YAML::Node& node, const std::string& key);
  std::optional<std::uint64_t> size(const YAML::Node& node, const std::string& key);
  // Index of the node's text in `words`; the message lists the words.
  std::optional<std::size_t> choice(const YAML::Node& node, const std::string& key,
                                    std::initializer_list<std::string_view> words);
  // A list of scalars read with string(); nullopt when the node is not a list.
  std::optional<std::vector<std::pair<std::string, YAML::Node>>> string_list(const YAML::Node& node,
                                                                             const std::string& key);

  // Reports a problem unless `node` is of `type`; `what` names the expected kind ("a mapping").
  bool expect(const YAML::Node& node, const std::string& key, YAML::NodeType::value type,
              std::string_view what);

 private:
  std::string file_;
  std::vector<Problem> problems_;
};

// A mapping with a fixed set of keys. Creating it reports a node that is not a mapping (null counts as
// an empty mapping), keys that are not plain text, unknown keys (at the key's position, listing the
// known ones) and keys given twice. `where` is used for problems about an empty (null) mapping, whose
// own position is not meaningful: normally the position of the key that names the mapping.
class Fields {
 public:
  Fields(Reader& reader, const YAML::Node& node, std::string key, std::vector<std::string> known,
         Position where = {});
  Fields(Reader& reader, const YAML::Node& node, std::string key,
         std::initializer_list<std::string_view> known, Position where = {});

  // False when the node was neither a mapping nor null.
  bool valid() const noexcept { return valid_; }
  const YAML::Node& node() const noexcept { return node_; }
  const std::string& key() const noexcept { return key_; }
  // Key path of a field: key() + "." + name.
  std::string key(std::string_view name) const { return child_key(key_, name); }

  // The value of a known field; nullopt when absent.
  std::optional<YAML::Node> get(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  // Position of a field's key (for problems about the field as a whole); the mapping's own position
  // when absent.
  Position position(std::string_view name) const;

  // Typed reads: when the field is present and valid, store it in `out` and return true.
  bool read(std::string_view name, std::string& out);
  bool read(std::string_view name, bool& out);
  bool read(std::string_view name, std::chrono::milliseconds& out);
  bool read_integer(std::string_view name, std::int64_t min, std::int64_t max, std::int64_t& out);
  bool read_size(std::string_view name, std::uint64_t& out);
  bool read_path(std::string_view name, const std::filesystem::path& base_dir, std::filesystem::path& out);

  // Reports a field that must be present but is not ("missing required key 'name'"), at the mapping's
  // position.
  void require(std::string_view name);

 private:
  void init();

  struct Entry {
    std::string name;
    YAML::Node key_node;
    YAML::Node value;
  };
  Reader& reader_;
  YAML::Node node_;
  std::string key_;
  std::vector<std::string> known_;
  std::vector<Entry> entries_;
  Position where_;
  bool valid_ = true;
};

// Resolves a secret: a plain string, {env: NAME} or {file: PATH} (relative to `base_dir`). Problems never
// quote the secret's text.
std::optional<std::string> read_secret(Reader& reader, const YAML::Node& node, const std::string& key,
                                       const std::filesystem::path& base_dir);

// Reads a plugin setting value of a non-secret type (boolean, integer, string, duration, size) and
// checks it against the schema's min, max and values. Secrets are read by resolve_settings.
std::optional<Settings::Value> read_setting_value(Reader& reader, const YAML::Node& node,
                                                  const std::string& key, const SettingSchema& schema);

// The name a manifest uses for a setting type ("bool", "int", ...).
std::string_view setting_type_name(SettingType type);

}  // namespace gw::config::yaml
