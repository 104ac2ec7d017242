#include "host/metrics.hpp"

#include <algorithm>
#include <stdexcept>

#include "host/text_format.hpp"

namespace gw::host {
namespace {

std::string render_labels(MetricLabels labels) {
  std::sort(labels.begin(), labels.end());
  std::string out;
  for (const auto& [key, value] : labels) {
    if (!out.empty()) out.push_back(',');
    out += key;
    out += "=\"";
    append_prometheus_label_value(out, value);
    out.push_back('"');
  }
  return out;
}

void render_sample(std::string& out, std::string_view name, std::string_view labels, std::string_view value) {
  out += name;
  if (!labels.empty()) {
    out.push_back('{');
    out += labels;
    out.push_back('}');
  }
  out.push_back(' ');
  out += value;
  out.push_back('\n');
}

std::string render_bounds(std::span<const double> bounds) {
  std::string out = "[";
  for (double bound : bounds) {
    if (out.size() > 1) out += ", ";
    append_prometheus_float(out, bound);
  }
  out += "]";
  return out;
}

void render_histogram(std::string& out, const std::string& name, const std::string& labels,
                      const Histogram& histogram) {
  const auto snap = histogram.snapshot();
  const auto bounds = histogram.upper_bounds();
  const std::string bucket_name = name + "_bucket";
  const std::string le_prefix = labels.empty() ? "le=\"" : labels + ",le=\"";
  std::string bucket_labels;
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    bucket_labels = le_prefix;
    if (i < bounds.size()) {
      append_prometheus_float(bucket_labels, bounds[i]);
    } else {
      bucket_labels += "+Inf";
    }
    bucket_labels.push_back('"');
    render_sample(out, bucket_name, bucket_labels,
                  std::to_string(i < bounds.size() ? snap.cumulative[i] : snap.count));
  }
  std::string sum;
  append_prometheus_float(sum, snap.sum);
  render_sample(out, name + "_sum", labels, sum);
  render_sample(out, name + "_count", labels, std::to_string(snap.count));
}

}  // namespace

std::string_view MetricsRegistry::kind_name(Kind kind) {
  switch (kind) {
    case Kind::counter:
      return "counter";
    case Kind::gauge:
      return "gauge";
    case Kind::histogram:
      return "histogram";
  }
  return "metric";
}

MetricsRegistry::Family& MetricsRegistry::family(std::string_view name, std::string_view help, Kind kind) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{}).first;
    it->second.help = std::string(help);
    it->second.kind = kind;
  } else if (it->second.kind != kind) {
    throw std::invalid_argument("metric '" + std::string(name) + "' registered as both " +
                                std::string(kind_name(it->second.kind)) + " and " +
                                std::string(kind_name(kind)));
  }
  return it->second;
}

Counter& MetricsRegistry::counter(std::string_view name, std::string_view help, const MetricLabels& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = family(name, help, Kind::counter).counters[render_labels(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& MetricsRegistry::gauge(std::string_view name, std::string_view help, const MetricLabels& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = family(name, help, Kind::gauge).gauges[render_labels(labels)];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& MetricsRegistry::histogram(std::string_view name, std::string_view help,
                                      const MetricLabels& labels, std::span<const double> upper_bounds) {
  for (const auto& [key, value] : labels) {
    if (key == "le") {
      throw std::invalid_argument("histogram '" + std::string(name) +
                                  "': the label 'le' is reserved for the bucket bounds");
    }
  }
  // Validates the bounds before the name is registered; dropped if the label set already exists.
  auto fresh = std::make_unique<Histogram>(upper_bounds);
  std::lock_guard lock(mutex_);
  auto& fam = family(name, help, Kind::histogram);
  if (fam.upper_bounds.empty()) {
    fam.upper_bounds.assign(upper_bounds.begin(), upper_bounds.end());
  } else if (!std::ranges::equal(fam.upper_bounds, upper_bounds)) {
    throw std::invalid_argument("histogram '" + std::string(name) + "' registered with bounds " +
                                render_bounds(fam.upper_bounds) + ", asked for again with bounds " +
                                render_bounds(upper_bounds));
  }
  auto& slot = fam.histograms[render_labels(labels)];
  if (!slot) slot = std::move(fresh);
  return *slot;
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, fam] : families_) {
    out += "# HELP " + name + " " + fam.help + "\n";
    out += "# TYPE " + name + " ";
    out += kind_name(fam.kind);
    out += "\n";
    for (const auto& [labels, c] : fam.counters) render_sample(out, name, labels, std::to_string(c->value()));
    for (const auto& [labels, g] : fam.gauges) render_sample(out, name, labels, std::to_string(g->value()));
    for (const auto& [labels, h] : fam.histograms) render_histogram(out, name, labels, *h);
  }
  return out;
}

}  // namespace gw::host
