#include "plugins/loader.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "config/yaml_reader.hpp"

namespace gw::plugins {
namespace fs = std::filesystem;

namespace {

std::map<std::string, std::string> split_tag(const std::string& tag) {
  std::map<std::string, std::string> out;
  std::stringstream in(tag);
  std::string item;
  while (std::getline(in, item, ';')) {
    auto eq = item.find('=');
    if (eq == std::string::npos) {
      out[item] = "";
    } else {
      out[item.substr(0, eq)] = item.substr(eq + 1);
    }
  }
  return out;
}

using CreateFn = Plugin*(Host&);
using AbiTagFn = const char*() noexcept;

}  // namespace

std::string abi_mismatch(const std::string& plugin_tag, const std::string& gateway_tag) {
  if (plugin_tag == gateway_tag) return {};
  auto plugin = split_tag(plugin_tag);
  auto gateway = split_tag(gateway_tag);
  std::vector<std::string> diffs;
  std::set<std::string> keys;
  for (const auto& [k, v] : plugin) keys.insert(k);
  for (const auto& [k, v] : gateway) keys.insert(k);
  for (const auto& key : keys) {
    auto p = plugin.count(key) ? plugin[key] : "(none)";
    auto g = gateway.count(key) ? gateway[key] : "(none)";
    if (p == g) continue;
    if (key == "api") {
      diffs.push_back("built for plugin API " + p + ", this gateway speaks " + g);
    } else {
      diffs.push_back(key + ": plugin " + p + ", gateway " + g);
    }
  }
  if (diffs.empty()) diffs.push_back("tag '" + plugin_tag + "' differs from '" + gateway_tag + "'");
  return config::yaml::join(diffs, "; ");
}

namespace {

using DigestContext = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

DigestContext sha256_context() {
  DigestContext ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  return ctx;
}

std::string hex_digest(EVP_MD_CTX* ctx) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 15]);
  }
  return out;
}

}  // namespace

std::string sha256_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  DigestContext ctx = sha256_context();
  char buf[64 * 1024];
  while (in) {
    in.read(buf, sizeof buf);
    EVP_DigestUpdate(ctx.get(), buf, static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw std::runtime_error("cannot read " + file.string());
  return hex_digest(ctx.get());
}

std::string sha256_hex(std::string_view bytes) {
  DigestContext ctx = sha256_context();
  EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size());
  return hex_digest(ctx.get());
}

PluginRegistry::~PluginRegistry() {
  // Instances first, libraries after (member order in Loaded), newest first.
  while (!loaded_.empty()) loaded_.pop_back();
}

void PluginRegistry::load(const std::vector<fs::path>& paths,
                          const std::optional<std::vector<std::string>>& allow) {
  std::set<fs::path> seen_dirs;
  for (const auto& dir : paths) {
    std::error_code ec;
    auto canonical = fs::weakly_canonical(dir, ec);
    if (ec) canonical = dir;
    if (!seen_dirs.insert(canonical).second) continue;
    if (!fs::is_directory(dir, ec)) {
      path_problems_.push_back("plugin path " + dir.string() + " is not a directory");
      continue;
    }
    std::vector<fs::path> manifests;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      auto name = entry.path().filename().string();
      if (name.size() > kManifestSuffix.size() && name.ends_with(kManifestSuffix))
        manifests.push_back(entry.path());
    }
    if (ec) {
      path_problems_.push_back("cannot list plugin path " + dir.string() + ": " + ec.message());
      continue;
    }
    std::sort(manifests.begin(), manifests.end());
    for (const auto& m : manifests) load_one(m, allow);
  }
}

void PluginRegistry::load_one(const fs::path& manifest_file,
                              const std::optional<std::vector<std::string>>& allow) {
  PluginReport report;
  report.manifest_file = manifest_file;
  try {
    report.manifest = load_manifest(manifest_file);
  } catch (const config::Problems& problems) {
    std::vector<std::string> lines;
    for (const auto& p : problems.problems()) lines.push_back(p.str());
    report.refusal = "invalid manifest: " + config::yaml::join(lines, "; ");
    reports_.push_back(std::move(report));
    return;
  }
  const Manifest& manifest = *report.manifest;
  if (allow && std::find(allow->begin(), allow->end(), manifest.name) == allow->end()) {
    report.refusal = "not in plugins.allow";
  } else {
    report.refusal = try_load(manifest);
    report.loaded = report.refusal.empty();
  }
  reports_.push_back(std::move(report));
}

