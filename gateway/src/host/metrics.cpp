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

void render_sample(std::string& out, const std::string& name, const std::string& labels, std::string value) {
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

}  // namespace

MetricsRegistry::Family& MetricsRegistry::family(std::string_view name, std::string_view help,
                                                 bool is_counter) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{}).first;
    it->second.help = std::string(help);
    it->second.is_counter = is_counter;
  } else if (it->second.is_counter != is_counter) {
    throw std::logic_error("metric '" + std::string(name) + "' registered as both counter and gauge");
  }
  return it->second;
}

Counter& MetricsRegistry::counter(std::string_view name, std::string_view help, const MetricLabels& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = family(name, help, true).counters[render_labels(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& MetricsRegistry::gauge(std::string_view name, std::string_view help, const MetricLabels& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = family(name, help, false).gauges[render_labels(labels)];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, fam] : families_) {
    out += "# HELP " + name + " " + fam.help + "\n";
    out += "# TYPE " + name + (fam.is_counter ? " counter\n" : " gauge\n");
    for (const auto& [labels, c] : fam.counters) render_sample(out, name, labels, std::to_string(c->value()));
    for (const auto& [labels, g] : fam.gauges) render_sample(out, name, labels, std::to_string(g->value()));
  }
  return out;
}

}  // namespace gw::host
