// Escaping for the gateway's line-oriented outputs: logfmt logs, JSON lines (logs, audit) and the
// Prometheus text format. Appends to `out`; no allocation beyond growing it.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace gw::host {

// `"..."` with JSON escapes (control characters as \u00XX).
void append_json_string(std::string& out, std::string_view value);
// A logfmt value: bare when it has no space, quote, '=' or control character, else quoted like JSON.
void append_logfmt_value(std::string& out, std::string_view value);
// A Prometheus label value: backslash, double quote and newline escaped (without the quotes).
void append_prometheus_label_value(std::string& out, std::string_view value);
// A Prometheus sample value or `le` bound: the shortest text that reads back as exactly the same double
// ("0.005", "1", "2.5", "1e-07"); "+Inf", "-Inf" and "NaN" for the special values.
void append_prometheus_float(std::string& out, double value);
// RFC 3339 UTC with milliseconds: 2026-11-21T16:40:00.123Z
void append_timestamp(std::string& out, std::chrono::system_clock::time_point when);

}  // namespace gw::host