std::string PluginRegistry::try_load(const Manifest& manifest) {
  const std::string lib = manifest.library.string();
  if (manifest.plugin_api != kPluginApiVersion) {
    return "built for plugin API " + std::to_string(manifest.plugin_api) + ", this gateway speaks " +
           std::to_string(kPluginApiVersion) + " - rebuild the plugin with this gateway's SDK";
  }
  for (const auto& other : loaded_) {
    if (other->manifest.name == manifest.name) {
      return "a plugin named '" + manifest.name + "' is already loaded from " + other->manifest.file.string();
    }
  }
  for (const auto& type : manifest.route_types) {
    if (auto it = by_route_type_.find(type); it != by_route_type_.end()) {
      return "route type '" + type + "' is already registered by plugin '" + it->second->manifest.name +
             "' (" + it->second->manifest.file.string() + "); route type names must be unique";
    }
  }
  std::error_code ec;
  if (!fs::is_regular_file(manifest.library, ec)) {
    return "library " + lib + " named by the manifest does not exist - build the plugin or fix 'library'";
  }
  if (manifest.sha256) {
    std::string actual;
    try {
      actual = sha256_file(manifest.library);
    } catch (const std::exception& e) {
      return e.what();
    }
    if (actual != *manifest.sha256) {
      return "SHA-256 of " + lib + " is " + actual + " but the manifest pins " + *manifest.sha256 +
             " - the library changed after the manifest was written; rebuild the plugin";
    }
  }

  auto loaded = std::make_unique<Loaded>();
  loaded->manifest = manifest;
  try {
    loaded->library.load(manifest.library,
                         boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    return "cannot load " + lib + ": " + e.what() + " - is it a shared library built for this platform?";
  }
  // The ABI tag is the first thing used: a C function, safe to call whatever the plugin was built with.
  if (!loaded->library.has(kAbiTagSymbol)) {
    return lib + " exports no " + kAbiTagSymbol +
           " - not a gateway plugin, or built without GW_DECLARE_PLUGIN";
  }
  const char* tag = loaded->library.get<AbiTagFn>(kAbiTagSymbol)();
  if (auto diff = abi_mismatch(tag ? tag : "", kPluginAbiTag); !diff.empty()) {
    return "ABI mismatch in " + lib + ": " + diff + " - rebuild the plugin with this gateway's SDK";
  }
  if (!loaded->library.has(kEntryPointSymbol)) {
    return lib + " exports no entry point " + kEntryPointSymbol +
           " - declare the plugin with GW_DECLARE_PLUGIN";
  }
  try {
    loaded->instance.reset(loaded->library.get<CreateFn>(kEntryPointSymbol)(host_));
  } catch (const std::exception& e) {
    return "plugin threw while initialising: " + std::string(e.what());
  } catch (...) {
    return "plugin threw a non-standard exception while initialising";
  }
  if (!loaded->instance) return "plugin entry point returned no plugin";

  for (const auto& type : manifest.route_types) by_route_type_[type] = loaded.get();
  loaded_.push_back(std::move(loaded));
  return {};
}

Plugin* PluginRegistry::plugin_for(const std::string& route_type) const {
  auto it = by_route_type_.find(route_type);
  return it == by_route_type_.end() ? nullptr : it->second->instance.get();
}

const Manifest* PluginRegistry::manifest_for(const std::string& route_type) const {
  auto it = by_route_type_.find(route_type);
  return it == by_route_type_.end() ? nullptr : &it->second->manifest;
}

std::vector<std::string> PluginRegistry::route_types() const {
  std::vector<std::string> out;
  for (const auto& [type, loaded] : by_route_type_) out.push_back(type);
  return out;
}

}  // namespace gw::plugins
