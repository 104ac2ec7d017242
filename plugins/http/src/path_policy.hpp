// The connector's HTTP resource policy: which request-targets may reach an internal system.
//
// An HTTP request passes the connector only if its path falls under a configured resource. The client
// controls the request-target completely, so the path is first brought into one canonical form
// (normalize_target), the policy decides on that form (ResourcePolicy::check), and the backend receives
// exactly that form (NormalizedTarget::forward_target). No spelling of a path (percent-encoding, dot
// segments, repeated slashes, backslashes) can make the backend see a path other than the one checked.
//
// normalize_target() accepts only the origin-form "/path[?query]" and applies, in this order:
//   1. The whole target: not empty, at most kMaxTargetLength bytes, starts with '/' (absolute-form,
//      authority-form and asterisk-form are the caller's business), no '#' anywhere.
//   2. The path (before the first '?'): no raw byte <= 0x20, 0x7f or >= 0x80, no raw '\'. Every '%'
//      starts an escape of two hex digits (either case). Escapes are decoded exactly once: "%252e"
//      becomes the three characters "%2e", which are not decoded again and are not a dot segment.
//      An escape that decodes to '/', '\', or a control byte (< 0x20, 0x7f; "%00" included) is an
//      ambiguous encoding and an error. Decoded bytes >= 0x80 must form well-formed UTF-8 (RFC 3629):
//      overlong forms ("%c0%ae" for '.'), surrogates and code points above U+10FFFF are errors,
//      because some backends decode them into '.', '/' or '\'.
//   3. Repeated slashes collapse into one; then dot segments are removed (RFC 3986 §5.2.4) from the
//      decoded path. A ".." above the root is an error (never clamped to the root). A path ending in
//      "/." or "/.." keeps a trailing slash, as RFC 3986 does. ';' is an ordinary character, except
//      that a segment that looks like a dot segment to some backend is an error: one whose text
//      before the first ';' consists of dots and spaces only, other than "." and ".." themselves
//      ("..;x", ".;", "...", ".. "). Servlet containers strip ";parameters" ("..;x" is ".." there)
//      and Windows trims trailing dots and spaces.
//      More than kMaxPathSegments non-empty segments (counted before dot removal) is an error.
//   4. The query (after the first '?') is kept verbatim; it must not hold a byte <= 0x20, 0x7f or
//      >= 0x80, and every '%' must start an escape of two hex digits.
//   5. The canonical target (forward_target) may not exceed kMaxTargetLength bytes either, so that a
//      normalised target always normalises to itself.
//
// Error texts never contain bytes of the request: offending bytes appear as hex ("0x0a"), so they are
// safe to log and to send in a 400 response.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gw::http {

inline constexpr std::size_t kMaxTargetLength = 8192;
inline constexpr std::size_t kMaxPathSegments = 256;

// Result of normalising an origin-form request-target ("/path?query").
struct NormalizedTarget {
  std::string path;        // decoded, dot-segments removed, repeated slashes collapsed; starts with '/'
  std::string query;       // verbatim (without '?'), validated; empty if none
  bool had_query = false;  // "?" present (even if empty)

  // The target to forward upstream: encode_path(path), then "?" + query if had_query.
  std::string forward_target() const;

  friend bool operator==(const NormalizedTarget&, const NormalizedTarget&) = default;
};

// Returns the normalised target, or std::nullopt with the reason (for logs and the 400 response) in
// `error`. `error` is cleared on success.
std::optional<NormalizedTarget> normalize_target(std::string_view target, std::string& error);

// The canonical encoding of a decoded path: every byte outside RFC 3986 pchar, and '%' itself, becomes
// "%XX" (upper-case hex); unreserved characters, sub-delims, ':', '@' and '/' stay as they are.
std::string encode_path(std::string_view decoded_path);

// How a resource's path admits request paths. Matching is case-sensitive.
enum class MatchKind {
  exact,        // path == resource path
  prefix,       // plain string prefix, as the reference product does: "/a/b" admits "/a/bc"
  path_prefix,  // segment-aware: "/a/b" admits "/a/b" and "/a/b/...", not "/a/bc"; a resource path
                // ending in '/' admits itself and anything below it ("/a/b/" does not admit "/a/b")
};

struct Resource {
  std::string path;  // as configured (percent-encoded form allowed); the policy stores it normalised
  MatchKind match = MatchKind::path_prefix;
  // Case-sensitive method tokens (RFC 9110), normally upper case; empty: any method. There are no
  // implicit rules: a list with GET admits HEAD only if HEAD is listed too.
  std::vector<std::string> methods;
  bool enabled = true;     // false: suspended; the resource still matches, and denies
  bool websocket = false;  // a WebSocket upgrade is allowed on this resource
};

struct Decision {
  bool allowed = false;
  const Resource* resource = nullptr;  // the resource that decided (points into the policy), if any
  // Why denied, e.g. "no resource matches /x", "method DELETE not allowed on /api",
  // "resource /api is suspended", "WebSocket upgrade not allowed on /api". Paths appear in their
  // canonical encoding (encode_path), methods with bytes outside token characters as "\xNN".
  std::string reason;
};

class ResourcePolicy {
 public:
  // Normalises every resource path with normalize_target's rules (a query is not allowed either).
  // Throws std::invalid_argument naming the resource's index and the problem for an invalid path or a
  // method that is not an RFC 9110 token.
  explicit ResourcePolicy(std::vector<Resource> resources);

  // Decides on a request. `path` is NormalizedTarget::path; a path not in that form (not starting with
  // '/', with an empty, "." or ".." segment, a '\' or a control byte) is denied.
  // The most specific matching resource decides: the longest resource path; at equal length exact
  // beats path_prefix beats prefix; then the earlier resource. That resource denies if it is
  // suspended, then if the method is not on its list, then if a WebSocket upgrade is requested and
  // not allowed on it; otherwise the request is allowed. No matching resource: denied.
  Decision check(std::string_view method, std::string_view path, bool websocket_upgrade) const;

  // The resources in configured order, with normalised paths.
  const std::vector<Resource>& resources() const noexcept { return resources_; }

 private:
  std::vector<Resource> resources_;
};

}  // namespace gw::http
