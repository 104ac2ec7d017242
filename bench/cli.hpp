// Command-line handling shared by the benchmark tools: `--name value` pairs and numbers checked whole.
#pragma once

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace bench {

// Each tool defines these two: its name and its usage text.
extern const char* const kToolName;
extern const char* const kUsage;

// Prints `message` (when not null) and the tool's usage to stderr, and exits with 2.
[[noreturn]] inline void usage(const char* message) {
  if (message) std::fprintf(stderr, "%s: %s\n", kToolName, message);
  std::fputs(kUsage, stderr);
  std::exit(2);
}

// `text` as a number of type T, all of it; anything else ends in usage().
template <typename T>
T parse_number(std::string_view name, std::string_view text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    usage(("invalid value for " + std::string(name) + ": " + std::string(text)).c_str());
  }
  return value;
}

// Calls on_option(name, value) for each "--name value" pair in argv[first..argc); --help or -h, or a
// name without a value, ends in usage().
template <typename OnOption>
void for_each_option(int argc, char** argv, int first, OnOption&& on_option) {
  for (int i = first; i < argc; ++i) {
    const std::string_view name = argv[i];
    if (name == "--help" || name == "-h") usage(nullptr);
    if (i + 1 >= argc) usage(("missing value for " + std::string(name)).c_str());
    on_option(name, std::string_view(argv[++i]));
  }
}

}  // namespace bench
