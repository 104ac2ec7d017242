#include "path_policy.hpp"

#include <stdexcept>
#include <utility>

namespace gw::http {
namespace {

constexpr char kHexDigits[] = "0123456789ABCDEF";  // percent-escapes: upper case (RFC 3986 §2.1)
constexpr char kLowerHexDigits[] = "0123456789abcdef";

// "0x0a": how error texts show an offending byte.
std::string hex_byte(unsigned char byte) {
  std::string out = "0x";
  out += kLowerHexDigits[byte >> 4];
  out += kLowerHexDigits[byte & 0xF];
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_control(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

// Bytes that may not appear raw anywhere in a request-target.
bool is_forbidden_raw(unsigned char c) {
  return c <= 0x20 || c == 0x7f || c >= 0x80;
}

bool is_alpha(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

// RFC 3986 pchar without pct-encoded, plus '/': the bytes encode_path leaves alone.
bool is_path_char(unsigned char c) {
  // unreserved punctuation, sub-delims, ':', '@', '/'
  constexpr std::string_view kPunctuation =
      "-._~"
      "!$&'()*+,;="
      ":@/";
  return is_alpha(c) || is_digit(c) || kPunctuation.find(static_cast<char>(c)) != std::string_view::npos;
}

// RFC 9110 tchar.
bool is_tchar(unsigned char c) {
  constexpr std::string_view kPunctuation = "!#$%&'*+-.^_`|~";
  return is_alpha(c) || is_digit(c) || kPunctuation.find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_token(std::string_view text) {
  if (text.empty()) return false;
  for (unsigned char c : text) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

// A method for a log line or a response: token characters as they are, anything else as "\xNN".
std::string printable_method(std::string_view method) {
  std::string out;
  for (unsigned char c : method) {
    if (is_tchar(c)) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHexDigits[c >> 4];
      out += kHexDigits[c & 0xF];
    }
  }
  return out;
}

// Well-formed UTF-8 per RFC 3629 / Unicode table 3-7: no overlong forms, no surrogates, nothing
// above U+10FFFF.
bool is_well_formed_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    unsigned char second_min = 0x80;
    unsigned char second_max = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) second_min = 0xA0;  // overlong
      if (lead == 0xED) second_max = 0x9F;  // surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) second_min = 0x90;  // overlong
      if (lead == 0xF4) second_max = 0x8F;  // above U+10FFFF
    } else {
      return false;  // continuation byte as lead, 0xC0/0xC1 (overlong), 0xF5..0xFF
    }
    if (text.size() - i < length) return false;
    const auto second = static_cast<unsigned char>(text[i + 1]);
    if (second < second_min || second > second_max) return false;
    for (std::size_t k = 2; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if (next < 0x80 || next > 0xBF) return false;
    }
    i += length;
  }
  return true;
}

bool is_dot_segment(std::string_view segment) {
  return segment == "." || segment == "..";
}

// A segment that some backend may read as "." or "..": its text before the first ';' is dots and
// spaces only, with at least one dot (servlet containers drop ";parameters", Windows trims trailing
// dots and spaces, some servers treat "..." as a parent reference).
bool is_ambiguous_dot_segment(std::string_view segment) {
  if (is_dot_segment(segment)) return false;
  const std::string_view head = segment.substr(0, segment.find(';'));
  bool has_dot = false;
  for (char c : head) {
    if (c == '.') {
      has_dot = true;
    } else if (c != ' ') {
      return false;
    }
  }
  return has_dot;
}

// Validates the path part of a target and decodes its escapes. Returns false with `error` set.
bool decode_path(std::string_view raw, std::string& decoded, std::string& error) {
  decoded.clear();
  decoded.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const auto c = static_cast<unsigned char>(raw[i]);
    if (c == '\\') {
      error = "backslash in path";
      return false;
    }
    if (is_forbidden_raw(c)) {
      error = "invalid character " + hex_byte(c) + " in path";
      return false;
    }
    if (c != '%') {
      decoded += static_cast<char>(c);
      continue;
    }
    const int high = i + 1 < raw.size() ? hex_value(raw[i + 1]) : -1;
    const int low = i + 2 < raw.size() ? hex_value(raw[i + 2]) : -1;
    if (high < 0 || low < 0) {
      error = "malformed percent-escape in path";
      return false;
    }
    const auto value = static_cast<unsigned char>(high * 16 + low);
    if (value == '/' || value == '\\' || is_control(value)) {
      // Echo the escape as sent: it is '%' and two hex digits, safe to show.
      error = "ambiguous encoding " + std::string(raw.substr(i, 3)) + " in path";
      return false;
    }
    decoded += static_cast<char>(value);
    i += 2;
  }
  if (!is_well_formed_utf8(decoded)) {
    error = "path is not well-formed UTF-8";
    return false;
  }
  return true;
}

// Collapses repeated slashes and removes dot segments from a decoded path starting with '/'.
bool remove_dot_segments(std::string_view decoded, std::string& out, std::string& error) {
  std::vector<std::string_view> kept;
  std::size_t segment_count = 0;
  bool trailing_slash = false;
  std::size_t pos = 1;  // after the leading '/'
  while (pos <= decoded.size()) {
    const std::size_t slash = decoded.find('/', pos);
    const std::size_t end = slash == std::string_view::npos ? decoded.size() : slash;
    const std::string_view segment = decoded.substr(pos, end - pos);
    pos = end + 1;
    if (segment.empty()) {
      // Between repeated slashes, or after a final slash.
      if (end == decoded.size()) trailing_slash = true;
      continue;
    }
    if (++segment_count > kMaxPathSegments) {
      error = "more than " + std::to_string(kMaxPathSegments) + " path segments";
      return false;
    }
    if (is_ambiguous_dot_segment(segment)) {
      error = "ambiguous dot segment in path";
      return false;
    }
    trailing_slash = false;
    if (segment == ".") {
      trailing_slash = true;
    } else if (segment == "..") {
      if (kept.empty()) {
        error = "path climbs above the root";
        return false;
      }
      kept.pop_back();
      trailing_slash = true;
    } else {
      kept.push_back(segment);
    }
  }
  out = "/";
  for (std::size_t k = 0; k < kept.size(); ++k) {
    if (k > 0) out += '/';
    out += kept[k];
  }
  if (trailing_slash && !kept.empty()) out += '/';
  return true;
}

bool validate_query(std::string_view query, std::string& error) {
  for (std::size_t i = 0; i < query.size(); ++i) {
    const auto c = static_cast<unsigned char>(query[i]);
    if (is_forbidden_raw(c)) {
      error = "invalid character " + hex_byte(c) + " in query";
      return false;
    }
    if (c == '%') {
      if (i + 2 >= query.size() || hex_value(query[i + 1]) < 0 || hex_value(query[i + 2]) < 0) {
        error = "malformed percent-escape in query";
        return false;
      }
      i += 2;
    }
  }
  return true;
}

// Whether `path` is a result of normalize_target: the form check() relies on.
bool is_normalized_path(std::string_view path) {
  if (path.empty() || path.front() != '/') return false;
  std::size_t pos = 1;
  while (pos < path.size()) {
    const std::size_t slash = path.find('/', pos);
    const std::size_t end = slash == std::string_view::npos ? path.size() : slash;
    const std::string_view segment = path.substr(pos, end - pos);
    if (segment.empty() || is_dot_segment(segment)) return false;
    pos = end + 1;
  }
  for (unsigned char c : path) {
    if (c == '\\' || is_control(c)) return false;
  }
  return true;
}

bool matches(const Resource& resource, std::string_view path) {
  const std::string_view base = resource.path;
  switch (resource.match) {
    case MatchKind::exact:
      return path == base;
    case MatchKind::prefix:
      return path.starts_with(base);
    case MatchKind::path_prefix:
      if (!path.starts_with(base)) return false;
      return path.size() == base.size() || base.back() == '/' || path[base.size()] == '/';
  }
  return false;
}

int specificity(MatchKind kind) {
  switch (kind) {
    case MatchKind::exact:
      return 2;
    case MatchKind::path_prefix:
      return 1;
    case MatchKind::prefix:
      return 0;
  }
  return 0;
}

}  // namespace

