// Host services: what the core offers every plugin.
//
// Logging, metrics, audit events, the shared splice, and a small pool for blocking work. All of it is
// thread-safe; a plugin keeps references it obtains at route creation for the life of the process.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
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

// Counters and gauges live in the core's registry; obtaining one is a lookup, using one is a single
// relaxed atomic operation, so obtain them once (at route creation) and keep the reference.
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
  std::int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class GW_PLUGIN_VISIBLE Metrics {
 public:
  virtual ~Metrics() = default;
  // The same name and labels always return the same object. Names follow Prometheus conventions
  // (`gateway_tcp_bytes_total`).
  virtual Counter& counter(std::string_view name, std::string_view help, const MetricLabels& labels) = 0;
  virtual Gauge& gauge(std::string_view name, std::string_view help, const MetricLabels& labels) = 0;
};

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
  std::size_t buffer_size = 60 * 1024;  // per direction
  // Optional counters the splice adds to as bytes move (a -> b is "upstream" for an edge handler).
  Counter* bytes_a_to_b = nullptr;
  Counter* bytes_b_to_a = nullptr;
};

struct SpliceResult {
  std::uint64_t bytes_a_to_b = 0;
  std::uint64_t bytes_b_to_a = 0;
  error_code error;  // first error in either direction (not eof)
  bool idle_timeout = false;
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
