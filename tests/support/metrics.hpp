// The admin endpoint's /metrics, fetched the way an operator would (curl) and read as Prometheus text.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/child_process.hpp"

namespace gw::e2e {

using Labels = std::map<std::string, std::string>;

struct MetricSample {
  std::string name;
  Labels labels;
  double value = 0;
};

// `curl -sS http://127.0.0.1:PORT/metrics`; nullopt if curl fails.
std::optional<std::string> fetch_metrics_text(std::uint16_t admin_port);

// Sample lines of a Prometheus text exposition (comments and malformed lines are skipped).
std::vector<MetricSample> parse_prometheus(std::string_view text);

// The value of sample `name` whose labels include all of `labels` (the first such sample).
std::optional<double> find_metric(const std::vector<MetricSample>& samples, std::string_view name,
                                  const Labels& labels);

// Fetches /metrics once and looks the sample up.
std::optional<double> metric_value(std::uint16_t admin_port, std::string_view name, const Labels& labels);

// Fetches /metrics until the sample exists and `accept` holds for its value; returns that value, or
// nullopt at the deadline.
std::optional<double> wait_for_metric(std::uint16_t admin_port, std::string_view name, const Labels& labels,
                                      const std::function<bool(double)>& accept,
                                      std::chrono::milliseconds timeout = kGuard);

}  // namespace gw::e2e
