#include "ldap_codec.hpp"

#include "attribute_types.hpp"

#include <lber.h>
#include <ldap.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace gw::ldap {

namespace {

// Everything the codec knows about each protocolOp, in one place.
struct OpInfo {
  Op op;
  std::string_view name;     // for logs and audit records
  std::string_view context;  // how decoding errors name it
  bool request;
  std::optional<Op> response;  // the response that answers a request (unbind and abandon have none)
};

constexpr std::array<OpInfo, 21> kOps{{
    {Op::bind_request, "bind", "bind request", true, Op::bind_response},
    {Op::bind_response, "bind_response", "bind response", false, std::nullopt},
    {Op::unbind_request, "unbind", "unbind request", true, std::nullopt},
    {Op::search_request, "search", "search request", true, Op::search_result_done},
    {Op::search_result_entry, "search_result_entry", "search result entry", false, std::nullopt},
    {Op::search_result_done, "search_result_done", "search result done", false, std::nullopt},
    {Op::search_result_reference, "search_result_reference", "search result reference", false, std::nullopt},
    {Op::modify_request, "modify", "modify request", true, Op::modify_response},
    {Op::modify_response, "modify_response", "modify response", false, std::nullopt},
    {Op::add_request, "add", "add request", true, Op::add_response},
    {Op::add_response, "add_response", "add response", false, std::nullopt},
    {Op::delete_request, "delete", "delete request", true, Op::delete_response},
    {Op::delete_response, "delete_response", "delete response", false, std::nullopt},
    {Op::modify_dn_request, "modify_dn", "modify_dn request", true, Op::modify_dn_response},
    {Op::modify_dn_response, "modify_dn_response", "modify_dn response", false, std::nullopt},
    {Op::compare_request, "compare", "compare request", true, Op::compare_response},
    {Op::compare_response, "compare_response", "compare response", false, std::nullopt},
    {Op::abandon_request, "abandon", "abandon request", true, std::nullopt},
    {Op::extended_request, "extended", "extended request", true, Op::extended_response},
    {Op::extended_response, "extended_response", "extended response", false, std::nullopt},
    {Op::intermediate_response, "intermediate_response", "intermediate response", false, std::nullopt},
}};

// Null for a tag that is not an LDAPv3 protocolOp.
const OpInfo* info(ber_tag_t tag) noexcept {
  for (const OpInfo& entry : kOps) {
    if (static_cast<ber_tag_t>(entry.op) == tag) return &entry;
  }
  return nullptr;
}

}  // namespace

std::string_view op_name(Op op) noexcept {
  const OpInfo* entry = info(static_cast<ber_tag_t>(op));
  return entry ? entry->name : "unknown";
}

std::optional<Op> request_named(std::string_view name) noexcept {
  for (const OpInfo& entry : kOps) {
    if (entry.request && entry.name == name) return entry.op;
  }
  return std::nullopt;
}

bool is_request(Op op) noexcept {
  const OpInfo* entry = info(static_cast<ber_tag_t>(op));
  return entry && entry->request;
}

std::optional<Op> response_to(Op request) noexcept {
  const OpInfo* entry = info(static_cast<ber_tag_t>(request));
  return entry ? entry->response : std::nullopt;
}

// ---- framing ----------------------------------------------------------------------------------------

Frame frame(ByteView buffered, std::size_t max_message_size) noexcept {
  Frame result;
  // The reasons are formatted without allocating; only the final assignment may throw.
  char why[96];
  auto malformed = [&result, &why]() {
    result.status = Frame::Status::malformed;
    try {
      result.error = why;
    } catch (...) {
    }
    return result;
  };
  if (buffered.empty()) return result;
  if (buffered[0] != 0x30) {
    std::snprintf(why, sizeof why, "expected a SEQUENCE (0x30), got tag 0x%02x", buffered[0]);
    return malformed();
  }
  if (buffered.size() < 2) return result;

  const std::uint8_t first = buffered[1];
  std::size_t header = 2;
  std::size_t length = 0;
  if (first < 0x80) {
    length = first;
  } else if (first == 0x80) {
    std::snprintf(why, sizeof why, "indefinite length");
    return malformed();
  } else {
    const std::size_t octets = first & 0x7fU;
    if (octets > 4) {
      std::snprintf(why, sizeof why, "length of %zu octets", octets);
      return malformed();
    }
    header += octets;
    if (buffered.size() < header) return result;
    for (std::size_t i = 0; i < octets; ++i) length = (length << 8) | buffered[2 + i];
  }

  const std::size_t total = header + length;
  if (total > max_message_size) {
    std::snprintf(why, sizeof why, "message of %zu bytes exceeds %zu", total, max_message_size);
    return malformed();
  }
  if (buffered.size() < total) return result;
  result.status = Frame::Status::complete;
  result.size = total;
  return result;
}

// ---- decoding ---------------------------------------------------------------------------------------

