#include "host/text_format.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace gw::host {
namespace {

bool needs_escape(unsigned char c) {
  return c < 0x20 || c == '"' || c == '\\' || c == 0x7f;
}

void append_escaped(std::string& out, std::string_view value) {
  for (char ch : value) {
    auto c = static_cast<unsigned char>(ch);
    if (!needs_escape(c)) {
      out.push_back(ch);
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      }
    }
  }
}

}  // namespace

void append_json_string(std::string& out, std::string_view value) {
  out.push_back('"');
  append_escaped(out, value);
  out.push_back('"');
}

void append_logfmt_value(std::string& out, std::string_view value) {
  bool bare = !value.empty();
  for (char ch : value) {
    auto c = static_cast<unsigned char>(ch);
    if (c == ' ' || c == '=' || needs_escape(c)) {
      bare = false;
      break;
    }
  }
  if (bare) {
    out += value;
  } else {
    append_json_string(out, value);
  }
}

void append_prometheus_label_value(std::string& out, std::string_view value) {
  for (char ch : value) {
    switch (ch) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.push_back(ch);
    }
  }
}

void append_prometheus_float(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];  // the shortest round-trip form of a double needs at most 24 characters
    const auto result = std::to_chars(buf, buf + sizeof buf, value);
    out.append(buf, result.ptr);
  }
}

void append_timestamp(std::string& out, std::chrono::system_clock::time_point when) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(when.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  out += buf;
}

}  // namespace gw::host
