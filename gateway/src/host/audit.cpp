#include "host/audit.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "host/text_format.hpp"

namespace gw::host {

AuditLog::AuditLog(const config::AuditConfig& config, LogSink& fallback)
    : level_(config.level), fallback_(fallback) {
  if (level_ == config::AuditLevel::off || config.file.empty()) return;
  file_ = std::fopen(config.file.c_str(), "ae");
  if (!file_) {
    throw std::runtime_error("cannot open audit file " + config.file.string() + ": " + std::strerror(errno));
  }
}

AuditLog::~AuditLog() {
  if (file_) std::fclose(file_);
}

bool AuditLog::enabled(AuditClass kind) const noexcept {
  switch (level_) {
    case config::AuditLevel::off:
      return false;
    case config::AuditLevel::security:
      return kind == AuditClass::security;
    case config::AuditLevel::all:
      return true;
  }
  return false;
}

void AuditLog::record(const AuditEvent& event) {
  if (!enabled(event.kind)) return;
  const char* kind = event.kind == AuditClass::security ? "security" : "access";
  if (!file_) {
    std::vector<LogField> fields;
    fields.reserve(event.fields.size() + 2);
    fields.push_back({"class", kind});
    fields.push_back({"audit_event", event.event});
    for (const auto& f : event.fields) {
      fields.push_back({f.key, std::holds_alternative<std::string>(f.value)
                                   ? std::get<std::string>(f.value)
                                   : std::to_string(std::get<std::int64_t>(f.value))});
    }
    fallback_.log(LogLevel::info, "audit", fields);
    return;
  }
  std::string line = "{\"ts\":\"";
  append_timestamp(line, std::chrono::system_clock::now());
  line += "\",\"class\":\"";
  line += kind;
  line += "\",\"event\":";
  append_json_string(line, event.event);
  for (const auto& f : event.fields) {
    line.push_back(',');
    append_json_string(line, f.key);
    line.push_back(':');
    if (auto* s = std::get_if<std::string>(&f.value)) {
      append_json_string(line, *s);
    } else {
      line += std::to_string(std::get<std::int64_t>(f.value));
    }
  }
  line += "}\n";
  std::lock_guard lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

}  // namespace gw::host