namespace {

constexpr int kMaxFilterDepth = 64;

constexpr ber_tag_t kSequence = LBER_SEQUENCE;
constexpr ber_tag_t kSet = LBER_SET;
constexpr ber_tag_t kOctetString = LBER_OCTETSTRING;
constexpr ber_tag_t kInteger = LBER_INTEGER;
constexpr ber_tag_t kEnumerated = LBER_ENUMERATED;
constexpr ber_tag_t kBoolean = LBER_BOOLEAN;
constexpr ber_tag_t kControls = 0xa0;  // [0] Controls after the protocolOp

constexpr ber_tag_t tag_of(Op op) {
  return static_cast<ber_tag_t>(op);
}

class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <typename... Parts>
std::string cat(const Parts&... parts) {
  std::string out;
  (out.append(std::string_view(parts)), ...);
  return out;
}

std::string hex_tag(ber_tag_t tag) {
  char text[32];
  std::snprintf(text, sizeof text, "0x%02lx", static_cast<unsigned long>(tag));
  return text;
}

struct BerReadFree {
  // The buffer belongs to the decoder, not to the element.
  void operator()(BerElement* ber) const noexcept { ber_free(ber, 0); }
};
struct BerWriteFree {
  void operator()(BerElement* ber) const noexcept { ber_free(ber, 1); }
};

// A copy of the bytes to decode, with liblber positioned at their start.
//
// liblber reads in place and, after stepping over an element, peeks at the octet that follows it
// (it caches the next tag). At the end of the input that octet lies one past the end, so the bytes
// are copied into a buffer with one spare zero octet: liblber never reads outside memory we own,
// and the caller's buffer stays untouched (views into it remain valid and unchanged).
class BerInput {
 public:
  explicit BerInput(ByteView bytes) : copy_(bytes.size() + 1, '\0'), size_(bytes.size()) {
    if (!bytes.empty()) std::memcpy(copy_.data(), bytes.data(), bytes.size());
    ber_.reset(ber_alloc_t(LBER_USE_DER));
    if (!ber_) throw std::bad_alloc();
    berval bv{};
    bv.bv_len = size_;
    bv.bv_val = copy_.data();
    ber_init2(ber_.get(), &bv, LBER_USE_DER);
  }

  BerElement* ber() const noexcept { return ber_.get(); }
  const char* base() const noexcept { return copy_.data(); }
  std::size_t size() const noexcept { return size_; }

 private:
  std::vector<char> copy_;
  std::size_t size_;
  std::unique_ptr<BerElement, BerReadFree> ber_;
};

// One element as found in the input: tag, where it starts, where its contents are (offsets).
struct Element {
  ber_tag_t tag = LBER_DEFAULT;
  std::size_t begin = 0;
  std::size_t content = 0;
  std::size_t length = 0;
  std::size_t end() const { return content + length; }
};

// Reads the elements of one constructed element (or of the whole input), in order, with liblber.
// liblber only knows the end of the whole input; the reader adds the end of the enclosing element, so
// nothing inside can claim bytes beyond it. Readers share the BerElement: a reader obtained with
// enter() must be read to its end before its parent is used again.
class Reader {
 public:
  // `context` (e.g. "search request") prefixes the errors; it names a string with static storage.
  Reader(const BerInput& input, std::size_t end, std::string_view context)
      : input_(&input), end_(end), context_(context) {}

  [[noreturn]] void fail(std::string_view why) const { throw DecodeError(cat(context_, ": ", why)); }

  std::size_t position() const {
    ber_len_t remaining = 0;
    if (ber_get_option(input_->ber(), LBER_OPT_BER_REMAINING_BYTES, &remaining) != LBER_OPT_SUCCESS) {
      fail("cannot read the decoder position");
    }
    return input_->size() - remaining;
  }

  bool at_end() const { return position() >= end_; }

  // The next element, without consuming it.
  Element peek(std::string_view what) const {
    const std::size_t begin = position();
    if (begin >= end_) fail(cat("missing ", what));
    berval bv{};
    const ber_tag_t tag = ber_peek_element(input_->ber(), &bv);
    if (tag == LBER_DEFAULT || bv.bv_val == nullptr) fail(cat("bad or truncated ", what));
    Element element;
    element.tag = tag;
    element.begin = begin;
    element.content = static_cast<std::size_t>(bv.bv_val - input_->base());
    element.length = bv.bv_len;
    if (element.content > end_ || element.length > end_ - element.content) {
      fail(cat(what, " overruns its enclosing element"));
    }
    return element;
  }

  bool next_is(ber_tag_t tag) const { return !at_end() && peek("element").tag == tag; }

  Element expect(ber_tag_t tag, std::string_view what) const {
    Element element = peek(what);
    if (element.tag != tag) {
      fail(cat("expected ", what, " (tag ", hex_tag(tag), "), got tag ", hex_tag(element.tag)));
    }
    return element;
  }

  // Steps over the next element, which must have tag `tag`.
  Element skip(ber_tag_t tag, std::string_view what) {
    Element element = expect(tag, what);
    berval bv{};
    if (ber_skip_element(input_->ber(), &bv) == LBER_DEFAULT) fail(cat("bad ", what));
    return element;
  }

  // Steps over the next element, whatever its tag.
  Element skip_any(std::string_view what) {
    Element element = peek(what);
    berval bv{};
    if (ber_skip_element(input_->ber(), &bv) == LBER_DEFAULT) fail(cat("bad ", what));
    return element;
  }

  std::string string(ber_tag_t tag, std::string_view what) {
    expect(tag, what);
    berval bv{};
    // LBER_BV_NOTERM: a view in place, without liblber writing a terminating NUL into the input.
    if (ber_get_stringbv(input_->ber(), &bv, LBER_BV_NOTERM) == LBER_DEFAULT) fail(cat("bad ", what));
    return bv.bv_len == 0 ? std::string() : std::string(bv.bv_val, bv.bv_len);
  }

  std::int32_t integer(ber_tag_t tag, std::string_view what) {
    const Element element = expect(tag, what);
    if (element.length < 1 || element.length > sizeof(ber_int_t)) {
      fail(cat(what, " has a bad length of ", std::to_string(element.length), " octets"));
    }
    ber_int_t value = 0;
    const ber_tag_t got =
        tag == kEnumerated ? ber_get_enum(input_->ber(), &value) : ber_get_int(input_->ber(), &value);
    if (got == LBER_DEFAULT) fail(cat("bad ", what));
    return value;
  }

