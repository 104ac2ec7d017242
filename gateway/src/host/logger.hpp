// The gateway's structured log: one record per line on stderr, logfmt (`text`) or JSON lines (`json`).
#pragma once

#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "gateway/plugin/host.hpp"

namespace gw::host {

class LogSink final : public Logger {
 public:
  LogSink(LogLevel min_level, config::LogFormat format, std::FILE* out = stderr);

  bool enabled(LogLevel level) const noexcept override { return level >= min_level_; }
  void log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) override;
  // The same with fields in a vector (for records built piecewise, such as audit records).
  void log(LogLevel level, std::string_view event, const std::vector<LogField>& fields);

  void reconfigure(LogLevel min_level, config::LogFormat format);

 private:
  void write(LogLevel level, std::string_view event, const LogField* begin, const LogField* end);

  LogLevel min_level_;
  config::LogFormat format_;
  std::FILE* out_;
  std::mutex mutex_;
};

std::string_view to_string(LogLevel level) noexcept;

}  // namespace gw::host
