// Fuzz targets. Each tests/fuzz/*_fuzz.cpp defines one:
//
//   GW_FUZZ_TARGET(name) { ...use data, size...; return 0; }
//
// The body feeds the bytes to one parser and checks a property that must hold for any input (an error
// names its file; what was accepted re-encodes to the same thing; ...); gw::fuzz::fail() reports a
// violation. A crash, a sanitizer report or an exception that escapes is a finding too.
//
// Built with GW_LIBFUZZER (scripts/fuzz.sh, clang's libFuzzer) a target is the LLVMFuzzerTestOneInput
// of an executable of its own. In every other build the targets are compiled into the unit tests,
// which replay the committed corpus (tests/fuzz/corpus/<name>/) and seeded mutations of it through
// them, so that what fuzzing found stays fixed and the sanitizer preset runs them too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

namespace gw::fuzz {

using Target = int (*)(const std::uint8_t* data, std::size_t size);

inline std::map<std::string, Target>& targets() {
  static std::map<std::string, Target> registered;
  return registered;
}

struct Registration {
  Registration(const char* name, Target target) { targets().emplace(name, target); }
};

// A property does not hold: aborts, so that libFuzzer keeps the input and a replay fails loudly.
[[noreturn]] inline void fail(std::string_view what) {
  std::fprintf(stderr, "fuzz property violated: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

inline std::string_view text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace gw::fuzz

#ifdef GW_LIBFUZZER
#define GW_FUZZ_TARGET(name) extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
#else
#define GW_FUZZ_TARGET(name)                                                                \
  static int gw_fuzz_##name(const std::uint8_t* data, std::size_t size);                    \
  static const ::gw::fuzz::Registration gw_fuzz_registration_##name(#name, gw_fuzz_##name); \
  static int gw_fuzz_##name(const std::uint8_t* data, std::size_t size)
#endif