  bool boolean(ber_tag_t tag, std::string_view what) {
    const Element element = expect(tag, what);
    if (element.length != 1) fail(cat(what, " is not a one-octet BOOLEAN"));
    ber_int_t value = 0;
    if (ber_get_boolean(input_->ber(), &value) == LBER_DEFAULT) fail(cat("bad ", what));
    return value != 0;
  }

  void null(ber_tag_t tag, std::string_view what) {
    const Element element = expect(tag, what);
    if (element.length != 0) fail(cat(what, " is not an empty NULL"));
    if (ber_get_null(input_->ber()) == LBER_DEFAULT) fail(cat("bad ", what));
  }

  // Steps into the next element (tag `tag`) and returns a reader of its contents.
  Reader enter(ber_tag_t tag, std::string_view what, std::string_view context = {}) {
    const Element element = expect(tag, what);
    if ((tag & LBER_CONSTRUCTED) == 0) fail(cat(what, " is not constructed"));
    ber_len_t length = 0;
    if (ber_skip_tag(input_->ber(), &length) == LBER_DEFAULT) fail(cat("bad ", what));
    return Reader(*input_, element.end(), context.empty() ? context_ : context);
  }

  // Everything must have been read.
  void finish(std::string_view after) const {
    if (!at_end()) fail(cat("unexpected element (tag ", hex_tag(peek("element").tag), ") after ", after));
  }

