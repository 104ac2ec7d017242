#include "plugins/manifest.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include "config/yaml_reader.hpp"

namespace gw::plugins {

namespace {

namespace fs = std::filesystem;
using config::SettingSchema;
using config::SettingType;
using config::yaml::Fields;
using config::yaml::quote;
using config::yaml::Reader;

constexpr std::size_t kMaxPluginName = 64;
constexpr std::size_t kMaxRouteTypeName = 32;
constexpr std::size_t kMaxSettingName = 64;

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

class ManifestReader {
 public:
  ManifestReader(Reader& reader, const fs::path& file)
      : reader_(reader), base_dir_(config::yaml::directory_of(file)) {}

  void read(const YAML::Node& document, Manifest& manifest) {
    Fields fields(
        reader_, document, "",
        {"name", "version", "description", "plugin_api", "library", "sha256", "route_types", "settings"});
    for (auto required : {"name", "version", "plugin_api", "library", "route_types"})
      fields.require(required);

    std::string text;
    if (fields.read("name", text)) {
      if (config::yaml::is_lower_name(text, kMaxPluginName)) {
        manifest.name = text;
      } else {
        reader_.add(
            *fields.get("name"), "name",
            "expected a plugin name (a lower-case letter, then up to 63 lower-case letters, digits, '_' "
            "or '-'), got " +
                quote(text));
      }
    }
    if (fields.read("version", text)) {
      if (text.empty()) {
        reader_.add(*fields.get("version"), "version", "must not be empty");
      } else {
        manifest.version = text;
      }
    }
    fields.read("description", manifest.description);
    std::int64_t api = 0;
    if (fields.read_integer("plugin_api", 1, std::numeric_limits<int>::max(), api)) {
      manifest.plugin_api = static_cast<int>(api);
    }
    if (fields.read("library", text)) read_library(*fields.get("library"), text, manifest);
    if (fields.read("sha256", text)) {
      if (text.size() == 64 && std::all_of(text.begin(), text.end(), is_hex)) {
        std::transform(text.begin(), text.end(), text.begin(), to_lower);
        manifest.sha256 = text;
      } else {
        reader_.add(*fields.get("sha256"), "sha256",
                    "expected the library's SHA-256 as 64 hexadecimal digits, got " + quote(text));
      }
    }
    if (auto route_types = fields.get("route_types")) read_route_types(*route_types, manifest);
    if (auto settings = fields.get("settings")) read_settings(*settings, manifest);
  }

 private:
  void read_library(const YAML::Node& node, const std::string& text, Manifest& manifest) {
    const fs::path path(text);
    const auto bad = [&](const std::string& why) {
      reader_.add(
          node, "library",
          "expected a file name relative to the manifest's directory, got " + quote(text) + " (" + why + ")");
    };
    if (text.empty()) return bad("empty");
    if (path.is_absolute()) return bad("an absolute path");
    for (const auto& part : path) {
      if (part == "..") return bad("'..' is not allowed");
    }
    if (!path.has_filename() || path.filename() == ".") return bad("it names a directory");
    manifest.library = config::yaml::resolve_path(base_dir_, path);
  }

  void read_route_types(const YAML::Node& node, Manifest& manifest) {
    auto items = reader_.string_list(node, "route_types");
    if (!items) return;
    if (node.size() == 0) {
      reader_.add(node, "route_types", "expected at least one route type");
      return;
    }
    std::size_t index = 0;
    for (auto& [name, item] : *items) {
      const std::string key = config::yaml::item_key("route_types", index++);
      if (!config::yaml::is_lower_name(name, kMaxRouteTypeName)) {
        reader_.add(
            item, key,
            "expected a route type name (a lower-case letter, then up to 31 lower-case letters, digits, "
            "'_' or '-'), got " +
                quote(name));
      } else if (std::find(manifest.route_types.begin(), manifest.route_types.end(), name) !=
                 manifest.route_types.end()) {
        reader_.add(item, key, "route type " + quote(name) + " is listed twice");
      } else {
        manifest.route_types.push_back(name);
      }
    }
  }

  void read_settings(const YAML::Node& node, Manifest& manifest) {
    if (node.IsNull()) return;
    read_schema(node, "settings", manifest.settings);
  }

  // A mapping of setting names to their schema, at `parent_key`.
  void read_schema(const YAML::Node& node, const std::string& parent_key, std::vector<SettingSchema>& out) {
    if (!reader_.expect(node, parent_key, YAML::NodeType::Map,
                        "a mapping of setting names to their schema")) {
      return;
    }
    std::vector<std::string> invalid;  // settings declared with problems, to detect repeats
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node key_node = it->first;  // a copy: the iterator hands out a temporary
      if (!key_node.IsScalar()) {
        reader_.add(key_node, parent_key, "expected a setting name, got " + config::yaml::describe(key_node));
        continue;
      }
      const std::string& name = key_node.Scalar();
      const std::string key = config::yaml::child_key(parent_key, name);
      if (!config::yaml::is_lower_name(name, kMaxSettingName)) {
        reader_.add(key_node, key,
                    "expected a setting name (a lower-case letter, then up to 63 lower-case letters, digits, "
                    "'_' or '-'), got " +
                        quote(name));
        continue;
      }
      const auto previous =
          std::find_if(out.begin(), out.end(), [&](const SettingSchema& s) { return s.name == name; });
      if (previous != out.end() || std::find(invalid.begin(), invalid.end(), name) != invalid.end()) {
        reader_.add(key_node, key, "setting " + quote(name) + " is declared twice");
        continue;
      }
      const YAML::Node value = it->second;
      if (auto setting = read_setting(name, value, key, reader_.position(key_node))) {
        out.push_back(std::move(*setting));
      } else {
        invalid.push_back(name);
      }
    }
  }

