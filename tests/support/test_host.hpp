// The core's host services for tests that run plugin code in their own process: a log that shows
// errors only, metrics kept for the test to read, and audit records at `audit_level` (into that log,
// so they cost their formatting but show nothing).
#pragma once

#include "config/config.hpp"
#include "host/audit.hpp"
#include "host/host_services.hpp"
#include "host/logger.hpp"
#include "host/metrics.hpp"

namespace gw::test {

struct TestHost {
  explicit TestHost(config::AuditLevel audit_level = config::AuditLevel::off)
      : audit(config::AuditConfig{audit_level, {}}, log) {}

  host::LogSink log{LogLevel::error, config::LogFormat::text};
  host::MetricsRegistry metrics;
  host::AuditLog audit;
  host::HostServices services{log, metrics, audit, 1};
};

}  // namespace gw::test