 private:
  const BerInput* input_;
  std::size_t end_;
  std::string_view context_;
};

// How errors name an operation: "search request", "search result entry", ...
std::string_view context_for(Op op) {
  const OpInfo* entry = info(static_cast<ber_tag_t>(op));
  return entry ? entry->context : "LDAPMessage";
}

std::string attribute_description(Reader& reader, ber_tag_t tag, std::string_view what) {
  std::string description = reader.string(tag, what);
  if (description.empty()) reader.fail(cat("empty ", what));
  return description;
}

// Filter (RFC 4511 4.5.1), collecting the attribute descriptions it names into `attributes`; an
// extensible match that names none sets `any_attribute`.
void read_filter(Reader& reader, int depth, std::vector<std::string>& attributes, bool& any_attribute) {
  if (depth > kMaxFilterDepth) {
    reader.fail("filter nested more than " + std::to_string(kMaxFilterDepth) + " levels deep");
  }
  const Element element = reader.peek("filter");
  switch (element.tag) {
    case 0xa0:    // and
    case 0xa1: {  // or
      // An empty and/or is the absolute true/false filter of RFC 4526.
      Reader set = reader.enter(element.tag, "filter set");
      while (!set.at_end()) read_filter(set, depth + 1, attributes, any_attribute);
      break;
    }
    case 0xa2: {  // not
      Reader inner = reader.enter(element.tag, "not filter");
      read_filter(inner, depth + 1, attributes, any_attribute);
      inner.finish("the filter of a not");
      break;
    }
    case 0xa3:    // equalityMatch
    case 0xa5:    // greaterOrEqual
    case 0xa6:    // lessOrEqual
    case 0xa8: {  // approxMatch
      Reader ava = reader.enter(element.tag, "attribute value assertion");
      attributes.push_back(attribute_description(ava, kOctetString, "filter attribute description"));
      ava.skip(kOctetString, "assertion value");
      ava.finish("the assertion value");
      break;
    }
    case 0xa4: {  // substrings
      Reader filter = reader.enter(element.tag, "substrings filter");
      attributes.push_back(attribute_description(filter, kOctetString, "filter attribute description"));
      Reader parts = filter.enter(kSequence, "substrings");
      if (parts.at_end()) parts.fail("substrings filter without substrings");
      bool first = true;
      bool final_seen = false;
      while (!parts.at_end()) {
        const Element part = parts.peek("substring");
        if (final_seen) parts.fail("substring after the final substring");
        if (part.tag == 0x80) {
          if (!first) parts.fail("initial substring not in first place");
        } else if (part.tag == 0x82) {
          final_seen = true;
        } else if (part.tag != 0x81) {
          parts.fail("bad substring choice (tag " + hex_tag(part.tag) + ")");
        }
        parts.skip(part.tag, "substring");
        first = false;
      }
      filter.finish("the substrings");
      break;
    }
    case 0x87:  // present
      attributes.push_back(attribute_description(reader, 0x87, "present filter attribute description"));
      break;
    case 0xa9: {  // extensibleMatch
      Reader rule = reader.enter(element.tag, "extensible match");
      const bool has_rule = rule.next_is(0x81);
      if (has_rule) rule.skip(0x81, "matching rule");
      if (rule.next_is(0x82)) {
        attributes.push_back(attribute_description(rule, 0x82, "extensible match type"));
      } else if (has_rule) {
        any_attribute = true;
      } else {
        rule.fail("extensible match without matching rule or type");
      }
      rule.skip(0x83, "extensible match value");
      if (rule.next_is(0x84)) rule.boolean(0x84, "dnAttributes");
      rule.finish("the extensible match");
      break;
    }
    default:
      reader.fail("unknown filter choice (tag " + hex_tag(element.tag) + ")");
  }
}

// PartialAttribute / Attribute: SEQUENCE { type, vals SET OF value }.
void read_attribute(Reader& list, std::vector<std::string>& types, bool values_required) {
  Reader attribute = list.enter(kSequence, "attribute");
  types.push_back(attribute_description(attribute, kOctetString, "attribute description"));
  Reader values = attribute.enter(kSet, "attribute values");
  if (values_required && values.at_end()) values.fail("attribute '" + types.back() + "' without values");
  while (!values.at_end()) values.skip(kOctetString, "attribute value");
  attribute.finish("the attribute values");
}

// LDAPResult, the first components of every response that carries one.
void read_result(Reader& reader, Message& message) {
  message.result_code = reader.integer(kEnumerated, "resultCode");
  if (message.result_code < 0) reader.fail("negative resultCode " + std::to_string(message.result_code));
  message.dn = reader.string(kOctetString, "matchedDN");
  message.diagnostic = reader.string(kOctetString, "diagnosticMessage");
  if (reader.next_is(0xa3)) {
    Reader referral = reader.enter(0xa3, "referral");
    if (referral.at_end()) referral.fail("empty referral");
    while (!referral.at_end()) referral.skip(kOctetString, "referral URI");
  }
}

void read_bind_request(Reader& op, Message& message) {
  message.version = op.integer(kInteger, "version");
  if (message.version < 1 || message.version > 127) op.fail("bad version " + std::to_string(message.version));
  message.dn = op.string(kOctetString, "name");
  const Element authentication = op.peek("authentication");
  if (authentication.tag == 0x80) {
    message.auth = AuthKind::simple;
    message.password = op.string(0x80, "simple credentials");
  } else if (authentication.tag == 0xa3) {
    message.auth = AuthKind::sasl;
    Reader sasl = op.enter(0xa3, "SASL credentials");
    message.sasl_mechanism = sasl.string(kOctetString, "SASL mechanism");
    if (!sasl.at_end()) sasl.skip(kOctetString, "SASL credentials");
    sasl.finish("the SASL credentials");
  } else {
    op.fail("unsupported authentication choice (tag " + hex_tag(authentication.tag) + ")");
  }
  op.finish("the authentication");
}

void read_search_request(Reader& op, Message& message) {
  message.dn = op.string(kOctetString, "baseObject");
  const std::int32_t scope = op.integer(kEnumerated, "scope");
  if (scope < 0 || scope > 3) op.fail("bad scope " + std::to_string(scope));
  message.scope = static_cast<Scope>(scope);
  message.deref_aliases = op.integer(kEnumerated, "derefAliases");
  if (message.deref_aliases < 0 || message.deref_aliases > 3) {
    op.fail("bad derefAliases " + std::to_string(message.deref_aliases));
  }
  message.size_limit = op.integer(kInteger, "sizeLimit");
  if (message.size_limit < 0) op.fail("negative sizeLimit " + std::to_string(message.size_limit));
  message.time_limit = op.integer(kInteger, "timeLimit");
  if (message.time_limit < 0) op.fail("negative timeLimit " + std::to_string(message.time_limit));
  message.types_only = op.boolean(kBoolean, "typesOnly");
  const Element filter = op.peek("filter");
  read_filter(op, 1, message.filter_attributes, message.filter_matches_any_attribute);
  message.filter = message.raw.subspan(filter.begin, filter.end() - filter.begin);
  Reader attributes = op.enter(kSequence, "attributes");
  while (!attributes.at_end()) {
    message.attributes.push_back(attributes.string(kOctetString, "attribute selector"));
  }
  op.finish("the attributes");
}

void read_search_result_entry(Reader& op, Message& message) {
  message.dn = op.string(kOctetString, "objectName");
  Reader attributes = op.enter(kSequence, "attributes");
  while (!attributes.at_end()) read_attribute(attributes, message.entry_attributes, false);
  op.finish("the attributes");
}

void read_modify_request(Reader& op, Message& message) {
  message.dn = op.string(kOctetString, "object");
  Reader changes = op.enter(kSequence, "changes");
  while (!changes.at_end()) {
    Reader change = changes.enter(kSequence, "change");
    const std::int32_t operation = change.integer(kEnumerated, "modify operation");
    // add, delete, replace, and increment (RFC 4525).
    if (operation < 0 || operation > 3) change.fail("bad modify operation " + std::to_string(operation));
    read_attribute(change, message.entry_attributes, false);
    change.finish("the modification");
  }
  op.finish("the changes");
}

void read_add_request(Reader& op, Message& message) {
  message.dn = op.string(kOctetString, "entry");
  Reader attributes = op.enter(kSequence, "attributes");
  while (!attributes.at_end()) read_attribute(attributes, message.entry_attributes, true);
  op.finish("the attributes");
}

void read_modify_dn_request(Reader& op, Message& message) {
  message.dn = op.string(kOctetString, "entry");
  message.new_rdn = op.string(kOctetString, "newrdn");
  message.delete_old_rdn = op.boolean(kBoolean, "deleteoldrdn");
  if (op.next_is(0x80)) message.new_superior = op.string(0x80, "newSuperior");
  op.finish("the new superior");
}

void read_compare_request(Reader& op, Message& message) {
  message.dn = op.string(kOctetString, "entry");
  Reader ava = op.enter(kSequence, "attribute value assertion");
  message.entry_attributes.push_back(attribute_description(ava, kOctetString, "attribute description"));
  ava.skip(kOctetString, "assertion value");
  ava.finish("the assertion value");
  op.finish("the assertion");
}

// PasswdModifyRequestValue ::= SEQUENCE { userIdentity [0] OCTET STRING OPTIONAL,
//   oldPasswd [1] OCTET STRING OPTIONAL, newPasswd [2] OCTET STRING OPTIONAL }  (RFC 3062), itself
// the contents of the requestValue OCTET STRING.
void read_password_modify_value(const std::string& value, Message& message) {
  const ByteView bytes(reinterpret_cast<const std::uint8_t*>(value.data()), value.size());
  BerInput input(bytes);
  Reader whole(input, input.size(), "password modify request");
  Reader fields = whole.enter(kSequence, "PasswdModifyRequestValue");
  if (fields.next_is(0x80)) message.password_identity = fields.string(0x80, "userIdentity");
  if (fields.next_is(0x81)) fields.skip(0x81, "oldPasswd");
  if (fields.next_is(0x82)) fields.skip(0x82, "newPasswd");
  fields.finish("the new password");
  whole.finish("PasswdModifyRequestValue");
}

void read_extended_request(Reader& op, Message& message) {
  message.oid = op.string(0x80, "requestName");
  if (message.oid.empty()) op.fail("empty requestName");
  if (op.next_is(0x81)) {
    if (message.oid == kPasswordModifyOid) {
      read_password_modify_value(op.string(0x81, "requestValue"), message);
    } else {
      op.skip(0x81, "requestValue");
    }
  }
  op.finish("the request value");
}

void read_extended_response(Reader& op, Message& message) {
  read_result(op, message);
  if (op.next_is(0x8a)) message.oid = op.string(0x8a, "responseName");
  if (op.next_is(0x8b)) op.skip(0x8b, "responseValue");
  op.finish("the response value");
}

void read_intermediate_response(Reader& op, Message& message) {
  if (op.next_is(0x80)) message.oid = op.string(0x80, "responseName");
  if (op.next_is(0x81)) op.skip(0x81, "responseValue");
  op.finish("the response value");
}

void read_search_result_reference(Reader& op) {
  if (op.at_end()) op.fail("no URI");
  while (!op.at_end()) op.skip(kOctetString, "URI");
}

// The value of a control the policy reads (a BER element in an OCTET STRING), decoded into `message`.
void read_control_value(std::string_view type, const std::string& value, Message& message) {
  const ByteView bytes(reinterpret_cast<const std::uint8_t*>(value.data()), value.size());
  BerInput input(bytes);
  if (type == kAssertionControlOid) {
    // The filter itself (RFC 4528).
    Reader whole(input, input.size(), "assertion control");
    read_filter(whole, 1, message.assertion_attributes, message.assertion_matches_any_attribute);
    whole.finish("the assertion filter");
    return;
  }
  // SortKeyList ::= SEQUENCE OF SEQUENCE { attributeType AttributeDescription,
  //   orderingRule [0] MatchingRuleId OPTIONAL, reverseOrder [1] BOOLEAN DEFAULT FALSE }  (RFC 2891)
  Reader whole(input, input.size(), "sort control");
  Reader keys = whole.enter(kSequence, "SortKeyList");
  if (keys.at_end()) keys.fail("no sort key");
  while (!keys.at_end()) {
    Reader key = keys.enter(kSequence, "sort key");
    message.sort_attributes.push_back(attribute_description(key, kOctetString, "sort key attribute type"));
    if (key.next_is(0x80)) key.skip(0x80, "orderingRule");
    if (key.next_is(0x81)) key.boolean(0x81, "reverseOrder");
    key.finish("the sort key");
  }
  whole.finish("SortKeyList");
}

void read_controls(Reader& controls, Message& message) {
  while (!controls.at_end()) {
    Reader control = controls.enter(kSequence, "control");
    std::string type = control.string(kOctetString, "controlType");
    if (type.empty()) control.fail("empty controlType");
    // slapd looks controls up as C strings: "<deref OID>\0x" would be the deref control to it, and an
    // unknown control to the policy.
    if (type.find('\0') != std::string::npos) control.fail("controlType contains a NUL octet");
    const bool critical = control.next_is(kBoolean) && control.boolean(kBoolean, "criticality");
    // Controls that make the directory test or order attribute values are read, whatever their
    // criticality: a directory that supports one applies it either way.
    const bool read = is_request(message.op) && (type == kAssertionControlOid || type == kSortControlOid);
    if (read && !control.next_is(kOctetString)) control.fail("control " + type + " without a value");
    if (read) {
      read_control_value(type, control.string(kOctetString, "controlValue"), message);
    } else if (control.next_is(kOctetString)) {
      control.skip(kOctetString, "controlValue");
    }
    control.finish("the control value");
    message.controls.push_back({std::move(type), critical});
  }
}

Message decode_message(ByteView pdu) {
  if (pdu.empty()) throw DecodeError("LDAPMessage: empty");
  BerInput input(pdu);
  Reader whole(input, input.size(), "LDAPMessage");
  const Element outer = whole.expect(kSequence, "LDAPMessage SEQUENCE");
  if (outer.end() != input.size()) {
    whole.fail(std::to_string(input.size() - outer.end()) + " trailing bytes after the message");
  }
  Reader envelope = whole.enter(kSequence, "LDAPMessage SEQUENCE");

  Message message;
  message.raw = pdu;
  message.id = envelope.integer(kInteger, "messageID");
  if (message.id < 0) envelope.fail("negative message id " + std::to_string(message.id));
  const Element op_element = envelope.peek("protocolOp");
  if (!info(op_element.tag)) envelope.fail("unknown protocolOp tag " + hex_tag(op_element.tag));
  message.op = static_cast<Op>(op_element.tag);
  const std::string_view context = context_for(message.op);
  if (is_request(message.op) && message.id == 0) envelope.fail(cat("message id 0 in a ", context));

  switch (message.op) {
    case Op::unbind_request:
      envelope.null(op_element.tag, context);
      break;
    case Op::delete_request:
      message.dn = envelope.string(op_element.tag, context);
      break;
    case Op::abandon_request:
      message.abandoned_id = envelope.integer(op_element.tag, context);
      if (message.abandoned_id < 0) {
        envelope.fail("abandon of negative message id " + std::to_string(message.abandoned_id));
      }
      break;
    default: {
      Reader op = envelope.enter(op_element.tag, context, context);
      switch (message.op) {
        case Op::bind_request:
          read_bind_request(op, message);
          break;
        case Op::search_request:
          read_search_request(op, message);
          break;
        case Op::search_result_entry:
          read_search_result_entry(op, message);
          break;
        case Op::search_result_reference:
          read_search_result_reference(op);
          break;
        case Op::modify_request:
          read_modify_request(op, message);
          break;
        case Op::add_request:
          read_add_request(op, message);
          break;
        case Op::modify_dn_request:
          read_modify_dn_request(op, message);
          break;
        case Op::compare_request:
          read_compare_request(op, message);
          break;
        case Op::extended_request:
          read_extended_request(op, message);
          break;
        case Op::extended_response:
          read_extended_response(op, message);
          break;
        case Op::intermediate_response:
          read_intermediate_response(op, message);
          break;
        case Op::bind_response:
          read_result(op, message);
          if (op.next_is(0x87)) op.skip(0x87, "serverSaslCreds");
          op.finish("the server SASL credentials");
          break;
        default:  // search_result_done and the other plain LDAPResult responses
          read_result(op, message);
          op.finish("the result");
          break;
      }
    }
  }

  if (envelope.next_is(kControls)) {
    Reader controls = envelope.enter(kControls, "controls", "controls");
    read_controls(controls, message);
    message.has_controls = true;
  }
  envelope.finish(message.has_controls ? "the controls" : "the operation");
  return message;
}

// ---- encoding helpers ---------------------------------------------------------------------------

const char* chars(std::string_view text) {
  return text.empty() ? "" : text.data();
}

// Builds one message with liblber. Fields are written with ber_printf; elements already encoded
// (taken byte for byte from a received message) are appended with ber_write, which liblber counts
// into the sequences still open, so no length is computed by hand.
class BerOutput {
 public:
  BerOutput() : ber_(ber_alloc_t(LBER_USE_DER)) {
    if (!ber_) throw std::bad_alloc();
  }

