// What the benchmark tools print when they finish: latency percentiles over the samples of all their
// threads, and their failures counted by kind.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace bench {

struct LatencyReport {
  std::size_t count = 0;                             // samples
  std::uint32_t p50 = 0, p90 = 0, p99 = 0, max = 0;  // microseconds
};

// Merges every result's `latencies_us` (microseconds) and takes their percentiles (nearest rank).
template <typename Results>
LatencyReport latency_report(const Results& results) {
  std::vector<std::uint32_t> all;
  for (const auto& result : results)
    all.insert(all.end(), result.latencies_us.begin(), result.latencies_us.end());
  std::sort(all.begin(), all.end());
  LatencyReport report;
  report.count = all.size();
  if (all.empty()) return report;
  auto at = [&all](double p) {
    const auto index = static_cast<std::size_t>(p * static_cast<double>(all.size() - 1) + 0.5);
    return all[std::min(index, all.size() - 1)];
  };
  report.p50 = at(0.50);
  report.p90 = at(0.90);
  report.p99 = at(0.99);
  report.max = all.back();
  return report;
}

// "error: KIND (N)" on stderr for every kind of failure seen.
inline void print_error_kinds(const std::map<std::string, std::uint64_t>& kinds) {
  for (const auto& [what, n] : kinds) {
    std::fprintf(stderr, "error: %s (%llu)\n", what.c_str(), static_cast<unsigned long long>(n));
  }
}

}  // namespace bench
