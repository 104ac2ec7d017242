#include "host/logger.hpp"

#include <chrono>

#include "host/text_format.hpp"

namespace gw::host {

std::string_view to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warn:
      return "warn";
    case LogLevel::error:
      return "error";
  }
  return "unknown";
}

LogSink::LogSink(LogLevel min_level, config::LogFormat format, std::FILE* out)
    : min_level_(min_level), format_(format), out_(out) {}

void LogSink::reconfigure(LogLevel min_level, config::LogFormat format) {
  std::lock_guard lock(mutex_);
  min_level_ = min_level;
  format_ = format;
}

void LogSink::log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
  if (enabled(level)) write(level, event, fields.begin(), fields.end());
}

void LogSink::log(LogLevel level, std::string_view event, const std::vector<LogField>& fields) {
  if (enabled(level)) write(level, event, fields.data(), fields.data() + fields.size());
}

void LogSink::write(LogLevel level, std::string_view event, const LogField* begin, const LogField* end) {
  std::string line;
  line.reserve(160);
  auto now = std::chrono::system_clock::now();
  if (format_ == config::LogFormat::json) {
    line += "{\"ts\":\"";
    append_timestamp(line, now);
    line += "\",\"level\":\"";
    line += to_string(level);
    line += "\",\"event\":";
    append_json_string(line, event);
    for (auto* f = begin; f != end; ++f) {
      line.push_back(',');
      append_json_string(line, f->key);
      line.push_back(':');
      append_json_string(line, f->value);
    }
    line += "}\n";
  } else {
    append_timestamp(line, now);
    line += " level=";
    line += to_string(level);
    line += " event=";
    append_logfmt_value(line, event);
    for (auto* f = begin; f != end; ++f) {
      line.push_back(' ');
      line += f->key;
      line.push_back('=');
      append_logfmt_value(line, f->value);
    }
    line.push_back('\n');
  }
  std::lock_guard lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

}  // namespace gw::host