  template <typename... Args>
  void print(const char* format, Args... args) {
    if (ber_printf(ber_.get(), format, args...) == -1) throw std::runtime_error("ldap: ber_printf failed");
  }

  void raw(ByteView bytes) {
    if (bytes.empty()) return;
    if (ber_write(ber_.get(), reinterpret_cast<const char*>(bytes.data()), bytes.size(), 0) < 0) {
      throw std::runtime_error("ldap: ber_write failed");
    }
  }

  Bytes bytes() {
    berval bv{};
    if (ber_flatten2(ber_.get(), &bv, 0) != 0) throw std::runtime_error("ldap: ber_flatten2 failed");
    const auto* data = reinterpret_cast<const std::uint8_t*>(bv.bv_val);
    return bv.bv_len == 0 ? Bytes() : Bytes(data, data + bv.bv_len);
  }

 private:
  std::unique_ptr<BerElement, BerWriteFree> ber_;
};

ByteView slice(ByteView raw, const Element& element) {
  return raw.subspan(element.begin, element.end() - element.begin);
}

// The parts of a decoded message's raw bytes around its operation.
struct Envelope {
  struct ControlElement {
    std::string type;
    ByteView element;
  };
  ByteView id;
  ByteView op;
  ByteView controls;  // the whole [0] element; empty when there are none
  std::vector<ControlElement> each_control;
};

// Walks a decoded message's raw bytes. `read_op` reads the contents of the operation `expected`;
// nullptr steps over the operation whole, whatever it holds.
template <typename ReadOp>
Envelope walk_envelope(const Message& message, Op expected, ReadOp&& read_op) {
  if (message.op != expected || message.raw.empty()) {
    throw std::invalid_argument(cat("ldap: expected a decoded ", context_for(expected)));
  }
  try {
    BerInput input(message.raw);
    Reader whole(input, input.size(), "LDAPMessage");
    Reader envelope = whole.enter(kSequence, "LDAPMessage SEQUENCE");
    Envelope parts;
    parts.id = slice(message.raw, envelope.skip(kInteger, "messageID"));
    if constexpr (std::is_null_pointer_v<std::decay_t<ReadOp>>) {
      parts.op = slice(message.raw, envelope.skip(tag_of(expected), context_for(expected)));
    } else {
      parts.op = slice(message.raw, envelope.peek(context_for(expected)));
      Reader op = envelope.enter(tag_of(expected), context_for(expected));
      read_op(op);
      op.finish("the operation");
    }
    if (envelope.next_is(kControls)) {
      parts.controls = slice(message.raw, envelope.peek("controls"));
      Reader controls = envelope.enter(kControls, "controls");
      while (!controls.at_end()) {
        const Element element = controls.peek("control");
        Reader control = controls.enter(kSequence, "control");
        std::string type = control.string(kOctetString, "controlType");
        while (!control.at_end()) control.skip_any("control field");
        parts.each_control.push_back({std::move(type), slice(message.raw, element)});
      }
    }
    envelope.finish("the controls");
    return parts;
  } catch (const DecodeError& error) {
    throw std::invalid_argument(std::string("ldap: not a decoded message: ") + error.what());
  }
}

// Writes the envelope's controls but those of a type in `removed`, leaving out the [0] element when
// none remains.
void write_controls(BerOutput& out, const Envelope& envelope, std::span<const std::string> removed) {
  const auto kept = [removed](const Envelope::ControlElement& control) {
    return std::find(removed.begin(), removed.end(), control.type) == removed.end();
  };
  if (removed.empty() || std::all_of(envelope.each_control.begin(), envelope.each_control.end(), kept)) {
    out.raw(envelope.controls);
    return;
  }
  if (std::none_of(envelope.each_control.begin(), envelope.each_control.end(), kept)) return;
  out.print("t{", kControls);
  for (const auto& control : envelope.each_control) {
    if (kept(control)) out.raw(control.element);
  }
  out.print("N}");
}

}  // namespace

