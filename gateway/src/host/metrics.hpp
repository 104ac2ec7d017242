// The metrics registry behind Host::metrics(), rendered in the Prometheus text format by the admin
// listener. Counters and gauges are allocated once and never move, so references stay valid.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "gateway/plugin/host.hpp"

namespace gw::host {

class MetricsRegistry final : public Metrics {
 public:
  Counter& counter(std::string_view name, std::string_view help, const MetricLabels& labels) override;
  Gauge& gauge(std::string_view name, std::string_view help, const MetricLabels& labels) override;

  // Prometheus text exposition format, version 0.0.4.
  std::string render() const;

 private:
  struct Family {
    std::string help;
    bool is_counter = true;
    // Rendered label set ("a=\"x\",b=\"y\"") -> value.
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
  };
  Family& family(std::string_view name, std::string_view help, bool is_counter);

  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
};

}  // namespace gw::host
