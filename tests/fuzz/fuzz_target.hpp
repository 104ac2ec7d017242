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
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// The input of a target that plays two peers: byte 0 holds `flag_bits` flags in its low bits and,
// above them, how the bytes arrive (pieces of 1 up to 2^(8 - flag_bits) bytes); bytes 1 and 2 (little
// endian) say how many of the remaining bytes the first peer sends; the second sends the rest.
struct TwoPeers {
  unsigned flags = 0;
  std::size_t piece = 1;
  std::string_view first;
  std::string_view second;
};

inline std::optional<TwoPeers> two_peers(const std::uint8_t* data, std::size_t size, unsigned flag_bits) {
  if (size < 3) return std::nullopt;
  TwoPeers peers;
  peers.flags = data[0] & ((1u << flag_bits) - 1);
  peers.piece = 1 + (data[0] >> flag_bits);
  const std::string_view rest(reinterpret_cast<const char*>(data) + 3, size - 3);
  const std::size_t split = (data[1] | std::size_t{data[2]} << 8) % (rest.size() + 1);
  peers.first = rest.substr(0, split);
  peers.second = rest.substr(split);
  return peers;
}

// `bytes` cut into pieces of `size` (the last one shorter), as a test::PieceStream hands them out.
inline std::vector<std::string> pieces_of(std::string_view bytes, std::size_t size) {
  std::vector<std::string> pieces;
  for (std::size_t at = 0; at < bytes.size(); at += size) pieces.emplace_back(bytes.substr(at, size));
  return pieces;
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