std::optional<Message> decode(ByteView pdu, std::string& error) {
  try {
    return decode_message(pdu);
  } catch (const DecodeError& failure) {
    error = failure.what();
    return std::nullopt;
  }
}

// ---- encoding ---------------------------------------------------------------------------------------

Bytes encode_result(std::int32_t id, Op response_op, int result_code, std::string_view matched_dn,
                    std::string_view diagnostic, std::string_view response_oid) {
  switch (response_op) {
    case Op::bind_response:
    case Op::search_result_done:
    case Op::modify_response:
    case Op::add_response:
    case Op::delete_response:
    case Op::modify_dn_response:
    case Op::compare_response:
    case Op::extended_response:
      break;
    default:
      throw std::invalid_argument("ldap: " + std::string(op_name(response_op)) + " carries no LDAPResult");
  }
  BerOutput out;
  out.print("{it{eoo", static_cast<ber_int_t>(id), tag_of(response_op), static_cast<ber_int_t>(result_code),
            chars(matched_dn), static_cast<ber_len_t>(matched_dn.size()), chars(diagnostic),
            static_cast<ber_len_t>(diagnostic.size()));
  if (response_op == Op::extended_response && !response_oid.empty()) {
    out.print("to", static_cast<ber_tag_t>(0x8a), chars(response_oid),
              static_cast<ber_len_t>(response_oid.size()));
  }
  out.print("N}N}");
  return out.bytes();
}

