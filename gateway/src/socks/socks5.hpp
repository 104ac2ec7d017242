// SOCKS5 server side (RFC 1928) with username/password (RFC 1929) and the reference product's method
// 0x80 (a JWT naming the tenant, plus a location id).
//
// negotiate() runs the greeting, the authentication and reads the CONNECT request. It does not answer
// the request: the caller first tries to open the tunnel, then answers with send_reply() and the code
// reply_for() gives for the tunnel's error. Every failure before that point has already been answered
// as the protocol wants (or, for I/O errors and the timeout, not at all) and the caller just closes.
//
// Wire choices where the RFCs and the reference leave room:
//   - Method preference is the server's: jwt (0x80) > password (0x02) > none (0x00), among those the
//     client lists and the options offer. None acceptable, or an empty method list: `05 FF`, close.
//   - A wrong version byte in the greeting (SOCKS4, HTTP, TLS hitting the port) gets no answer.
//   - RFC 1929 and 0x80 failures answer `01 01` and close, malformed sub-negotiations included.
//     RFC 1929 says the server closes after a failure status, so REP 05 ("authentication failed" in
//     the reference) cannot follow an authentication failure; negotiate() never sends it. It remains
//     for callers whose policy refuses an authenticated identity after the request was read.
//   - 0x80 message: `01`, JWT length (4 bytes, big-endian, 1..64 KiB), JWT, location-id length (1 byte),
//     location id in standard padded Base64 (decoding to 0..64 of [A-Za-z0-9._-]). Success: `01 00`.
//   - Request: CMD other than CONNECT -> 07; ATYP other than 01/03/04 -> 08; a bad version or reserved
//     byte, or a domain name that is not 1..255 of [A-Za-z0-9._-] (IDNs in A-label form) -> 01;
//     port 0 -> 02, because no mapping can allow it (what a connector's allowlist would answer).
//     A domain name that is an IPv6 literal (with or without brackets) is treated as ATYP 04.
//   - Bytes the client sent after the request (clients that do not wait for the reply) are returned
//     in Negotiation::early_data; the caller forwards them once the tunnel is open.
//   - The whole negotiation is bounded by Options::timeout; on expiry the client stream is closed
//     without a reply.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/plugin/stream.hpp"
#include "socks/jwt.hpp"

namespace gw::config {
struct ProxyEntryConfig;
}

