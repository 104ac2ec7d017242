// LDAPv3 messages (RFC 4511) on the wire: framing, decoding with liblber, and the few messages the
// gateway writes itself.
//
// Framing is done here, over the bytes buffered so far, because it only needs the outer SEQUENCE
// header; the contents are decoded with liblber (OpenLDAP's BER library), never by hand. A decoded
// Message keeps a view of its raw bytes so that an allowed message is forwarded unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gw::ldap {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// protocolOp tags (APPLICATION n, constructed unless noted).
enum class Op : std::uint8_t {
  bind_request = 0x60,
  bind_response = 0x61,
  unbind_request = 0x42,  // primitive (NULL)
  search_request = 0x63,
  search_result_entry = 0x64,
  search_result_done = 0x65,
  search_result_reference = 0x73,
  modify_request = 0x66,
  modify_response = 0x67,
  add_request = 0x68,
  add_response = 0x69,
  delete_request = 0x4a,  // primitive: the contents are the DN
  delete_response = 0x6b,
  modify_dn_request = 0x6c,
  modify_dn_response = 0x6d,
  compare_request = 0x6e,
  compare_response = 0x6f,
  abandon_request = 0x50,  // primitive INTEGER
  extended_request = 0x77,
  extended_response = 0x78,
  intermediate_response = 0x79,
};

// A stable lower-case name for logs and audit records ("search", "bind_response", ...), or
// "unknown" for a tag that is not an LDAPv3 protocolOp.
std::string_view op_name(Op op) noexcept;
// The request operation whose op_name() is `name` ("search", "modify_dn", ...); nullopt for any other.
std::optional<Op> request_named(std::string_view name) noexcept;
// True for the tags of request operations (bind, unbind, search, modify, add, delete, modify_dn,
// compare, abandon, extended).
bool is_request(Op op) noexcept;
// The response tag that answers a request (search -> search_result_done, extended ->
// extended_response, ...); nullopt for unbind and abandon, which have none, and non-requests.
std::optional<Op> response_to(Op request) noexcept;

// LDAPResult resultCode values the gateway uses.
namespace result {
inline constexpr int success = 0;
inline constexpr int operations_error = 1;
inline constexpr int protocol_error = 2;
inline constexpr int time_limit_exceeded = 3;
inline constexpr int size_limit_exceeded = 4;
inline constexpr int auth_method_not_supported = 7;
inline constexpr int strong_auth_required = 8;
inline constexpr int unavailable_critical_extension = 12;
inline constexpr int invalid_dn_syntax = 34;
inline constexpr int inappropriate_authentication = 48;
inline constexpr int invalid_credentials = 49;
inline constexpr int insufficient_access_rights = 50;
inline constexpr int busy = 51;
inline constexpr int unavailable = 52;
inline constexpr int unwilling_to_perform = 53;
inline constexpr int other = 80;
}  // namespace result

inline constexpr std::string_view kStartTlsOid = "1.3.6.1.4.1.1466.20037";
inline constexpr std::string_view kWhoAmIOid = "1.3.6.1.4.1.4203.1.11.3";
inline constexpr std::string_view kPasswordModifyOid = "1.3.6.1.4.1.4203.1.11.1";
inline constexpr std::string_view kNoticeOfDisconnectionOid = "1.3.6.1.4.1.1466.20036";

// Request controls the policy looks at.
inline constexpr std::string_view kAssertionControlOid = "1.3.6.1.1.12";           // RFC 4528
inline constexpr std::string_view kSortControlOid = "1.2.840.113556.1.4.473";      // RFC 2891
inline constexpr std::string_view kPreReadControlOid = "1.3.6.1.1.13.1";           // RFC 4527
inline constexpr std::string_view kPostReadControlOid = "1.3.6.1.1.13.2";          // RFC 4527
inline constexpr std::string_view kDerefControlOid = "1.3.6.1.4.1.4203.666.5.16";  // OpenLDAP slapo-deref
// Proxied Authorization: version 2 (RFC 4370) and the draft's version 1.
inline constexpr std::string_view kProxiedAuthorizationControlOid = "2.16.840.1.113730.3.4.18";
inline constexpr std::string_view kProxiedAuthorizationV1ControlOid = "2.16.840.1.113730.3.4.12";
inline bool is_proxied_authorization(std::string_view control_type) {
  return control_type == kProxiedAuthorizationControlOid || control_type == kProxiedAuthorizationV1ControlOid;
}