Bytes encode_notice_of_disconnection(int result_code, std::string_view diagnostic) {
  return encode_result(0, Op::extended_response, result_code, {}, diagnostic, kNoticeOfDisconnectionOid);
}

Bytes encode_extended_request(std::int32_t id, std::string_view oid) {
  BerOutput out;
  out.print("{it{toN}N}", static_cast<ber_int_t>(id), tag_of(Op::extended_request),
            static_cast<ber_tag_t>(0x80), chars(oid), static_cast<ber_len_t>(oid.size()));
  return out.bytes();
}

Bytes encode_simple_bind(std::int32_t id, std::string_view dn, std::string_view password) {
  BerOutput out;
  out.print("{it{iotoN}N}", static_cast<ber_int_t>(id), tag_of(Op::bind_request), static_cast<ber_int_t>(3),
            chars(dn), static_cast<ber_len_t>(dn.size()), static_cast<ber_tag_t>(0x80), chars(password),
            static_cast<ber_len_t>(password.size()));
  return out.bytes();
}

Bytes encode_search_with_limits(const Message& search, std::int32_t size_limit, std::int32_t time_limit,
                                std::optional<int> deref_aliases,
                                std::span<const std::string> removed_controls) {
  if (size_limit < 0 || time_limit < 0) throw std::invalid_argument("ldap: negative search limit");
  if (deref_aliases && (*deref_aliases < 0 || *deref_aliases > 3)) {
    throw std::invalid_argument("ldap: derefAliases out of range");
  }
  ByteView base, scope, deref, types_only, filter, attributes;
  const Envelope envelope = walk_envelope(search, Op::search_request, [&](Reader& op) {
    base = slice(search.raw, op.skip(kOctetString, "baseObject"));
    scope = slice(search.raw, op.skip(kEnumerated, "scope"));
    deref = slice(search.raw, op.skip(kEnumerated, "derefAliases"));
    op.skip(kInteger, "sizeLimit");
    op.skip(kInteger, "timeLimit");
    types_only = slice(search.raw, op.skip(kBoolean, "typesOnly"));
    filter = slice(search.raw, op.skip_any("filter"));
    attributes = slice(search.raw, op.skip(kSequence, "attributes"));
  });

  BerOutput out;
  out.print("{");
  out.raw(envelope.id);
  out.print("t{", tag_of(Op::search_request));
  out.raw(base);
  out.raw(scope);
  if (deref_aliases) {
    out.print("e", static_cast<ber_int_t>(*deref_aliases));
  } else {
    out.raw(deref);
  }
  out.print("ii", static_cast<ber_int_t>(size_limit), static_cast<ber_int_t>(time_limit));
  out.raw(types_only);
  out.raw(filter);
  out.raw(attributes);
  out.print("N}");
  write_controls(out, envelope, removed_controls);
  out.print("N}");
  return out.bytes();
}

Bytes encode_without_controls(const Message& message, std::span<const std::string> removed_controls) {
  const Envelope envelope = walk_envelope(message, message.op, nullptr);
  BerOutput out;
  out.print("{");
  out.raw(envelope.id);
  out.raw(envelope.op);
  write_controls(out, envelope, removed_controls);
  out.print("N}");
  return out.bytes();
}

