// Host services: what the core offers every plugin.
//
// Logging, metrics, audit events, the shared splice, and a small pool for blocking work. All of it is
// thread-safe; a plugin keeps references it obtains at route creation for the life of the process.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "gateway/plugin/stream.hpp"

namespace gw {

// ---- logging ---------------------------------------------------------------------------------------

enum class LogLevel { debug, info, warn, error };

struct LogField {
  std::string_view key;
  std::string value;
};

class GW_PLUGIN_VISIBLE Logger {
 public:
  virtual ~Logger() = default;
  virtual bool enabled(LogLevel level) const noexcept = 0;
  // One structured record: an event name plus fields. Never pass secrets as field values.
  virtual void log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) = 0;
};

// ---- metrics ---------------------------------------------------------------------------------------

// Counters, gauges and histograms live in the core's registry; obtaining one is a lookup, using one is
// a few relaxed atomic operations without locks or allocation, so obtain them once (at route creation)
// and keep the reference.
class Counter {
 public:
  void add(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void add(std::int64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  void sub(std::int64_t n = 1) noexcept { value_.fetch_sub(n, std::memory_order_relaxed); }
  void set(std::int64_t n) noexcept { value_.store(n, std::memory_order_relaxed); }
  std::int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Observations counted in buckets with fixed upper bounds, plus their number and sum: a Prometheus
// histogram (`name_bucket{le="..."}`, `name_sum`, `name_count`). Bounds are inclusive (a value equal to
// a bound counts in that bucket) and a last bucket above the largest bound (`le="+Inf"`) is implicit.
class Histogram {
 public:
  static constexpr std::size_t kMaxBounds = 32;
  // Seconds, for request durations: 5 ms up to 10 s (and +Inf), the Prometheus client defaults.
  static constexpr std::array<double, 11> kLatencyBounds{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                         0.5,   1,    2.5,   5,    10};

  // Throws std::invalid_argument unless there are 1 to kMaxBounds bounds, all finite and strictly
  // increasing.
  explicit Histogram(std::span<const double> upper_bounds) : bound_count_(upper_bounds.size()) {
    if (upper_bounds.empty() || upper_bounds.size() > kMaxBounds) {
      throw std::invalid_argument("histogram needs 1 to " + std::to_string(kMaxBounds) +
                                  " upper bounds, got " + std::to_string(upper_bounds.size()));
    }
    for (std::size_t i = 0; i < upper_bounds.size(); ++i) {
      if (!std::isfinite(upper_bounds[i])) {
        throw std::invalid_argument("histogram upper bound " + std::to_string(i + 1) +
                                    " is not finite (the +Inf bucket is implicit)");
      }
      if (i > 0 && !(upper_bounds[i - 1] < upper_bounds[i])) {
        throw std::invalid_argument("histogram upper bounds must be strictly increasing (bound " +
                                    std::to_string(i + 1) + " is not greater than bound " +
                                    std::to_string(i) + ")");
      }
      bounds_[i] = upper_bounds[i];
    }
  }
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Lock-free and allocation-free: a binary search over the bounds, then one relaxed atomic increment
  // of the bucket, a compare-and-swap loop adding to the sum (a double, so no unit or range is
  // imposed on the values) and one relaxed atomic increment of the count. A NaN is ignored: it belongs
  // to no bucket and would make the sum NaN for good.
  void observe(double value) noexcept {
    if (std::isnan(value)) return;
    const auto bounds = upper_bounds();
    const auto bucket =
        static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin());
    buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
    double sum = sum_.load(std::memory_order_relaxed);
    while (!sum_.compare_exchange_weak(sum, sum + value, std::memory_order_relaxed)) {
    }
    count_.fetch_add(1, std::memory_order_relaxed);
  }
  // Records the duration in seconds.
  void observe(std::chrono::nanoseconds duration) noexcept {
    observe(std::chrono::duration<double>(duration).count());
  }

  std::span<const double> upper_bounds() const noexcept { return {bounds_.data(), bound_count_}; }

  struct Snapshot {
    // cumulative[i]: observations <= upper_bounds()[i]; only the first upper_bounds().size() are used.
    std::array<std::uint64_t, kMaxBounds> cumulative{};
    double sum = 0;
    std::uint64_t count = 0;  // all observations: the +Inf bucket
  };
  // Taken while other threads may observe; the buckets are read first, then the sum, the count last.
  // Guarantees: cumulative[] is non-decreasing and count >= every cumulative[i] (count is raised to
  // the buckets' total if an observation has reached its bucket but not yet the count), and neither
  // cumulative[i] nor count is ever smaller than in a snapshot taken before. An observation in flight
  // may show in some of the values and not yet in others, the sum included. Once the observing threads
  // have finished (joined), the snapshot is exact.
  Snapshot snapshot() const noexcept {
    Snapshot snap;
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < bound_count_; ++i) {
      total += buckets_[i].load(std::memory_order_relaxed);
      snap.cumulative[i] = total;
    }
    total += buckets_[bound_count_].load(std::memory_order_relaxed);
    snap.sum = sum_.load(std::memory_order_relaxed);
    snap.count = std::max(count_.load(std::memory_order_relaxed), total);
    return snap;
  }

 private:
  static_assert(std::atomic<double>::is_always_lock_free);

  std::size_t bound_count_;
  std::array<double, kMaxBounds> bounds_{};
  std::array<std::atomic<std::uint64_t>, kMaxBounds + 1> buckets_{};  // [bound_count_]: above the last
  std::atomic<double> sum_{0.0};
  std::atomic<std::uint64_t> count_{0};
};

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class GW_PLUGIN_VISIBLE Metrics {
 public:
  virtual ~Metrics() = default;
  // The same name and labels always return the same object. Names follow Prometheus conventions
  // (`gateway_tcp_bytes_total`, `gateway_http_request_duration_seconds`). A name keeps the type it was
  // first registered with: asking for it as another type throws std::invalid_argument.
  virtual Counter& counter(std::string_view name, std::string_view help, const MetricLabels& labels) = 0;
  virtual Gauge& gauge(std::string_view name, std::string_view help, const MetricLabels& labels) = 0;
  // Every label set of one name shares the same bounds (Histogram::kLatencyBounds for request
  // durations in seconds). Throws std::invalid_argument for invalid bounds, other bounds than the
  // name was first registered with, a name already used by a counter or gauge, or a label named `le`.
  virtual Histogram& histogram(std::string_view name, std::string_view help, const MetricLabels& labels,
                               std::span<const double> upper_bounds) = 0;
};

// The families every route type reports into, named and described once, so that `/metrics` has one
// family whichever plugin registers it first. Bytes relayed for `destination` (or a connector's
// system) in `direction`: "upstream" (client to target) or "downstream".
inline Counter& bytes_relayed(Metrics& metrics, const std::string& destination, const char* direction) {
  return metrics.counter("gateway_bytes_total", "Bytes relayed",
                         {{"destination", destination}, {"direction", direction}});
}
// Connections of `destination` that ended in an error, by `reason` ("connect_failed", "idle_timeout",
// "half_close_timeout", "error", ...).
inline Counter& connection_errors(Metrics& metrics, const std::string& destination, const char* reason) {
  return metrics.counter("gateway_errors_total", "Connections that ended in an error",
                         {{"destination", destination}, {"reason", reason}});
}

// ---- audit -----------------------------------------------------------------------------------------

// `security` events (access denied, configuration changes) are written at audit level security and
// all; `access` events (traffic that was allowed, per connection or request) only at level all.
enum class AuditClass { security, access };

struct AuditField {
  std::string key;
  std::variant<std::string, std::int64_t> value;
};

struct AuditEvent {
  AuditClass kind = AuditClass::access;
  std::string event;  // e.g. "tcp.connection"
  std::vector<AuditField> fields;
};

class GW_PLUGIN_VISIBLE Audit {
 public:
  virtual ~Audit() = default;
  // Lets a caller skip building an event nobody will write.
  virtual bool enabled(AuditClass kind) const noexcept = 0;
  virtual void record(const AuditEvent& event) = 0;
};

// ---- splice ----------------------------------------------------------------------------------------

struct SpliceOptions {
  // Both directions idle for this long ends the splice. Zero disables the idle timeout.
  std::chrono::milliseconds idle_timeout{0};
  // Once one direction has ended (eof, passed on as a half-close), the other one idle for this long
  // ends the splice, when shorter than idle_timeout. Zero: idle_timeout alone.
  std::chrono::milliseconds half_close_timeout{0};
  std::size_t buffer_size = 60 * 1024;  // per direction
  // Optional counters the splice adds to as bytes move (a -> b is "upstream" for an edge handler).
  Counter* bytes_a_to_b = nullptr;
  Counter* bytes_b_to_a = nullptr;
};

struct SpliceResult {
  std::uint64_t bytes_a_to_b = 0;
  std::uint64_t bytes_b_to_a = 0;
  error_code error;           // first error in either direction (not eof)
  bool idle_timeout = false;  // ended by idle_timeout, or by half_close_timeout (then both set)
  bool half_close_timeout = false;
  bool aborted_by_a = false;  // which side failed first, when error is set
};

// ---- the host --------------------------------------------------------------------------------------

class GW_PLUGIN_VISIBLE Host {
 public:
  virtual ~Host() = default;
  virtual Logger& logger() = 0;
  virtual Metrics& metrics() = 0;
  virtual Audit& audit() = 0;

  // Copies bytes both ways between a and b until both directions reached eof, one failed, or the idle
  // timeout fired. Honours half-close (eof from a becomes shutdown_write on b and the other direction
  // keeps flowing) and backpressure (one buffer per direction, the next read only after the write
  // completed). On error or idle timeout both streams are closed.
  virtual asio::awaitable<SpliceResult> splice(Stream& a, Stream& b, const SpliceOptions& options) = 0;

  // Runs blocking work (a client library without an async API) on the host's worker pool and resumes
  // the caller on its own executor afterwards. Exceptions thrown by `work` are rethrown to the caller.
  virtual asio::awaitable<void> run_blocking(std::function<void()> work) = 0;
};

}  // namespace gw