// ---- framing ----------------------------------------------------------------------------------------

struct Frame {
  enum class Status { need_more, complete, malformed };
  Status status = Status::need_more;
  std::size_t size = 0;  // complete: bytes of the whole message (header included)
  std::string error;  // malformed: why, e.g. "indefinite length", "message of 9000000 bytes exceeds 1048576"
};

// Looks at the start of `buffered` (the bytes received so far and not yet consumed) and says whether a
// whole LDAPMessage is there. Only definite lengths are valid (short form, or long form with 1 to 4
// length octets); the first octet must be 0x30 (SEQUENCE); a declared size above `max_message_size`
// is malformed as soon as the header is complete, before the contents arrive. Costs O(1): only the
// header is inspected.
Frame frame(ByteView buffered, std::size_t max_message_size) noexcept;

// ---- decoding ---------------------------------------------------------------------------------------

enum class AuthKind { none, simple, sasl };
enum class Scope { base = 0, one_level = 1, subtree = 2, children = 3 };

// One control of a message (RFC 4511 4.1.11), without its value.
struct Control {
  std::string type;  // controlType, an OID
  bool critical = false;
  bool operator==(const Control&) const = default;
};

// One decoded LDAPMessage. Which fields are filled depends on `op`; the rest stay empty / zero.
struct Message {
  ByteView raw;  // the whole message, as received (a view into the caller's buffer)
  std::int32_t id = 0;
  Op op{};
  bool has_controls = false;
  std::vector<Control> controls;  // in order
  // Requests with an assertion control: the attribute descriptions its filter names, and whether it
  // holds an extensible match on any attribute (as filter_attributes and filter_matches_any_attribute
  // below for a search's filter). The directory tests the filter against the operation's entry.
  std::vector<std::string> assertion_attributes;
  bool assertion_matches_any_attribute = false;
  // Requests with a server-side sort control: the attribute type of each sort key, as sent.
  std::vector<std::string> sort_attributes;

  // bind_request: dn = name. simple: password = the simple credentials. sasl: sasl_mechanism.
  // search_request: dn = baseObject. add/delete/modify/modify_dn/compare: dn = the entry.
  // search_result_entry: dn = objectName. Responses: dn = matchedDN.
  std::string dn;

  // bind_request
  int version = 0;
  AuthKind auth = AuthKind::none;
  std::string password;
  std::string sasl_mechanism;

  // search_request
  Scope scope = Scope::base;
  int deref_aliases = 0;
  std::int32_t size_limit = 0;
  std::int32_t time_limit = 0;
  bool types_only = false;
  ByteView filter;  // the raw Filter element (tag, length and contents), within raw
  // Every AttributeDescription the filter names (equality, substrings, >=, <=, present, approx,
  // extensible match's type), in order of appearance, as sent (case and options kept).
  std::vector<std::string> filter_attributes;
  // True when the filter holds an extensibleMatch with a matching rule but no type: it is tested
  // against every attribute of an entry that supports the rule, so it names no attribute above.
  bool filter_matches_any_attribute = false;
  std::vector<std::string> attributes;  // the requested attribute list, as sent

  // compare_request: the attribute of the assertion. modify_request: the attribute of each change.
  // add_request: each attribute of the entry. search_result_entry: each attribute of the entry.
  std::vector<std::string> entry_attributes;

  // modify_dn_request
  std::string new_rdn;
  bool delete_old_rdn = false;
  std::optional<std::string> new_superior;

  // abandon_request: the message id abandoned.
  std::int32_t abandoned_id = 0;

  // extended_request: requestName. extended_response / intermediate_response: responseName (may be empty).
  std::string oid;
  // extended_request of the password modify operation (RFC 3062) whose value names a userIdentity:
  // whose password to change (absent: the bound user's own).
  std::optional<std::string> password_identity;

  // Responses that carry an LDAPResult (bind, search_result_done, modify, add, delete, modify_dn,
  // compare, extended): resultCode and diagnosticMessage.
  int result_code = 0;
  std::string diagnostic;
};