std::string encode_path(std::string_view decoded_path) {
  std::string out;
  out.reserve(decoded_path.size());
  for (unsigned char c : decoded_path) {
    if (is_path_char(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHexDigits[c >> 4];
      out += kHexDigits[c & 0xF];
    }
  }
  return out;
}

std::string NormalizedTarget::forward_target() const {
  std::string out = encode_path(path);
  if (had_query) {
    out += '?';
    out += query;
  }
  return out;
}

std::optional<NormalizedTarget> normalize_target(std::string_view target, std::string& error) {
  error.clear();
  if (target.empty()) {
    error = "empty request-target";
    return std::nullopt;
  }
  if (target.size() > kMaxTargetLength) {
    error = "request-target longer than " + std::to_string(kMaxTargetLength) + " bytes";
    return std::nullopt;
  }
  if (target.front() != '/') {
    error = "request-target is not in origin-form (must start with '/')";
    return std::nullopt;
  }
  if (target.find('#') != std::string_view::npos) {
    error = "fragment ('#') in request-target";
    return std::nullopt;
  }

  const std::size_t question = target.find('?');
  const std::string_view raw_path = target.substr(0, question);

  NormalizedTarget result;
  std::string decoded;
  if (!decode_path(raw_path, decoded, error)) return std::nullopt;
  if (!remove_dot_segments(decoded, result.path, error)) return std::nullopt;

  if (question != std::string_view::npos) {
    const std::string_view query = target.substr(question + 1);
    if (!validate_query(query, error)) return std::nullopt;
    result.query = std::string(query);
    result.had_query = true;
  }

  // Re-encoding can lengthen the path (a raw '"' is forwarded as "%22"); bounding the canonical form
  // keeps normalisation idempotent and the forwarded request line within the same limit.
  const std::size_t canonical_length =
      encode_path(result.path).size() + (result.had_query ? 1 + result.query.size() : 0);
  if (canonical_length > kMaxTargetLength) {
    error = "canonical request-target longer than " + std::to_string(kMaxTargetLength) + " bytes";
    return std::nullopt;
  }
  return result;
}

ResourcePolicy::ResourcePolicy(std::vector<Resource> resources) : resources_(std::move(resources)) {
  for (std::size_t index = 0; index < resources_.size(); ++index) {
    Resource& resource = resources_[index];
    const std::string where = "resource " + std::to_string(index) + ": ";
    std::string error;
    const auto normalized = normalize_target(resource.path, error);
    if (!normalized) throw std::invalid_argument(where + "invalid path: " + error);
    if (normalized->had_query) throw std::invalid_argument(where + "invalid path: a query is not allowed");
    resource.path = normalized->path;
    for (const std::string& method : resource.methods) {
      if (!is_token(method)) {
        throw std::invalid_argument(where + "method \"" + printable_method(method) +
                                    "\" is not a token (RFC 9110)");
      }
    }
  }
}

Decision ResourcePolicy::check(std::string_view method, std::string_view path, bool websocket_upgrade) const {
  Decision decision;
  if (!is_normalized_path(path)) {
    decision.reason = "path " + encode_path(path) + " is not normalised";
    return decision;
  }

  const Resource* best = nullptr;
  for (const Resource& resource : resources_) {
    if (!matches(resource, path)) continue;
    if (best == nullptr || resource.path.size() > best->path.size() ||
        (resource.path.size() == best->path.size() &&
         specificity(resource.match) > specificity(best->match))) {
      best = &resource;
    }
  }
  if (best == nullptr) {
    decision.reason = "no resource matches " + encode_path(path);
    return decision;
  }

  decision.resource = best;
  const std::string resource_name = encode_path(best->path);
  if (!best->enabled) {
    decision.reason = "resource " + resource_name + " is suspended";
    return decision;
  }
  if (!best->methods.empty()) {
    bool listed = false;
    for (const std::string& allowed : best->methods) {
      if (allowed == method) listed = true;
    }
    if (!listed) {
      decision.reason = "method " + printable_method(method) + " not allowed on " + resource_name;
      return decision;
    }
  }
  if (websocket_upgrade && !best->websocket) {
    decision.reason = "WebSocket upgrade not allowed on " + resource_name;
    return decision;
  }
  decision.allowed = true;
  return decision;
}

}  // namespace gw::http
