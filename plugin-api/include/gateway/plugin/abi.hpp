// Plugin API version and ABI tag.
//
// C++ types (std::string, std::unique_ptr, Boost.Asio awaitables) cross the core <-> plugin boundary, so a
// plugin must be built with the same compiler family, standard library ABI, Boost version and API version
// as the gateway that loads it. Every plugin exports gw_plugin_abi_tag(); the loader calls it before it
// touches any other symbol and refuses a plugin whose tag differs from its own, naming what differs.
#pragma once

#include <boost/version.hpp>

#define GW_PLUGIN_API_VERSION 6

#define GW_ABI_STR2(x) #x
#define GW_ABI_STR(x) GW_ABI_STR2(x)

#if defined(__clang__)
#define GW_ABI_COMPILER "clang-" GW_ABI_STR(__clang_major__)
#elif defined(__GNUC__)
#define GW_ABI_COMPILER "gcc-" GW_ABI_STR(__GNUC__)
#else
#define GW_ABI_COMPILER "unknown"
#endif

#if defined(_GLIBCXX_USE_CXX11_ABI)
#define GW_ABI_LIBSTDCXX "libstdc++-cxx11abi-" GW_ABI_STR(_GLIBCXX_USE_CXX11_ABI)
#else
#define GW_ABI_LIBSTDCXX "other-stdlib"
#endif

#if defined(_GLIBCXX_DEBUG)
#define GW_ABI_DEBUG_CONTAINERS "1"
#else
#define GW_ABI_DEBUG_CONTAINERS "0"
#endif

// A semicolon-separated list of key=value pairs; the loader compares it key by key so that a refusal
// can say exactly what to rebuild.
// clang-format off
#define GW_PLUGIN_ABI_TAG                                 \
  "api=" GW_ABI_STR(GW_PLUGIN_API_VERSION)                \
  ";compiler=" GW_ABI_COMPILER                            \
  ";cxxabi=" GW_ABI_STR(__GXX_ABI_VERSION)                \
  ";stdlib=" GW_ABI_LIBSTDCXX                             \
  ";boost=" GW_ABI_STR(BOOST_VERSION)                     \
  ";std=" GW_ABI_STR(__cplusplus)                         \
  ";debug-containers=" GW_ABI_DEBUG_CONTAINERS
// clang-format on

// Types shared between core and plugins keep default visibility so that their vtables and type_info
// are the same object on both sides, even though plugins are built with -fvisibility=hidden.
#define GW_PLUGIN_VISIBLE __attribute__((visibility("default")))

namespace gw {
inline constexpr int kPluginApiVersion = GW_PLUGIN_API_VERSION;
inline constexpr const char* kPluginAbiTag = GW_PLUGIN_ABI_TAG;
// Names of the two symbols a plugin exports.
inline constexpr const char* kAbiTagSymbol = "gw_plugin_abi_tag";
inline constexpr const char* kEntryPointSymbol = "gw_plugin_create";
}  // namespace gw