// Decodes one complete message (exactly what frame() reported complete). Returns nullopt and sets
// `error` (e.g. "search request: bad scope 7", "message id 0 in a request") for anything that is not
// a well-formed LDAPv3 message: an unknown protocolOp tag, missing or extra elements inside the
// operation, invalid enumerations (scope 0-3, deref 0-3), negative limits, a request with message id 0
// (reserved for unsolicited notifications), trailing bytes after the message. Unknown controls are not
// an error: they are passed on (has_controls); a controlType with a NUL octet is. In a request, an
// assertion or sort control must carry a value that decodes. Filters nest at most 64 deep.
std::optional<Message> decode(ByteView pdu, std::string& error);

// ---- encoding ---------------------------------------------------------------------------------------

// An LDAPResult in the response `response_op` (bind_response, search_result_done, modify_response,
// add_response, delete_response, modify_dn_response, compare_response, extended_response) for message
// `id`. extended_response carries `response_oid` as responseName when it is not empty. Throws
// std::invalid_argument for any other op.
Bytes encode_result(std::int32_t id, Op response_op, int result_code, std::string_view matched_dn,
                    std::string_view diagnostic, std::string_view response_oid = {});

// The unsolicited Notice of Disconnection (RFC 4511 4.4.1): an extended_response with message id 0
// and responseName kNoticeOfDisconnectionOid, sent before the gateway closes a connection.
Bytes encode_notice_of_disconnection(int result_code, std::string_view diagnostic);

// An ExtendedRequest with requestName `oid` and no requestValue, no controls (the gateway's own StartTLS).
Bytes encode_extended_request(std::int32_t id, std::string_view oid);

// A simple BindRequest, LDAPv3, no controls.
Bytes encode_simple_bind(std::int32_t id, std::string_view dn, std::string_view password);

// `search` (a decoded search_request) again with other size and time limits, derefAliases replaced
// when `deref_aliases` is given, and without the controls whose type is in `removed_controls`;
// everything else (the filter, the attribute list, the other controls) byte for byte as received.
// Throws std::invalid_argument for a negative limit, a derefAliases outside 0-3, or a message whose
// `raw` is not a search request.
Bytes encode_search_with_limits(const Message& search, std::int32_t size_limit, std::int32_t time_limit,
                                std::optional<int> deref_aliases = std::nullopt,
                                std::span<const std::string> removed_controls = {});

// `message` (any decoded message) without the controls whose type is in `removed_controls` (the
// [0] element left out when none remains), everything else byte for byte. Throws
// std::invalid_argument when `message.raw` does not decode as its op.
Bytes encode_without_controls(const Message& message, std::span<const std::string> removed_controls);

// `entry` (a decoded search_result_entry) without the attributes for which `drop(description)` is
// true, the rest (and any controls) byte for byte. `drop` gets each AttributeDescription as sent; an
// empty `drop` keeps everything. Throws std::invalid_argument when `entry.raw` is not such an entry.
Bytes encode_entry_without(const Message& entry, const std::function<bool(std::string_view)>& drop);

// ---- DNs --------------------------------------------------------------------------------------------

// A distinguished name parsed with libldap's ldap_str2dn (RFC 4514), in a form that compares as LDAP
// matching does for the usual naming attributes: attribute types under one name (attribute_types.hpp),
// values unescaped; the values of a type known to compare without regard to case (cn, ou, dc, uid,
// ...) lower-cased with insignificant spaces removed, those of any other type (memberUid, an unknown
// type) kept as they are, so that two DNs the directory may tell apart never compare equal.
class Dn {
 public:
  // nullopt (and `error` set) for a string that is not a valid DN. "" is the root (zero RDNs).
  static std::optional<Dn> parse(std::string_view text, std::string& error);

  std::size_t rdn_count() const noexcept { return rdns_.size(); }
  bool is_root() const noexcept { return rdns_.empty(); }
  // True when this DN is `ancestor` or lies below it (every DN is within the root).
  bool within(const Dn& ancestor) const noexcept;
  bool operator==(const Dn& other) const noexcept { return rdns_ == other.rdns_; }
  // The normalised form, e.g. "ou=people,dc=example,dc=com" (for logs and tests).
  const std::string& normalized() const noexcept { return normalized_; }
  // The attribute type of every AVA in canonical form ("cn" for "commonName"), most specific RDN first.
  const std::vector<std::string>& attribute_types() const noexcept { return types_; }

 private:
  // Each RDN as its AVAs "type=value" sorted, joined with '+'; most specific RDN first.
  std::vector<std::string> rdns_;
  std::string normalized_;
  std::vector<std::string> types_;
};

}  // namespace gw::ldap
