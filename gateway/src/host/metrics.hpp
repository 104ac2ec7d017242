// The metrics registry behind Host::metrics(), rendered in the Prometheus text format by the admin
// listener. Counters, gauges and histograms are allocated once and never move, so references stay valid.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gateway/plugin/host.hpp"

namespace gw::host {

class MetricsRegistry final : public Metrics {
 public:
  Counter& counter(std::string_view name, std::string_view help, const MetricLabels& labels) override;
  Gauge& gauge(std::string_view name, std::string_view help, const MetricLabels& labels) override;
  Histogram& histogram(std::string_view name, std::string_view help, const MetricLabels& labels,
                       std::span<const double> upper_bounds) override;

  // Prometheus text exposition format, version 0.0.4. Families in name order, label sets in order of
  // their rendered text; a histogram's series as its buckets (cumulative, `le` last among the labels,
  // up to `le="+Inf"`), then `_sum` and `_count`, from one Histogram::snapshot().
  std::string render() const;

 private:
  enum class Kind { counter, gauge, histogram };
  static std::string_view kind_name(Kind kind);  // as in `# TYPE`
  struct Family {
    std::string help;
    Kind kind = Kind::counter;
    std::vector<double> upper_bounds;  // histograms: shared by every label set
    // Rendered label set ("a=\"x\",b=\"y\"") -> value.
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
  };
  // Throws std::invalid_argument if the name is registered as another kind.
  Family& family(std::string_view name, std::string_view help, Kind kind);

  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
};

}  // namespace gw::host