namespace gw::socks {

inline constexpr std::uint8_t kVersion = 0x05;
inline constexpr std::uint8_t kAuthVersion = 0x01;  // RFC 1929 and method 0x80 sub-negotiation

enum class Method : std::uint8_t {
  none = 0x00,
  password = 0x02,  // RFC 1929
  jwt = 0x80,       // the reference product's JWT + location id
  no_acceptable = 0xFF,
};

enum class Command : std::uint8_t { connect = 0x01, bind = 0x02, udp_associate = 0x03 };
enum class AddressType : std::uint8_t { ipv4 = 0x01, domain = 0x03, ipv6 = 0x04 };

// REP codes. Names follow RFC 1928; comments give the reference product's reading where it differs.
enum class ReplyCode : std::uint8_t {
  succeeded = 0x00,
  general_failure = 0x01,        // also: the backend closed, malformed request
  not_allowed = 0x02,            // no matching mapping (the connector's allowlist)
  network_unreachable = 0x03,    // no connector connected, or unknown location
  host_unreachable = 0x04,       // the connector could not reach the internal system
  connection_refused = 0x05,     // reference: authentication failed (see the file comment)
  ttl_expired = 0x06,            // not used
  command_not_supported = 0x07,  // anything but CONNECT
  address_type_not_supported = 0x08,
};

// ---- Pure parsing: byte spans in, need-more / ok / error out. Nothing here does I/O. ----

enum class ParseStatus { need_more, ok, error };

template <typename T>
struct Parsed {
  ParseStatus status = ParseStatus::need_more;
  T value{};                 // when ok
  std::size_t consumed = 0;  // when ok: bytes the message took; the rest belongs to what follows
  std::string error;         // when error: why, for logs (never secrets)
  ReplyCode reply = ReplyCode::general_failure;  // when a request is refused: the REP to answer with
};

struct Greeting {
  std::vector<std::uint8_t> methods;  // as listed by the client (0..255 entries)
};
// `05 NMETHODS METHODS...`. NMETHODS 0 parses as an empty list, for which nothing is acceptable.
Parsed<Greeting> parse_greeting(std::span<const std::uint8_t> bytes);

struct PasswordAuth {
  std::string username;  // 1..255 bytes
  std::string password;  // 1..255 bytes
};
// `01 ULEN UNAME PLEN PASSWD` (RFC 1929). ULEN 0 and PLEN 0 are errors.
Parsed<PasswordAuth> parse_password_auth(std::span<const std::uint8_t> bytes);

struct JwtAuth {
  std::string token;
  std::string location_id;  // decoded
};
// `01 LEN(4, BE) JWT LOCLEN(1) BASE64(location id)`. A length of 0 or above `max_token` is an error as
// soon as the length field is complete, so an oversized token is never buffered.
Parsed<JwtAuth> parse_jwt_auth(std::span<const std::uint8_t> bytes,
                               std::size_t max_token = JwtVerifier::kMaxTokenSize);

struct Request {
  Command command = Command::connect;
  AddressType address_type = AddressType::ipv4;
  // IPv4 dotted quad; IPv6 in its canonical text form without brackets; a domain name as sent.
  std::string host;
  std::uint16_t port = 0;
};
// `05 CMD 00 ATYP DST.ADDR DST.PORT`. Errors carry the REP code to answer with; the header checks
// (version, command, reserved byte, address type) fail as soon as the first four bytes are there.
Parsed<Request> parse_request(std::span<const std::uint8_t> bytes);

// The address in a reply (BND.ADDR / BND.PORT). Clients of a CONNECT rarely use it; 0.0.0.0:0 is fine.
struct BoundAddress {
  boost::asio::ip::address address = boost::asio::ip::address_v4::any();
  std::uint16_t port = 0;
};
// `05 REP 00 ATYP BND.ADDR BND.PORT`.
std::vector<std::uint8_t> encode_reply(ReplyCode code, const BoundAddress& bound = {});

// ---- Negotiation ----

struct User {
  std::string password;
  std::string tenant;
  std::string location_id;
};

struct Options {
  bool offer_none = false;                         // needs anonymous_tenant
  bool offer_password = false;                     // needs users
  bool offer_jwt = false;                          // needs jwt
  std::map<std::string, User, std::less<>> users;  // username -> credentials and identity
  std::optional<JwtVerifier> jwt;
  std::string anonymous_tenant;  // identity of a client that chose `none`
  std::string anonymous_location;
  std::chrono::milliseconds timeout{10000};            // greeting to request, all of it
  std::size_t max_token = JwtVerifier::kMaxTokenSize;  // at most JwtVerifier::kMaxTokenSize
  // The time JWTs are checked against; system_clock::now when empty (tests pin it).
  std::function<std::chrono::system_clock::time_point()> clock;
};

// Who a client is, once authenticated.
struct Identity {
  std::string tenant;
  std::string location_id;
  std::string principal;  // the user name, or the JWT's `sub`
};
// A user name and password checked against options.users; the comparison takes the same time for an
// unknown user as for a wrong password. nullopt with `error` set when refused.
std::optional<Identity> authenticate_password(const Options& options, std::string_view username,
                                              std::string_view password, std::string& error);
// A JWT checked by options.jwt (which must be set) at options.clock(); `location_id` is taken as given.
std::optional<Identity> authenticate_jwt(const Options& options, std::string_view token,
                                         std::string_view location_id, std::string& error);

// Options from the `socks5:` (or `http_proxy:`) section. Throws std::runtime_error when the JWT key cannot be
// loaded (or the JWT settings are unusable); the message names the file, never the secret.
Options make_options(const config::ProxyEntryConfig& config);

// The method negotiate() picks for `offered`: the first of jwt, password, none that the client lists
// and `options` offers (jwt only with a verifier, none only with an anonymous tenant); otherwise
// Method::no_acceptable.
Method select_method(std::span<const std::uint8_t> offered, const Options& options);

// Why a negotiation ended without a request to serve.
enum class Failure {
  io,                    // read/write error or the client closed (no reply possible)
  timeout,               // Options::timeout elapsed; the stream was closed
  protocol,              // malformed greeting or sub-negotiation (a sub-negotiation got 01 01)
  no_acceptable_method,  // answered 05 FF
  auth_failed,           // answered 01 01: unknown user, wrong password, token refused
  request_refused,       // answered with a REP code (unsupported command, address type, port 0, ...)
};
std::string_view failure_name(Failure failure) noexcept;

struct Negotiation {
  bool ok = false;
  explicit operator bool() const noexcept { return ok; }

  // "none" | "password" | "jwt": the method agreed on; empty when none was.
  std::string method;

  // Success: the identity and the CONNECT target; the request is still unanswered.
  std::string tenant;
  std::string location_id;
  std::string principal;  // password: the username; jwt: `sub` (may be empty); none: empty
  std::string host;       // IPv4 dotted quad, IPv6 without brackets, or a domain name as sent
  std::uint16_t port = 0;
  AddressType address_type = AddressType::domain;
  std::string early_data;  // bytes the client sent after the request, to forward first

  // Failure: whatever the protocol wants answered is already on the wire.
  Failure failure = Failure::io;
  // A credential or token was presented and refused (an audit-worthy event), malformed ones included.
  bool authentication_failed = false;
  std::string reason;  // for logs; names the step and the cause, never a password or a token
  error_code error;    // the I/O error, for Failure::io
};

asio::awaitable<Negotiation> negotiate(Stream& client, const Options& options);

// Writes `05 code 00 ATYP BND.ADDR BND.PORT`.
asio::awaitable<error_code> send_reply(Stream& client, ReplyCode code, const BoundAddress& bound = {});

// The REP code for the outcome of opening the tunnel:
//   success -> 00; TunnelErrc::denied -> 02; no_connector, unknown_location -> 03;
//   unreachable, timed_out -> 04; busy, tunnel_lost, refused -> 01.
//   From a direct connection: connection refused, host/network unreachable, timeout and name
//   resolution failures -> 04 (the reference's "host unreachable"); anything else -> 01.
ReplyCode reply_for(const error_code& tunnel_error) noexcept;

}  // namespace gw::socks
