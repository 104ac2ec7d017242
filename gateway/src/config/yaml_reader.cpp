#include "config/yaml_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <system_error>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include "config/config.hpp"

namespace gw::config::yaml {

namespace {

using std::chrono::milliseconds;

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;
constexpr std::uint64_t GiB = 1024 * MiB;
constexpr std::uint64_t TiB = 1024 * GiB;

constexpr std::size_t kQuoteLimit = 60;

// yaml-cpp 0.7 loops on some malformed input, producing events forever (a stray ',' at the top
// level: empty documents without end) until memory runs out. A document cannot hold more nodes than
// about one per byte (an implicit null costs at least the ':' or '?' that implies it), so this pass
// counts the parser's events before the document is loaded and stops at twice the text's length.
class EventBudget final : public YAML::EventHandler {
 public:
  explicit EventBudget(std::size_t text_size) : budget_(2 * text_size + 64) {}

  void OnDocumentStart(const YAML::Mark& mark) override { spend(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { spend(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { spend(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override {
    spend(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    spend(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    spend(mark);
  }
  void OnMapEnd() override {}

 private:
  void spend(const YAML::Mark& mark) {
    if (budget_-- == 0) throw YAML::ParserException(mark, "the parser cannot get past this point");
  }
  std::size_t budget_;
};

// Runs the parser over `text` with an EventBudget; throws what the parser throws.
void check_event_count(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  EventBudget budget(text.size());
  while (parser.HandleNextDocument(budget)) {
  }
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Reads a run of decimal digits at `pos`, saturating at `limit + 1` so that overflow is noticed without
// wrapping. Returns false when there is no digit.
bool read_digits(std::string_view text, std::size_t& pos, std::uint64_t limit, std::uint64_t& value,
                 bool& overflow) {
  const std::size_t start = pos;
  value = 0;
  while (pos < text.size() && is_digit(text[pos])) {
    const auto digit = static_cast<std::uint64_t>(text[pos] - '0');
    if (value > (limit - digit) / 10) {
      overflow = true;
      value = limit;
    } else {
      value = value * 10 + digit;
    }
    ++pos;
  }
  return pos > start;
}

std::string or_list(std::initializer_list<std::string_view> words) {
  std::string out;
  std::size_t i = 0;
  for (auto word : words) {
    if (i > 0) out += (i + 1 == words.size()) ? " or " : ", ";
    out += word;
    ++i;
  }
  return out;
}

std::string range_text(std::int64_t min, std::int64_t max) {
  constexpr auto lowest = std::numeric_limits<std::int64_t>::min();
  constexpr auto highest = std::numeric_limits<std::int64_t>::max();
  if (min == lowest && max == highest) return "an integer";
  if (max == highest) return "an integer of at least " + std::to_string(min);
  if (min == lowest) return "an integer of at most " + std::to_string(max);
  return "an integer from " + std::to_string(min) + " to " + std::to_string(max);
}

bool is_true(std::string_view text) {
  return text == "true" || text == "True" || text == "TRUE";
}
bool is_false(std::string_view text) {
  return text == "false" || text == "False" || text == "FALSE";
}

// A hint for a syntax error at `error_line` (1-based) that follows a line indented with a tab, which
// YAML does not allow.
std::string tab_hint(std::string_view text, int error_line) {
  int line = 1;
  std::size_t start = 0;
  while (start < text.size() && line <= error_line) {
    const std::size_t indent_end = text.find_first_not_of(" \t", start);
    const bool blank =
        indent_end == std::string_view::npos || text[indent_end] == '\n' || text[indent_end] == '\r';
    if (!blank && text.substr(start, indent_end - start).find('\t') != std::string_view::npos) {
      return " (line " + std::to_string(line) + " is indented with a tab; YAML indentation must use spaces)";
    }
    const std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) break;
    start = end + 1;
    ++line;
  }
  return "";
}

}  // namespace

// ---- value parsers ---------------------------------------------------------------------------------

std::optional<milliseconds> parse_duration(std::string_view text, bool& out_of_range) {
  out_of_range = false;
  if (text == "0") return milliseconds(0);
  if (text.empty()) return std::nullopt;
  const auto limit = static_cast<std::uint64_t>(kMaxDuration.count());
  std::uint64_t total = 0;
  bool overflow = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::uint64_t number = 0;
    if (!read_digits(text, pos, limit, number, overflow)) return std::nullopt;
    std::uint64_t unit = 0;
    if (text.substr(pos, 2) == "ms") {
      unit = 1;
      pos += 2;
    } else if (pos < text.size() && text[pos] == 's') {
      unit = 1000;
      ++pos;
    } else if (pos < text.size() && text[pos] == 'm') {
      unit = 60 * 1000;
      ++pos;
    } else if (pos < text.size() && text[pos] == 'h') {
      unit = 60 * 60 * 1000;
      ++pos;
    } else {
      return std::nullopt;
    }
    if (number > (limit - total) / unit) {
      overflow = true;
      total = limit;
    } else {
      total += number * unit;
    }
  }
  if (overflow) {
    out_of_range = true;
    return std::nullopt;
  }
  return milliseconds(static_cast<std::int64_t>(total));
}

std::optional<std::uint64_t> parse_size(std::string_view text, bool& out_of_range) {
  out_of_range = false;
  constexpr auto limit = std::numeric_limits<std::uint64_t>::max();
  std::size_t pos = 0;
  std::uint64_t number = 0;
  bool overflow = false;
  if (!read_digits(text, pos, limit, number, overflow)) return std::nullopt;
  const auto unit_text = text.substr(pos);
  std::uint64_t unit = 0;
  if (unit_text.empty() || unit_text == "B") {
    unit = 1;
  } else if (unit_text == "KiB") {
    unit = KiB;
  } else if (unit_text == "MiB") {
    unit = MiB;
  } else if (unit_text == "GiB") {
    unit = GiB;
  } else if (unit_text == "TiB") {
    unit = TiB;
  } else {
    return std::nullopt;
  }
  if (overflow || number > limit / unit) {
    out_of_range = true;
    return std::nullopt;
  }
  return number * unit;
}

std::optional<std::int64_t> parse_integer(std::string_view text, bool& out_of_range) {
  out_of_range = false;
  const std::size_t digits_start = (!text.empty() && text.front() == '-') ? 1 : 0;
  if (text.size() == digits_start) return std::nullopt;
  if (!std::all_of(text.begin() + static_cast<std::ptrdiff_t>(digits_start), text.end(), is_digit)) {
    return std::nullopt;
  }
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc::result_out_of_range) {
    out_of_range = true;
    return std::nullopt;
  }
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// ---- message helpers -------------------------------------------------------------------------------

std::string format_duration(milliseconds value) {
  const auto ms = value.count();
  if (ms != 0 && ms % 3600000 == 0) return std::to_string(ms / 3600000) + "h";
  if (ms != 0 && ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string format_size(std::uint64_t bytes) {
  if (bytes != 0 && bytes % GiB == 0) return std::to_string(bytes / GiB) + "GiB";
  if (bytes != 0 && bytes % MiB == 0) return std::to_string(bytes / MiB) + "MiB";
  if (bytes != 0 && bytes % KiB == 0) return std::to_string(bytes / KiB) + "KiB";
  return std::to_string(bytes);
}

std::string quote(std::string_view text) {
  bool shortened = false;
  if (text.size() > kQuoteLimit) {
    std::size_t cut = kQuoteLimit - 3;
    // Do not split a UTF-8 sequence.
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text = text.substr(0, cut);
    shortened = true;
  }
  std::string out = "'";
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (byte < 0x20 || byte == 0x7F) {
          static constexpr char hex[] = "0123456789abcdef";
          out += "\\x";
          out += hex[byte >> 4];
          out += hex[byte & 0xF];
        } else {
          out += c;
        }
    }
  }
  if (shortened) out += "...";
  out += "'";
  return out;
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return quote(node.Scalar());
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

std::string join(const std::vector<std::string>& words, std::string_view separator) {
  std::string out;
  for (const auto& word : words) {
    if (!out.empty()) out += separator;
    out += word;
  }
  return out;
}

std::string child_key(std::string_view parent, std::string_view name) {
  std::string out(parent);
  if (!out.empty()) out += '.';
  out += name;
  return out;
}

std::string item_key(std::string_view parent, std::size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

// ---- files and names -------------------------------------------------------------------------------

std::filesystem::path resolve_path(const std::filesystem::path& base_dir, const std::filesystem::path& path) {
  if (path.is_absolute()) return path.lexically_normal();
  return (base_dir / path).lexically_normal();
}

std::filesystem::path directory_of(const std::filesystem::path& file) {
  std::error_code error;
  auto absolute = std::filesystem::absolute(file, error);
  if (error) absolute = file;
  return absolute.lexically_normal().parent_path();
}

bool is_lower_name(std::string_view text, std::size_t max_length) {
  if (text.empty() || text.size() > max_length) return false;
  if (text.front() < 'a' || text.front() > 'z') return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '-'; });
}

std::optional<std::string> read_file(const std::filesystem::path& file, std::uintmax_t max_bytes,
                                     std::string& error) {
  std::error_code status_error;
  const auto status = std::filesystem::status(file, status_error);
  if (status_error) {
    error = "cannot read the file: " + status_error.message();
    return std::nullopt;
  }
  if (std::filesystem::is_directory(status)) {
    error = "cannot read the file: it is a directory";
    return std::nullopt;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    error = std::string("cannot read the file: ") + std::strerror(errno);
    return std::nullopt;
  }
  std::string text;
  char chunk[64 * 1024];
  while (in) {
    in.read(chunk, sizeof chunk);
    text.append(chunk, static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_bytes) {
      error = "the file is larger than " + format_size(max_bytes);
      return std::nullopt;
    }
  }
  if (in.bad()) {
    error = "cannot read the file: read error";
    return std::nullopt;
  }
  return text;
}

// ---- Reader ----------------------------------------------------------------------------------------

Position Reader::position(const YAML::Mark& mark) const {
  if (mark.line < 0 || mark.is_null()) return Position{file_, 0, 0};
  return Position{file_, mark.line + 1, mark.column < 0 ? 0 : mark.column + 1};
}

Position Reader::position(const YAML::Node& node) const {
  if (!node.IsDefined()) return Position{file_, 0, 0};
  return position(node.Mark());
}

void Reader::add(Position where, std::string key, std::string message) {
  problems_.push_back(Problem{std::move(where), std::move(key), std::move(message)});
}

void Reader::add(const YAML::Node& at, std::string key, std::string message) {
  add(position(at), std::move(key), std::move(message));
}

std::vector<Problem> Reader::take() {
  std::stable_sort(problems_.begin(), problems_.end(), [](const Problem& a, const Problem& b) {
    if (a.where.line != b.where.line) return a.where.line < b.where.line;
    return a.where.column < b.where.column;
  });
  return std::move(problems_);
}

void Reader::throw_if_any() {
  if (!problems_.empty()) throw Problems(take());
}

std::optional<YAML::Node> Reader::parse_mapping_document(std::string_view text) {
  if (const auto nul = text.find('\0'); nul != std::string_view::npos) {
    const auto before = text.substr(0, nul);
    const int line = static_cast<int>(std::count(before.begin(), before.end(), '\n')) + 1;
    const auto line_start = before.rfind('\n');
    const int column = static_cast<int>(line_start == std::string_view::npos ? nul + 1 : nul - line_start);
    add(Position{file_, line, column}, "", "the file contains a NUL byte; expected YAML text");
    return std::nullopt;
  }
  std::vector<YAML::Node> documents;
  try {
    const std::string copy(text);
    check_event_count(copy);
    documents = YAML::LoadAll(copy);
  } catch (const YAML::DeepRecursion& e) {
    add(position(e.mark), "", "the document is nested too deeply");
    return std::nullopt;
  } catch (const YAML::Exception& e) {
    add(position(e.mark), "", "YAML syntax error: " + e.msg + tab_hint(text, e.mark.line + 1));
    return std::nullopt;
  } catch (const std::exception& e) {
    add(Position{file_, 0, 0}, "", std::string("cannot parse the file: ") + e.what());
    return std::nullopt;
  }
  if (documents.empty() || (documents.size() == 1 && documents.front().IsNull())) {
    add(Position{file_, 0, 0}, "", "the file is empty");
    return std::nullopt;
  }
  if (documents.size() > 1) {
    add(documents[1], "", "the file must hold exactly one YAML document, but another one starts here");
  }
  const YAML::Node& document = documents.front();
  if (!document.IsMap()) {
    add(document, "", "expected a mapping of keys to values at the top level, got " + describe(document));
    return std::nullopt;
  }
  return document;
}

bool Reader::expect(const YAML::Node& node, const std::string& key, YAML::NodeType::value type,
                    std::string_view what) {
  if (node.Type() == type) return true;
  add(node, key, "expected " + std::string(what) + ", got " + describe(node));
  return false;
}

std::optional<std::string> Reader::string(const YAML::Node& node, const std::string& key) {
  if (!expect(node, key, YAML::NodeType::Scalar, "a string")) return std::nullopt;
  return node.Scalar();
}

std::optional<bool> Reader::boolean(const YAML::Node& node, const std::string& key) {
  if (node.IsScalar()) {
    if (is_true(node.Scalar())) return true;
    if (is_false(node.Scalar())) return false;
  }
  add(node, key, "expected true or false, got " + describe(node));
  return std::nullopt;
}

std::optional<std::int64_t> Reader::integer(const YAML::Node& node, const std::string& key, std::int64_t min,
                                            std::int64_t max) {
  if (!node.IsScalar()) {
    add(node, key, "expected " + range_text(min, max) + ", got " + describe(node));
    return std::nullopt;
  }
  bool out_of_range = false;
  const auto value = parse_integer(node.Scalar(), out_of_range);
  if (!value && !out_of_range) {
    add(node, key, "expected " + range_text(min, max) + ", got " + describe(node));
    return std::nullopt;
  }
  if (out_of_range || *value < min || *value > max) {
    if (out_of_range && range_text(min, max) == "an integer") {
      add(node, key, "integer " + describe(node) + " is out of range");
    } else {
      add(node, key, "expected " + range_text(min, max) + ", got " + describe(node));
    }
    return std::nullopt;
  }
  return value;
}

std::optional<milliseconds> Reader::duration(const YAML::Node& node, const std::string& key) {
  if (node.IsScalar()) {
    bool out_of_range = false;
    if (auto value = parse_duration(node.Scalar(), out_of_range)) return value;
    if (out_of_range) {
      add(node, key,
          "duration " + describe(node) + " is too long (at most " + format_duration(kMaxDuration) + ")");
      return std::nullopt;
    }
  }
  std::string message = "expected a duration such as 5s or 250ms, got " + describe(node);
  if (node.IsScalar() && !node.Scalar().empty() &&
      std::all_of(node.Scalar().begin(), node.Scalar().end(), is_digit)) {
    message += " (a unit is needed: ms, s, m or h)";
  }
  add(node, key, std::move(message));
  return std::nullopt;
}

std::optional<std::uint64_t> Reader::size(const YAML::Node& node, const std::string& key) {
  if (node.IsScalar()) {
    bool out_of_range = false;
    if (auto value = parse_size(node.Scalar(), out_of_range)) return value;
    if (out_of_range) {
      add(node, key, "size " + describe(node) + " is too large");
      return std::nullopt;
    }
  }
  add(node, key, "expected a size such as 65536, 64KiB or 1MiB, got " + describe(node));
  return std::nullopt;
}

std::optional<std::size_t> Reader::choice(const YAML::Node& node, const std::string& key,
                                          std::initializer_list<std::string_view> words) {
  if (node.IsScalar()) {
    std::size_t index = 0;
    for (auto word : words) {
      if (node.Scalar() == word) return index;
      ++index;
    }
  }
  add(node, key, "expected " + or_list(words) + ", got " + describe(node));
  return std::nullopt;
}

std::optional<std::vector<std::pair<std::string, YAML::Node>>> Reader::string_list(const YAML::Node& node,
                                                                                   const std::string& key) {
  if (!expect(node, key, YAML::NodeType::Sequence, "a list")) return std::nullopt;
  std::vector<std::pair<std::string, YAML::Node>> items;
  std::size_t index = 0;
  for (const auto& item : node) {
    if (auto text = string(item, item_key(key, index))) items.emplace_back(std::move(*text), item);
    ++index;
  }
  return items;
}

// ---- Fields ----------------------------------------------------------------------------------------

Fields::Fields(Reader& reader, const YAML::Node& node, std::string key, std::vector<std::string> known,
               Position where)
    : reader_(reader), node_(node), key_(std::move(key)), known_(std::move(known)), where_(std::move(where)) {
  init();
}

Fields::Fields(Reader& reader, const YAML::Node& node, std::string key,
               std::initializer_list<std::string_view> known, Position where)
    : reader_(reader), node_(node), key_(std::move(key)), where_(std::move(where)) {
  for (auto name : known) known_.emplace_back(name);
  init();
}

void Fields::init() {
  if (node_.IsMap() || where_.line == 0) where_ = reader_.position(node_);
  if (where_.file.empty()) where_.file = reader_.file();
  if (!node_.IsDefined() || node_.IsNull()) return;
  if (!node_.IsMap()) {
    reader_.add(node_, key_, "expected a mapping, got " + describe(node_));
    valid_ = false;
    return;
  }
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    // The iterator hands out a temporary pair: copy the nodes (they share the document).
    const YAML::Node key_node = it->first;
    if (!key_node.IsScalar()) {
      reader_.add(key_node, key_, "expected a key name, got " + describe(key_node));
      continue;
    }
    const std::string& name = key_node.Scalar();
    if (std::find(known_.begin(), known_.end(), name) == known_.end()) {
      std::string message = "unknown key " + quote(name);
      if (known_.empty()) {
        message += " (no keys are expected here)";
      } else {
        message += " (expected one of: " + join(known_) + ")";
      }
      reader_.add(key_node, child_key(key_, name), std::move(message));
      continue;
    }
    auto previous = std::find_if(entries_.begin(), entries_.end(),
                                 [&](const Entry& entry) { return entry.name == name; });
    if (previous != entries_.end()) {
      reader_.add(key_node, child_key(key_, name),
                  "key " + quote(name) + " is given twice (first on line " +
                      std::to_string(reader_.position(previous->key_node).line) + ")");
      continue;
    }
    entries_.push_back(Entry{name, key_node, it->second});
  }
}

std::optional<YAML::Node> Fields::get(std::string_view name) const {
  for (const auto& entry : entries_) {
    if (entry.name == name) return entry.value;
  }
  return std::nullopt;
}

Position Fields::position(std::string_view name) const {
  for (const auto& entry : entries_) {
    if (entry.name == name) return reader_.position(entry.key_node);
  }
  return where_;
}

void Fields::require(std::string_view name) {
  if (valid_ && !has(name)) reader_.add(where_, key(name), "missing required key " + quote(name));
}

bool Fields::read(std::string_view name, std::string& out) {
  auto node = get(name);
  if (!node) return false;
  auto value = reader_.string(*node, key(name));
  if (!value) return false;
  out = std::move(*value);
  return true;
}

bool Fields::read(std::string_view name, bool& out) {
  auto node = get(name);
  if (!node) return false;
  auto value = reader_.boolean(*node, key(name));
  if (!value) return false;
  out = *value;
  return true;
}

bool Fields::read(std::string_view name, milliseconds& out) {
  auto node = get(name);
  if (!node) return false;
  auto value = reader_.duration(*node, key(name));
  if (!value) return false;
  out = *value;
  return true;
}

bool Fields::read_integer(std::string_view name, std::int64_t min, std::int64_t max, std::int64_t& out) {
  auto node = get(name);
  if (!node) return false;
  auto value = reader_.integer(*node, key(name), min, max);
  if (!value) return false;
  out = *value;
  return true;
}

bool Fields::read_size(std::string_view name, std::uint64_t& out) {
  auto node = get(name);
  if (!node) return false;
  auto value = reader_.size(*node, key(name));
  if (!value) return false;
  out = *value;
  return true;
}

bool Fields::read_path(std::string_view name, const std::filesystem::path& base_dir,
                       std::filesystem::path& out) {
  std::string text;
  if (!read(name, text)) return false;
  out = text.empty() ? std::filesystem::path() : resolve_path(base_dir, text);
  return true;
}

// ---- plugin setting values -------------------------------------------------------------------------

std::string_view setting_type_name(SettingType type) {
  switch (type) {
    case SettingType::boolean:
      return "bool";
    case SettingType::integer:
      return "int";
    case SettingType::string:
      return "string";
    case SettingType::duration:
      return "duration";
    case SettingType::size:
      return "size";
    case SettingType::secret:
      return "secret";
    case SettingType::list:
      return "list";
    case SettingType::records:
      return "records";
  }
  return "string";
}

std::optional<Settings::Value> read_setting_value(Reader& reader, const YAML::Node& node,
                                                  const std::string& key, const SettingSchema& schema) {
  constexpr auto lowest = std::numeric_limits<std::int64_t>::min();
  constexpr auto highest = std::numeric_limits<std::int64_t>::max();
  switch (schema.type) {
    case SettingType::boolean:
      if (auto value = reader.boolean(node, key)) return Settings::Value(*value);
      return std::nullopt;
    case SettingType::integer:
      if (auto value = reader.integer(node, key, schema.min.value_or(lowest), schema.max.value_or(highest))) {
        return Settings::Value(*value);
      }
      return std::nullopt;
    case SettingType::string: {
      auto value = reader.string(node, key);
      if (!value) return std::nullopt;
      if (!schema.values.empty() &&
          std::find(schema.values.begin(), schema.values.end(), *value) == schema.values.end()) {
        std::vector<std::string> quoted;
        for (const auto& allowed : schema.values) quoted.push_back(quote(allowed));
        reader.add(node, key, "expected one of " + join(quoted) + ", got " + quote(*value));
        return std::nullopt;
      }
      return Settings::Value(std::move(*value));
    }
    case SettingType::duration: {
      auto value = reader.duration(node, key);
      if (!value) return std::nullopt;
      if (schema.min && value->count() < *schema.min) {
        reader.add(
            node, key,
            "must be at least " + format_duration(milliseconds(*schema.min)) + ", got " + describe(node));
        return std::nullopt;
      }
      if (schema.max && value->count() > *schema.max) {
        reader.add(
            node, key,
            "must be at most " + format_duration(milliseconds(*schema.max)) + ", got " + describe(node));
        return std::nullopt;
      }
      return Settings::Value(*value);
    }
    case SettingType::size: {
      auto value = reader.size(node, key);
      if (!value) return std::nullopt;
      if (*value > static_cast<std::uint64_t>(highest)) {
        reader.add(node, key, "size " + describe(node) + " is too large");
        return std::nullopt;
      }
      const auto bytes = static_cast<std::int64_t>(*value);
      if (schema.min && bytes < *schema.min) {
        reader.add(node, key,
                   "must be at least " +
                       format_size(static_cast<std::uint64_t>(std::max<std::int64_t>(*schema.min, 0))) +
                       ", got " + describe(node));
        return std::nullopt;
      }
      if (schema.max && bytes > *schema.max) {
        reader.add(node, key,
                   "must be at most " +
                       format_size(static_cast<std::uint64_t>(std::max<std::int64_t>(*schema.max, 0))) +
                       ", got " + describe(node));
        return std::nullopt;
      }
      return Settings::Value(bytes);
    }
    case SettingType::secret:
      // Never echo a secret's text.
      if (node.IsScalar()) return Settings::Value(node.Scalar());
      reader.add(node, key, "expected a string");
      return std::nullopt;
    case SettingType::list: {
      auto items = reader.string_list(node, key);
      if (!items) return std::nullopt;
      Settings::List list;
      list.reserve(items->size());
      bool valid = true;
      std::size_t index = 0;
      for (auto& [value, item] : *items) {
        const std::string item_key_text = item_key(key, index++);
        if (!schema.values.empty() &&
            std::find(schema.values.begin(), schema.values.end(), value) == schema.values.end()) {
          std::vector<std::string> quoted;
          for (const auto& allowed : schema.values) quoted.push_back(quote(allowed));
          reader.add(item, item_key_text, "expected one of " + join(quoted) + ", got " + quote(value));
          valid = false;
        }
        list.push_back(std::move(value));
      }
      if (!valid) return std::nullopt;
      return Settings::Value(std::move(list));
    }
    case SettingType::records:
      // Records hold nested settings (secrets among them); config/settings.cpp resolves them.
      reader.add(node, key, "records are not a single value");
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace gw::config::yaml
