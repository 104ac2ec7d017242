#include "support/record.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace gw::e2e {
namespace {

class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  bool done() const { return pos_ >= text_.size(); }
  char peek() const { return done() ? '\0' : text_[pos_]; }
  void skip_spaces() {
    while (!done() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool consume(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  // A JSON string literal starting at the cursor ("..." with backslash escapes).
  std::optional<std::string> string_literal() {
    if (!consume('"')) return std::nullopt;
    std::string out;
    while (!done()) {
      char c = text_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (done()) return std::nullopt;
      char e = text_[pos_++];
      switch (e) {
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '/':
          out.push_back('/');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          if (pos_ + 4 > text_.size()) return std::nullopt;
          unsigned code = 0;
          auto hex = text_.substr(pos_, 4);
          auto [end, ec] = std::from_chars(hex.data(), hex.data() + 4, code, 16);
          if (ec != std::errc() || end != hex.data() + 4) return std::nullopt;
          pos_ += 4;
          // Records only escape control characters this way; keep other code points as UTF-8.
          if (code < 0x80) {
            out.push_back(static_cast<char>(code));
          } else if (code < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (code >> 6)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
          } else {
            out.push_back(static_cast<char>(0xE0 | (code >> 12)));
            out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
          }
          break;
        }
        default:
          return std::nullopt;
      }
    }
    return std::nullopt;
  }
  // A JSON scalar that is not a string: number, true, false or null.
  std::optional<std::string> bare_literal() {
    std::size_t start = pos_;
    while (!done()) {
      char c = text_[pos_];
      if (c == ',' || c == '}' || std::isspace(static_cast<unsigned char>(c))) break;
      if (c == '{' || c == '[' || c == '"') return std::nullopt;
      ++pos_;
    }
    std::string token(text_.substr(start, pos_ - start));
    if (token == "true" || token == "false" || token == "null") return token;
    double number = 0;
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), number);
    if (token.empty() || ec != std::errc() || end != token.data() + token.size()) return std::nullopt;
    return token;
  }
  // A logfmt key or bare value: everything up to a space or '='.
  std::string word(bool stop_at_equals) {
    std::size_t start = pos_;
    while (!done()) {
      char c = text_[pos_];
      if (c == ' ' || (stop_at_equals && c == '=')) break;
      ++pos_;
    }
    return std::string(text_.substr(start, pos_ - start));
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string Record::get(const std::string& key) const {
  auto it = fields.find(key);
  return it == fields.end() ? std::string() : it->second;
}

std::optional<std::int64_t> Record::integer(const std::string& key) const {
  auto it = fields.find(key);
  if (it == fields.end()) return std::nullopt;
  std::int64_t value = 0;
  const std::string& text = it->second;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool Record::matches(std::initializer_list<std::pair<std::string, std::string>> expected) const {
  return std::all_of(expected.begin(), expected.end(), [this](const auto& kv) {
    auto it = fields.find(kv.first);
    return it != fields.end() && it->second == kv.second;
  });
}

std::optional<Record> parse_flat_json(std::string_view line) {
  Record record{std::string(line), {}};
  Cursor in(line);
  in.skip_spaces();
  if (!in.consume('{')) return std::nullopt;
  in.skip_spaces();
  if (in.consume('}')) {
    in.skip_spaces();
    return in.done() ? std::optional(record) : std::nullopt;
  }
  while (true) {
    in.skip_spaces();
    auto key = in.string_literal();
    if (!key) return std::nullopt;
    in.skip_spaces();
    if (!in.consume(':')) return std::nullopt;
    in.skip_spaces();
    auto value = in.peek() == '"' ? in.string_literal() : in.bare_literal();
    if (!value) return std::nullopt;
    if (!record.fields.emplace(std::move(*key), std::move(*value)).second) return std::nullopt;  // duplicate
    in.skip_spaces();
    if (in.consume(',')) continue;
    if (!in.consume('}')) return std::nullopt;
    break;
  }
  in.skip_spaces();
  if (!in.done()) return std::nullopt;
  return record;
}

std::optional<Record> parse_logfmt(std::string_view line) {
  Record record{std::string(line), {}};
  Cursor in(line);
  bool first = true;
  while (true) {
    in.skip_spaces();
    if (in.done()) break;
    std::string key = in.word(true);
    if (!in.consume('=')) {
      if (!first || key.empty()) return std::nullopt;
      record.fields["ts"] = key;
      first = false;
      continue;
    }
    first = false;
    if (key.empty()) return std::nullopt;
    std::optional<std::string> value = in.peek() == '"' ? in.string_literal() : in.word(false);
    if (!value) return std::nullopt;
    record.fields[key] = std::move(*value);
  }
  if (record.fields.empty()) return std::nullopt;
  return record;
}

std::optional<Record> parse_log_line(std::string_view line) {
  if (!line.empty() && line.front() == '{') return parse_flat_json(line);
  return parse_logfmt(line);
}

bool contains_nocase(std::string_view text, std::string_view needle) {
  auto it = std::search(text.begin(), text.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
  return it != text.end();
}

}  // namespace gw::e2e
