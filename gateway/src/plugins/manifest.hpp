// Plugin manifests: NAME.plugin.yaml beside each plugin library.
//
//   name: tcp                       # [a-z][a-z0-9_-]*
//   version: 1.0.0
//   description: Raw TCP relay
//   plugin_api: 1                   # the plugin API version the library was built for
//   library: libgateway_plugin_tcp.so   # relative to the manifest's directory
//   sha256: 3b1f...                 # optional: the library's SHA-256, checked before loading
//   route_types: [tcp]
//   settings:                       # schema of a destination's `settings:` for these route types
//     nodelay: {type: bool, default: true, description: ...}
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/problem.hpp"
#include "config/settings.hpp"

namespace gw::plugins {

struct Manifest {
  std::filesystem::path file;
  std::string name;
  std::string version;
  std::string description;
  int plugin_api = 0;
  std::filesystem::path library;      // absolute
  std::optional<std::string> sha256;  // lower-case hex
  std::vector<std::string> route_types;
  std::vector<config::SettingSchema> settings;
};

// Reads and validates a manifest's fields (not the library). Throws config::Problems.
Manifest load_manifest(const std::filesystem::path& file);
Manifest parse_manifest(std::string_view yaml_text, const std::filesystem::path& file);

// Manifest file names end with this suffix.
inline constexpr std::string_view kManifestSuffix = ".plugin.yaml";

}  // namespace gw::plugins
