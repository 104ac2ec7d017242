// The audit log: JSON lines in the configured file (opened for append), or records in the log stream
// when no file is configured. Level `security` writes security events only, `all` writes access
// events too, `off` writes nothing.
#pragma once

#include <cstdio>
#include <filesystem>
#include <mutex>

#include "config/config.hpp"
#include "gateway/plugin/host.hpp"
#include "host/logger.hpp"

namespace gw::host {

class AuditLog final : public Audit {
 public:
  // Throws std::runtime_error when the file cannot be opened.
  AuditLog(const config::AuditConfig& config, LogSink& fallback);
  ~AuditLog() override;
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  bool enabled(AuditClass kind) const noexcept override;
  void record(const AuditEvent& event) override;

 private:
  config::AuditLevel level_;
  LogSink& fallback_;
  std::FILE* file_ = nullptr;
  std::mutex mutex_;
};

}  // namespace gw::host