Bytes encode_entry_without(const Message& entry, const std::function<bool(std::string_view)>& drop) {
  ByteView name;
  std::vector<ByteView> kept;
  const Envelope envelope = walk_envelope(entry, Op::search_result_entry, [&](Reader& op) {
    name = slice(entry.raw, op.skip(kOctetString, "objectName"));
    Reader attributes = op.enter(kSequence, "attributes");
    while (!attributes.at_end()) {
      const Element element = attributes.peek("attribute");
      Reader attribute = attributes.enter(kSequence, "attribute");
      const std::string description = attribute.string(kOctetString, "attribute description");
      attribute.skip(kSet, "attribute values");
      attribute.finish("the attribute values");
      if (!drop || !drop(description)) kept.push_back(slice(entry.raw, element));
    }
  });

  BerOutput out;
  out.print("{");
  out.raw(envelope.id);
  out.print("t{", tag_of(Op::search_result_entry));
  out.raw(name);
  out.print("{");
  for (const ByteView attribute : kept) out.raw(attribute);
  out.print("N}N}");
  out.raw(envelope.controls);
  out.print("N}");
  return out.bytes();
}

// ---- DNs --------------------------------------------------------------------------------------------

namespace {

// One spelling per attribute type, so that "commonName=x", "2.5.4.3=x" and "cn=x" compare equal.
std::string canonical_type(std::string_view type) {
  // LDAPv3 parsing already refuses the LDAPv2 "OID.2.5.4.3" form; never let it into the normal form.
  if (type.size() > 4 && ascii_lower(type.substr(0, 4)) == "oid.") type.remove_prefix(4);
  return canonical_attribute_type(type);
}

// caseIgnoreMatch for ASCII with insignificant space handling (RFC 4518): letters lower-cased,
// leading and trailing spaces removed, inner runs of spaces reduced to one.
std::string fold_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (const char c : value) {
    if (c == ' ') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(ascii_lower(c));
  }
  return out;
}

// RFC 4514 escaping, so that the joined form is unambiguous ("cn=a\+b" is one AVA, "cn=a+sn=b" two).
std::string escape_value(std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c == 0x7f) {
      out.push_back('\\');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0f]);
      continue;
    }
    const bool special = std::strchr("\"+,;<>\\=", c) != nullptr;
    const bool edge = (i == 0 && (c == '#' || c == ' ')) || (i + 1 == value.size() && c == ' ');
    if (special || edge) out.push_back('\\');
    out.push_back(static_cast<char>(c));
  }
  return out;
}

// `type`: the AVA's attribute type, canonical_type() of it.
std::string normalize_ava(const LDAPAVA& ava, const std::string& type) {
  const std::string_view value(ava.la_value.bv_val == nullptr ? "" : ava.la_value.bv_val,
                               ava.la_value.bv_len);
  if ((ava.la_flags & LDAP_AVA_BINARY) != 0) {
    // "#" followed by the BER encoding of the value: kept as hex, never equal to a string value.
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex = "#";
    for (const char c : value) {
      hex.push_back(kHex[static_cast<unsigned char>(c) >> 4]);
      hex.push_back(kHex[static_cast<unsigned char>(c) & 0x0f]);
    }
    return type + "=" + hex;
  }
  // Folding a value whose type tells case apart (memberUid=Alice, memberUid=alice) would merge two
  // entries the directory keeps apart; so would folding one of a type the gateway does not know.
  return type + "=" + escape_value(values_ignore_case(type) ? fold_value(value) : std::string(value));
}

}  // namespace

std::optional<Dn> Dn::parse(std::string_view text, std::string& error) {
  if (text.find('\0') != std::string_view::npos) {
    error = "DN contains a NUL octet";
    return std::nullopt;
  }
  const std::string terminated(text);
  LDAPDN parsed = nullptr;
  const int rc = ldap_str2dn(terminated.c_str(), &parsed, LDAP_DN_FORMAT_LDAPV3);
  std::unique_ptr<LDAPRDN, void (*)(LDAPDN)> guard(parsed, [](LDAPDN dn) {
    if (dn != nullptr) ldap_dnfree(dn);
  });
  if (rc != LDAP_SUCCESS) {
    error = rc == LDAP_DECODING_ERROR ? std::string("not a valid DN (RFC 4514)")
                                      : std::string("not a valid DN: ") + ldap_err2string(rc);
    return std::nullopt;
  }

  Dn dn;
  for (std::size_t i = 0; parsed != nullptr && parsed[i] != nullptr; ++i) {
    std::vector<std::string> avas;
    for (std::size_t j = 0; parsed[i][j] != nullptr; ++j) {
      const LDAPAVA& ava = *parsed[i][j];
      dn.types_.push_back(canonical_type(std::string_view(ava.la_attr.bv_val, ava.la_attr.bv_len)));
      avas.push_back(normalize_ava(ava, dn.types_.back()));
    }
    std::sort(avas.begin(), avas.end());
    std::string rdn;
    for (const std::string& ava : avas) {
      if (!rdn.empty()) rdn.push_back('+');
      rdn += ava;
    }
    if (!dn.normalized_.empty()) dn.normalized_.push_back(',');
    dn.normalized_ += rdn;
    dn.rdns_.push_back(std::move(rdn));
  }
  return dn;
}

bool Dn::within(const Dn& ancestor) const noexcept {
  if (ancestor.rdns_.size() > rdns_.size()) return false;
  return std::equal(ancestor.rdns_.rbegin(), ancestor.rdns_.rend(), rdns_.rbegin());
}

}  // namespace gw::ldap
