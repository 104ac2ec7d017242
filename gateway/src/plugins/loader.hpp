// The plugin loader: discovers manifests in the plugin paths, validates each, checks the library's
// SHA-256 and ABI tag, loads it with Boost.DLL and registers its route types.
//
// Every refusal is one line naming the file and what to do about it. Refused plugins do not stop the
// gateway by themselves; a destination whose route type no loaded plugin provides does.
#pragma once

#include <boost/dll/shared_library.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/plugin/plugin.hpp"
#include "plugins/manifest.hpp"

namespace gw::plugins {

// What became of one manifest found in a plugin path.
struct PluginReport {
  std::filesystem::path manifest_file;
  std::optional<Manifest> manifest;  // unset when the manifest itself was invalid
  bool loaded = false;
  std::string refusal;  // why it was not loaded
};

class PluginRegistry {
 public:
  explicit PluginRegistry(Host& host) : host_(host) {}
  ~PluginRegistry();
  PluginRegistry(const PluginRegistry&) = delete;
  PluginRegistry& operator=(const PluginRegistry&) = delete;

  // Discovers and loads every plugin in `paths` (in order; a plugin name or route type seen again
  // later is refused). `allow`, when set, limits loading to those plugin names. A path that does not
  // exist is reported in path_problems().
  void load(const std::vector<std::filesystem::path>& paths,
            const std::optional<std::vector<std::string>>& allow);

  const std::vector<PluginReport>& reports() const noexcept { return reports_; }
  const std::vector<std::string>& path_problems() const noexcept { return path_problems_; }

  // The plugin registered for a route type, or nullptr.
  Plugin* plugin_for(const std::string& route_type) const;
  const Manifest* manifest_for(const std::string& route_type) const;
  std::vector<std::string> route_types() const;

 private:
  struct Loaded {
    Manifest manifest;
    boost::dll::shared_library library;  // declared before `instance`: unloaded after it is destroyed
    std::unique_ptr<Plugin> instance;
  };
  void load_one(const std::filesystem::path& manifest_file,
                const std::optional<std::vector<std::string>>& allow);
  std::string try_load(const Manifest& manifest);

  Host& host_;
  std::vector<PluginReport> reports_;
  std::vector<std::string> path_problems_;
  std::vector<std::unique_ptr<Loaded>> loaded_;
  std::map<std::string, Loaded*> by_route_type_;
};

// Compares a plugin's ABI tag with the gateway's; empty when they match, else what differs
// ("compiler: plugin gcc-11, gateway gcc-12; ...").
std::string abi_mismatch(const std::string& plugin_tag, const std::string& gateway_tag);

// Lower-case hex SHA-256 of a file; throws std::runtime_error when it cannot be read.
std::string sha256_file(const std::filesystem::path& file);
// SHA-256 of `bytes`, lower-case hex.
std::string sha256_hex(std::string_view bytes);

}  // namespace gw::plugins
