#include "support/metrics.hpp"

#include <cstdlib>
#include <sstream>

#include "support/poll.hpp"

namespace gw::e2e {
namespace {

// Reads `{k="v",k2="v2"}` starting at `pos` (which points at '{'); advances pos past '}'.
std::optional<Labels> parse_labels(std::string_view line, std::size_t& pos) {
  Labels labels;
  ++pos;
  while (pos < line.size() && line[pos] != '}') {
    std::size_t eq = line.find('=', pos);
    if (eq == std::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"') return std::nullopt;
    std::string key(line.substr(pos, eq - pos));
    std::string value;
    pos = eq + 2;
    while (pos < line.size() && line[pos] != '"') {
      if (line[pos] == '\\' && pos + 1 < line.size()) {
        ++pos;
        value.push_back(line[pos] == 'n' ? '\n' : line[pos]);
      } else {
        value.push_back(line[pos]);
      }
      ++pos;
    }
    if (pos >= line.size()) return std::nullopt;
    ++pos;  // closing quote
    labels[key] = value;
    if (pos < line.size() && line[pos] == ',') ++pos;
  }
  if (pos >= line.size()) return std::nullopt;
  ++pos;  // '}'
  return labels;
}

}  // namespace

std::optional<std::string> fetch_metrics_text(std::uint16_t admin_port) {
  ChildProcess curl(
      {"curl", "-sS", "--max-time", "10", "http://127.0.0.1:" + std::to_string(admin_port) + "/metrics"});
  auto status = curl.wait_for_exit(kGuard);
  if (!status || !status->success()) return std::nullopt;
  return curl.text(Stream::out);
}

std::vector<MetricSample> parse_prometheus(std::string_view text) {
  std::vector<MetricSample> samples;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    MetricSample sample;
    std::size_t pos = line.find_first_of("{ ");
    if (pos == std::string::npos) continue;
    sample.name = line.substr(0, pos);
    if (line[pos] == '{') {
      auto labels = parse_labels(line, pos);
      if (!labels) continue;
      sample.labels = std::move(*labels);
    }
    std::string rest = line.substr(pos);
    char* end = nullptr;
    sample.value = std::strtod(rest.c_str(), &end);
    if (end == rest.c_str()) continue;
    samples.push_back(std::move(sample));
  }
  return samples;
}

std::optional<double> find_metric(const std::vector<MetricSample>& samples, std::string_view name,
                                  const Labels& labels) {
  for (const auto& sample : samples) {
    if (sample.name != name) continue;
    bool all = true;
    for (const auto& [key, value] : labels) {
      auto it = sample.labels.find(key);
      if (it == sample.labels.end() || it->second != value) {
        all = false;
        break;
      }
    }
    if (all) return sample.value;
  }
  return std::nullopt;
}

std::optional<double> metric_value(std::uint16_t admin_port, std::string_view name, const Labels& labels) {
  auto text = fetch_metrics_text(admin_port);
  if (!text) return std::nullopt;
  return find_metric(parse_prometheus(*text), name, labels);
}

std::optional<double> wait_for_metric(std::uint16_t admin_port, std::string_view name, const Labels& labels,
                                      const std::function<bool(double)>& accept,
                                      std::chrono::milliseconds timeout) {
  std::optional<double> accepted;
  poll_until(
      [&] {
        auto value = metric_value(admin_port, name, labels);
        if (value && accept(*value)) accepted = value;
        return accepted.has_value();
      },
      timeout);
  return accepted;
}

}  // namespace gw::e2e
