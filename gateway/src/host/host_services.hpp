// The core's implementation of gw::Host: what every plugin gets.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include "gateway/plugin/host.hpp"
#include "host/audit.hpp"
#include "host/logger.hpp"
#include "host/metrics.hpp"

namespace gw::host {

class HostServices final : public Host {
 public:
  HostServices(LogSink& logger, MetricsRegistry& metrics, Audit& audit, unsigned blocking_threads = 4);
  ~HostServices() override;

  Logger& logger() override { return logger_; }
  Metrics& metrics() override { return metrics_; }
  Audit& audit() override { return audit_; }
  asio::awaitable<SpliceResult> splice(Stream& a, Stream& b, const SpliceOptions& options) override;
  asio::awaitable<void> run_blocking(std::function<void()> work) override;

  // Waits for blocking work in flight and stops the pool.
  void stop();

 private:
  LogSink& logger_;
  MetricsRegistry& metrics_;
  Audit& audit_;
  asio::thread_pool blocking_pool_;
};

}  // namespace gw::host