  std::optional<SettingSchema> read_setting(const std::string& name, const YAML::Node& node,
                                            const std::string& key, const config::Position& where) {
    const std::size_t problems_before = reader_.count();
    Fields fields(reader_, node, key,
                  {"type", "default", "required", "min", "max", "values", "description", "fields"}, where);
    if (!fields.valid()) return std::nullopt;
    fields.require("type");
    SettingSchema setting;
    setting.name = name;
    bool type_known = false;
    if (auto type = fields.get("type")) {
      if (auto index =
              reader_.choice(*type, fields.key("type"),
                             {"bool", "int", "string", "duration", "size", "secret", "list", "records"})) {
        constexpr SettingType types[] = {SettingType::boolean,  SettingType::integer, SettingType::string,
                                         SettingType::duration, SettingType::size,    SettingType::secret,
                                         SettingType::list,     SettingType::records};
        setting.type = types[*index];
        type_known = true;
      }
    }
    fields.read("required", setting.required);
    fields.read("description", setting.description);
    if (type_known) {
      read_bound(fields, "min", setting, setting.min);
      read_bound(fields, "max", setting, setting.max);
      if (setting.min && setting.max && *setting.min > *setting.max) {
        reader_.add(*fields.get("max"), fields.key("max"), "max is less than min");
      }
      read_values(fields, setting);
      read_record_fields(fields, setting);
      read_default(fields, setting);
    }
    if (reader_.count() != problems_before) return std::nullopt;
    return setting;
  }

  void read_bound(Fields& fields, std::string_view which, const SettingSchema& setting,
                  std::optional<std::int64_t>& out) {
    auto node = fields.get(which);
    if (!node) return;
    const std::string key = fields.key(which);
    switch (setting.type) {
      case SettingType::integer:
        out = reader_.integer(*node, key, std::numeric_limits<std::int64_t>::min(),
                              std::numeric_limits<std::int64_t>::max());
        return;
      case SettingType::duration:
        if (auto value = reader_.duration(*node, key)) out = value->count();
        return;
      case SettingType::size:
        if (auto value = reader_.size(*node, key)) {
          if (*value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            reader_.add(*node, key, "size " + config::yaml::describe(*node) + " is too large");
          } else {
            out = static_cast<std::int64_t>(*value);
          }
        }
        return;
      case SettingType::boolean:
      case SettingType::string:
      case SettingType::secret:
      case SettingType::list:
      case SettingType::records:
        break;
    }
    reader_.add(*node, key,
                std::string(which) + " applies only to int, duration and size settings, not to " +
                    std::string(config::yaml::setting_type_name(setting.type)));
  }

  void read_values(Fields& fields, SettingSchema& setting) {
    auto node = fields.get("values");
    if (!node) return;
    if (setting.type != SettingType::string && setting.type != SettingType::list) {
      reader_.add(*node, fields.key("values"),
                  "values applies only to string and list settings, not to " +
                      std::string(config::yaml::setting_type_name(setting.type)));
      return;
    }
    auto items = reader_.string_list(*node, fields.key("values"));
    if (!items) return;
    if (node->size() == 0) {
      reader_.add(*node, fields.key("values"), "expected at least one allowed value");
      return;
    }
    std::size_t index = 0;
    for (auto& [value, item] : *items) {
      if (std::find(setting.values.begin(), setting.values.end(), value) != setting.values.end()) {
        reader_.add(item, config::yaml::item_key(fields.key("values"), index),
                    "value " + quote(value) + " is listed twice");
      } else {
        setting.values.push_back(value);
      }
      ++index;
    }
  }

  // records: `fields` is the schema of one record, written like `settings` (no records inside records).
  void read_record_fields(Fields& fields, SettingSchema& setting) {
    auto node = fields.get("fields");
    const std::string key = fields.key("fields");
    if (setting.type != SettingType::records) {
      if (node) reader_.add(*node, key, "fields applies only to records settings");
      return;
    }
    if (!node) {
      fields.require("fields");
      return;
    }
    read_schema(*node, key, setting.fields);
    for (const auto& field : setting.fields) {
      if (field.type == SettingType::records) {
        reader_.add(*node, config::yaml::child_key(key, field.name), "records cannot contain records");
      }
    }
  }

  void read_default(Fields& fields, SettingSchema& setting) {
    auto node = fields.get("default");
    if (!node) return;
    const std::string key = fields.key("default");
    if (setting.type == SettingType::secret || setting.type == SettingType::records) {
      reader_.add(*node, key,
                  "a " + std::string(config::yaml::setting_type_name(setting.type)) +
                      " setting cannot have a default");
      return;
    }
    if (setting.required) {
      reader_.add(*node, key, "a required setting cannot have a default");
      return;
    }
    setting.default_value = config::yaml::read_setting_value(reader_, *node, key, setting);
  }

  Reader& reader_;
  fs::path base_dir_;
};

}  // namespace

Manifest parse_manifest(std::string_view yaml_text, const std::filesystem::path& file) {
  Reader reader(file.string());
  Manifest manifest;
  {
    std::error_code error;
    auto absolute = fs::absolute(file, error);
    manifest.file = (error ? file : absolute).lexically_normal();
  }
  if (auto document = reader.parse_mapping_document(yaml_text)) {
    ManifestReader(reader, file).read(*document, manifest);
  }
  reader.throw_if_any();
  return manifest;
}

Manifest load_manifest(const std::filesystem::path& file) {
  std::string error;
  auto text = config::yaml::read_file(file, config::yaml::kMaxDocumentBytes, error);
  if (!text) throw config::Problems({config::Problem{config::Position{file.string(), 0, 0}, "", error}});
  return parse_manifest(*text, file);
}

}  // namespace gw::plugins
