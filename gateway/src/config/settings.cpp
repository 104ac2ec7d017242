#include "config/settings.hpp"

#include <cstdlib>
#include <filesystem>
#include <utility>

#include "config/yaml_reader.hpp"

namespace gw::config {

namespace {

namespace fs = std::filesystem;
using yaml::Fields;
using yaml::Reader;

// Secret files hold a password, a token or a key, never more than this.
constexpr std::uintmax_t kMaxSecretFileBytes = 64 * 1024;

const char* const kSecretForms = "a string, {env: NAME} or {file: PATH}";

bool is_environment_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    if (!letter && !(c >= '0' && c <= '9')) return false;
  }
  return !(name.front() >= '0' && name.front() <= '9');
}

std::string strip_one_newline(std::string text) {
  if (!text.empty() && text.back() == '\n') {
    text.pop_back();
    if (!text.empty() && text.back() == '\r') text.pop_back();
  }
  return text;
}

}  // namespace

std::optional<std::string> yaml::read_secret(Reader& reader, const YAML::Node& node, const std::string& key,
                                             const fs::path& base_dir) {
  if (node.IsScalar()) return node.Scalar();
  if (!node.IsMap()) {
    reader.add(node, key, std::string("expected ") + kSecretForms + ", got " + yaml::describe(node));
    return std::nullopt;
  }
  Fields fields(reader, node, key, {"env", "file"});
  if (fields.has("env") == fields.has("file")) {
    reader.add(node, key, std::string("expected ") + kSecretForms + " (exactly one of env and file)");
    return std::nullopt;
  }
  std::string name;
  if (fields.read("env", name)) {
    if (!is_environment_name(name)) {
      reader.add(*fields.get("env"), fields.key("env"),
                 "expected an environment variable name, got " + yaml::quote(name));
      return std::nullopt;
    }
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      reader.add(*fields.get("env"), fields.key("env"), "environment variable " + name + " is not set");
      return std::nullopt;
    }
    return std::string(value);
  }
  fs::path path;
  if (fields.read_path("file", base_dir, path)) {
    if (path.empty()) {
      reader.add(*fields.get("file"), fields.key("file"), "expected a file name, got an empty string");
      return std::nullopt;
    }
    std::string error;
    auto text = yaml::read_file(path, kMaxSecretFileBytes, error);
    if (!text) {
      reader.add(*fields.get("file"), fields.key("file"), "secret file " + path.string() + ": " + error);
      return std::nullopt;
    }
    return strip_one_newline(std::move(*text));
  }
  return std::nullopt;
}

namespace {

// Validates the mapping `node` at `key` against `schema` into `out`; problems go to `reader`.
void resolve_fields(Reader& reader, const YAML::Node& node, const std::vector<SettingSchema>& schema,
                    const std::string& key, const Position& where, const fs::path& base_dir, Settings& out);

std::optional<Settings::Value> resolve_records(Reader& reader, const YAML::Node& node, const std::string& key,
                                               const SettingSchema& setting, const fs::path& base_dir) {
  if (!reader.expect(node, key, YAML::NodeType::Sequence, "a list of mappings")) return std::nullopt;
  const std::size_t problems_before = reader.count();
  Settings::Records records;
  records.reserve(node.size());
  std::size_t index = 0;
  for (const auto& item : node) {
    Settings record;
    resolve_fields(reader, item, setting.fields, yaml::item_key(key, index++), reader.position(item),
                   base_dir, record);
    records.push_back(std::move(record));
  }
  if (reader.count() != problems_before) return std::nullopt;
  return Settings::Value(std::move(records));
}

void resolve_fields(Reader& reader, const YAML::Node& node, const std::vector<SettingSchema>& schema,
                    const std::string& key, const Position& where, const fs::path& base_dir, Settings& out) {
  std::vector<std::string> names;
  names.reserve(schema.size());
  for (const auto& setting : schema) names.push_back(setting.name);
  Fields fields(reader, node, key, std::move(names), where);
  if (!fields.valid()) return;

  for (const auto& setting : schema) {
    const std::string setting_key = fields.key(setting.name);
    auto value_node = fields.get(setting.name);
    if (!value_node) {
      if (setting.default_value) {
        out.set(setting.name, *setting.default_value);
      } else if (setting.required) {
        reader.add(fields.position(setting.name), setting_key,
                   "missing required setting " + yaml::quote(setting.name));
      }
      continue;
    }
    std::optional<Settings::Value> value;
    if (setting.type == SettingType::secret) {
      if (auto secret = yaml::read_secret(reader, *value_node, setting_key, base_dir))
        value = std::move(*secret);
    } else if (setting.type == SettingType::records) {
      value = resolve_records(reader, *value_node, setting_key, setting, base_dir);
    } else {
      value = yaml::read_setting_value(reader, *value_node, setting_key, setting);
    }
    if (value) out.set(setting.name, std::move(*value));
  }
}

}  // namespace

std::vector<Problem> resolve_settings(const YAML::Node& node, const std::vector<SettingSchema>& schema,
                                      const std::string& file, const Position& parent,
                                      const std::string& key_prefix, Settings& out) {
  Reader reader(file);
  Position where = parent;
  if (where.file.empty()) where.file = file;
  resolve_fields(reader, node, schema, yaml::child_key(key_prefix, "settings"), where,
                 yaml::directory_of(file), out);
  return reader.take();
}

}  // namespace gw::config
