// A blocking SOCKS5 client for tests (RFC 1928, RFC 1929 and the reference product's method 0x80), and
// helpers that mint HS256 / RS256 JWTs for it. Plain POSIX sockets and OpenSSL, nothing of the gateway.
// Every receive is bounded by a guard that only prevents a hang: a missing byte fails the test
// instead of blocking it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace gw::testing {

// How the client authenticates: it offers exactly this one method.
struct SocksAuth {
  enum class Kind { none, password, jwt };
  Kind kind = Kind::none;
  std::string username;  // password
  std::string password;  // password
  std::string token;     // jwt
  std::string location;  // jwt: sent Base64-encoded; empty: the default location (length byte 00)

  static SocksAuth anonymous() { return {}; }
  static SocksAuth with_password(std::string username, std::string password) {
    return {Kind::password, std::move(username), std::move(password), {}, {}};
  }
  static SocksAuth with_jwt(std::string token, std::string location = {}) {
    return {Kind::jwt, {}, {}, std::move(token), std::move(location)};
  }
};

// How far a handshake got. -1 means the server sent no answer at that step (it closed, or the guard
// expired; `error` says which).
struct SocksResult {
  int method = -1;       // the method the server chose; 0xFF: none acceptable
  int auth_status = -1;  // sub-negotiation status: 0 accepted, anything else refused
  int reply = -1;        // REP of the CONNECT reply: 0 succeeded, 1..8 the failure codes
  std::string bound;     // BND.ADDR:BND.PORT of the reply ("0.0.0.0:0", "[::1]:80", "name:1")
  std::string error;     // why the handshake stopped early, for test messages
  bool ok() const { return reply == 0; }
};

class SocksClient {
 public:
  static constexpr std::chrono::milliseconds kDefaultGuard{20000};

  // Connects to 127.0.0.1:port; throws std::system_error on failure.
  explicit SocksClient(std::uint16_t port, std::chrono::milliseconds guard = kDefaultGuard);
  ~SocksClient();
  SocksClient(SocksClient&& other) noexcept;
  SocksClient& operator=(SocksClient&&) = delete;
  SocksClient(const SocksClient&) = delete;
  SocksClient& operator=(const SocksClient&) = delete;

  // The whole handshake: greeting, the sub-negotiation of `auth`, CONNECT host:port. `host` goes out
  // as ATYP 01 if it is an IPv4 literal, 04 if an IPv6 literal (brackets optional), 03 otherwise.
  // `early_data` is sent in the same write as the request, as clients that do not wait for the
  // reply do. After ok() the socket carries the application's data (send / receive_*).
  SocksResult connect(const SocksAuth& auth, std::string_view host, std::uint16_t port,
                      std::string_view early_data = {});

  // Raw access for protocol tests and for the data phase.
  void send(std::string_view data);  // throws std::system_error
  // Exactly `size` bytes, or fewer if the connection ended or the guard expired.
  std::string receive_exact(std::size_t size);
  // Everything until the peer closes (or the guard expires).
  std::string receive_all();
  // True when the peer has closed (eof or reset) within the guard, discarding any data before that.
  bool wait_closed();
  void shutdown_write();
  void close();
  int fd() const { return fd_; }

  // Wire encodings, for tests that send malformed variants.
  static std::string greeting(std::string_view methods);
  static std::string password_message(std::string_view username, std::string_view password);
  static std::string jwt_message(std::string_view token, std::string_view location);
  static std::string connect_request(std::string_view host, std::uint16_t port);

 private:
  // Reads exactly `size` bytes into `out`; false (with `error` set) if the connection ended first.
  bool read_exact(std::string& out, std::size_t size, std::string& error);

  int fd_ = -1;
  std::chrono::milliseconds guard_;
};

// ---- JWTs ----

std::string base64_encode(std::string_view data);     // standard alphabet, padded
std::string base64url_encode(std::string_view data);  // URL alphabet, unpadded

struct RsaKeyPair {
  std::string private_pem;  // PKCS#8 "PRIVATE KEY"
  std::string public_pem;   // "PUBLIC KEY", what an RS256 verifier loads
};
RsaKeyPair generate_rsa_key_pair(int bits = 2048);

// Claims a verifier with this audience and the default tenant claim accepts: exp = now + valid_for
// (negative: already expired), plus `sub` when not empty.
std::string jwt_claims(std::string_view tenant, std::string_view audience,
                       std::chrono::seconds valid_for = std::chrono::seconds(300),
                       std::string_view subject = {});

// Compact JWS with header {"alg":"HS256","typ":"JWT"} / {"alg":"RS256","typ":"JWT"}; `claims_json`
// goes in unchanged, so tests can mint malformed claims as well.
std::string mint_hs256(std::string_view claims_json, std::string_view secret);
std::string mint_rs256(std::string_view claims_json, const std::string& private_pem);
// Any header, for tests of algorithm confusion ({"alg":"none"} etc.). The signature is HS256 over the
// input with `secret`, or empty when `secret` is empty.
std::string mint_with_header(std::string_view header_json, std::string_view claims_json,
                             std::string_view secret);

}  // namespace gw::testing
