#include "socks/socks5.hpp"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <boost/asio/error.hpp>
#include <utility>

#include "config/config.hpp"
#include "gateway/plugin/deadline.hpp"
#include "gateway/plugin/tunnel.hpp"
#include "tunnel/identity.hpp"

namespace gw::socks {

namespace {

using Bytes = std::span<const std::uint8_t>;

template <typename T>
Parsed<T> need_more() {
  return {};
}

template <typename T>
Parsed<T> refuse(std::string error, ReplyCode reply = ReplyCode::general_failure) {
  Parsed<T> result;
  result.status = ParseStatus::error;
  result.error = std::move(error);
  result.reply = reply;
  return result;
}

template <typename T>
Parsed<T> complete(T value, std::size_t consumed) {
  Parsed<T> result;
  result.status = ParseStatus::ok;
  result.value = std::move(value);
  result.consumed = consumed;
  return result;
}

std::string hex(std::uint8_t byte) {
  static constexpr char kDigits[] = "0123456789abcdef";
  return {'0', 'x', kDigits[byte >> 4], kDigits[byte & 0xF]};
}

std::string text(Bytes bytes, std::size_t offset, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(bytes.data() + offset), size);
}

std::string_view command_name(std::uint8_t command) {
  switch (command) {
    case 0x02:
      return "BIND";
    case 0x03:
      return "UDP ASSOCIATE";
    default:
      return "unknown";
  }
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
         c == '_';
}

// An IPv6 literal sent as a domain name ("::1" or "[::1]"), in canonical form.
std::optional<std::string> ipv6_literal(std::string_view name) {
  if (name.size() >= 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
  if (name.find(':') == std::string_view::npos) return std::nullopt;
  // inet_pton reads up to a NUL: "::1\0anything" must not pass as "::1".
  if (name.find('\0') != std::string_view::npos) return std::nullopt;
  const std::string text_form(name);
  std::array<unsigned char, 16> raw{};
  if (::inet_pton(AF_INET6, text_form.c_str(), raw.data()) != 1) return std::nullopt;
  return boost::asio::ip::address_v6(raw).to_string();
}

// Compares secrets in time independent of where they differ (and of their lengths).
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char digest_a[EVP_MAX_MD_SIZE];
  unsigned char digest_b[EVP_MAX_MD_SIZE];
  unsigned int size_a = 0;
  unsigned int size_b = 0;
  if (EVP_Digest(a.data(), a.size(), digest_a, &size_a, EVP_sha256(), nullptr) != 1 ||
      EVP_Digest(b.data(), b.size(), digest_b, &size_b, EVP_sha256(), nullptr) != 1 || size_a != size_b) {
    return false;
  }
  return CRYPTO_memcmp(digest_a, digest_b, size_a) == 0;
}

}  // namespace

// ---- Parsing ----

Parsed<Greeting> parse_greeting(Bytes bytes) {
  if (bytes.empty()) return need_more<Greeting>();
  if (bytes[0] != kVersion) return refuse<Greeting>("greeting version " + hex(bytes[0]) + ", not 0x05");
  if (bytes.size() < 2) return need_more<Greeting>();
  const std::size_t count = bytes[1];
  if (bytes.size() < 2 + count) return need_more<Greeting>();
  Greeting greeting;
  greeting.methods.assign(bytes.begin() + 2, bytes.begin() + 2 + static_cast<std::ptrdiff_t>(count));
  return complete(std::move(greeting), 2 + count);
}

Parsed<PasswordAuth> parse_password_auth(Bytes bytes) {
  if (bytes.empty()) return need_more<PasswordAuth>();
  if (bytes[0] != kAuthVersion) {
    return refuse<PasswordAuth>("username/password version " + hex(bytes[0]) + ", not 0x01");
  }
  if (bytes.size() < 2) return need_more<PasswordAuth>();
  const std::size_t user_size = bytes[1];
  if (user_size == 0) return refuse<PasswordAuth>("empty username");
  if (bytes.size() < 3 + user_size) return need_more<PasswordAuth>();
  const std::size_t password_size = bytes[2 + user_size];
  if (password_size == 0) return refuse<PasswordAuth>("empty password");
  const std::size_t total = 3 + user_size + password_size;
  if (bytes.size() < total) return need_more<PasswordAuth>();
  return complete(PasswordAuth{text(bytes, 2, user_size), text(bytes, 3 + user_size, password_size)}, total);
}

Parsed<JwtAuth> parse_jwt_auth(Bytes bytes, std::size_t max_token) {
  if (bytes.empty()) return need_more<JwtAuth>();
  if (bytes[0] != kAuthVersion)
    return refuse<JwtAuth>("jwt sub-negotiation version " + hex(bytes[0]) + ", not 0x01");
  if (bytes.size() < 5) return need_more<JwtAuth>();
  const std::size_t token_size = (std::size_t{bytes[1]} << 24) | (std::size_t{bytes[2]} << 16) |
                                 (std::size_t{bytes[3]} << 8) | std::size_t{bytes[4]};
  if (token_size == 0) return refuse<JwtAuth>("empty token");
  if (token_size > max_token) {
    return refuse<JwtAuth>("token length " + std::to_string(token_size) + " above the " +
                           std::to_string(max_token) + "-byte limit");
  }
  if (bytes.size() < 6 + token_size) return need_more<JwtAuth>();
  const std::size_t location_size = bytes[5 + token_size];
  const std::size_t total = 6 + token_size + location_size;
  if (bytes.size() < total) return need_more<JwtAuth>();
  auto location = base64_decode(
      std::string_view(reinterpret_cast<const char*>(bytes.data()) + 6 + token_size, location_size));
  if (!location) return refuse<JwtAuth>("location id is not valid Base64");
  if (!tunnel::is_location_id(*location)) {
    return refuse<JwtAuth>("location id is not 0..64 of letters, digits, '.', '_' or '-'");
  }
  return complete(JwtAuth{text(bytes, 5, token_size), std::move(*location)}, total);
}

Parsed<Request> parse_request(Bytes bytes) {
  if (bytes.empty()) return need_more<Request>();
  if (bytes[0] != kVersion) return refuse<Request>("request version " + hex(bytes[0]) + ", not 0x05");
  if (bytes.size() < 2) return need_more<Request>();
  if (bytes[1] != static_cast<std::uint8_t>(Command::connect)) {
    return refuse<Request>("command " + std::string(command_name(bytes[1])) + " (" + hex(bytes[1]) +
                               ") not supported, only CONNECT",
                           ReplyCode::command_not_supported);
  }
  if (bytes.size() < 3) return need_more<Request>();
  if (bytes[2] != 0) return refuse<Request>("reserved byte is " + hex(bytes[2]) + ", not 0x00");
  if (bytes.size() < 4) return need_more<Request>();

  Request request;
  std::size_t address_end = 0;  // offset of DST.PORT
  switch (bytes[3]) {
    case static_cast<std::uint8_t>(AddressType::ipv4): {
      address_end = 4 + 4;
      if (bytes.size() < address_end + 2) return need_more<Request>();
      std::array<unsigned char, 4> raw{};
      std::copy_n(bytes.begin() + 4, raw.size(), raw.begin());
      request.address_type = AddressType::ipv4;
      request.host = boost::asio::ip::address_v4(raw).to_string();
      break;
    }
    case static_cast<std::uint8_t>(AddressType::ipv6): {
      address_end = 4 + 16;
      if (bytes.size() < address_end + 2) return need_more<Request>();
      std::array<unsigned char, 16> raw{};
      std::copy_n(bytes.begin() + 4, raw.size(), raw.begin());
      request.address_type = AddressType::ipv6;
      request.host = boost::asio::ip::address_v6(raw).to_string();
      break;
    }
    case static_cast<std::uint8_t>(AddressType::domain): {
      if (bytes.size() < 5) return need_more<Request>();
      const std::size_t size = bytes[4];
      if (size == 0) return refuse<Request>("empty domain name");
      address_end = 5 + size;
      if (bytes.size() < address_end + 2) return need_more<Request>();
      std::string name = text(bytes, 5, size);
      if (auto v6 = ipv6_literal(name)) {
        request.address_type = AddressType::ipv6;
        request.host = std::move(*v6);
      } else if (std::all_of(name.begin(), name.end(), is_name_char)) {
        request.address_type = AddressType::domain;
        request.host = std::move(name);
      } else {
        return refuse<Request>("domain name has characters other than letters, digits, '.', '-' and '_'");
      }
      break;
    }
    default:
      return refuse<Request>("address type " + hex(bytes[3]) + " not supported",
                             ReplyCode::address_type_not_supported);
  }
  request.port = static_cast<std::uint16_t>((bytes[address_end] << 8) | bytes[address_end + 1]);
  if (request.port == 0) return refuse<Request>("port 0", ReplyCode::not_allowed);
  return complete(std::move(request), address_end + 2);
}

std::vector<std::uint8_t> encode_reply(ReplyCode code, const BoundAddress& bound) {
  std::vector<std::uint8_t> out{kVersion, static_cast<std::uint8_t>(code), 0x00};
  if (bound.address.is_v6()) {
    out.push_back(static_cast<std::uint8_t>(AddressType::ipv6));
    const auto raw = bound.address.to_v6().to_bytes();
    out.insert(out.end(), raw.begin(), raw.end());
  } else {
    out.push_back(static_cast<std::uint8_t>(AddressType::ipv4));
    const auto raw = bound.address.to_v4().to_bytes();
    out.insert(out.end(), raw.begin(), raw.end());
  }
  out.push_back(static_cast<std::uint8_t>(bound.port >> 8));
  out.push_back(static_cast<std::uint8_t>(bound.port & 0xFF));
  return out;
}

// ---- Negotiation ----

std::optional<Identity> authenticate_password(const Options& options, std::string_view username,
                                              std::string_view password, std::string& error) {
  const auto user = options.users.find(username);
  bool valid = false;
  if (user != options.users.end()) {
    valid = same_secret(password, user->second.password);
  } else {
    same_secret(password, "-");  // an unknown user costs the same as a wrong password
  }
  if (!valid) {
    error = "unknown user or wrong password";
    return std::nullopt;
  }
  return Identity{user->second.tenant, user->second.location_id, std::string(username)};
}

std::optional<Identity> authenticate_jwt(const Options& options, std::string_view token,
                                         std::string_view location_id, std::string& error) {
  if (!options.jwt) {
    error = "JWT authentication is not configured";
    return std::nullopt;
  }
  const auto now = options.clock ? options.clock() : std::chrono::system_clock::now();
  const auto claims = options.jwt->verify(token, now, error);
  if (!claims) return std::nullopt;
  return Identity{claims->tenant, std::string(location_id), claims->subject};
}

Options make_options(const config::ProxyEntryConfig& config) {
  Options options;
  options.offer_none = config.offer_none;
  options.offer_password = config.offer_password;
  options.offer_jwt = config.offer_jwt;
  for (const auto& user : config.users) {
    options.users.insert_or_assign(user.username, User{user.password, user.tenant, user.location_id});
  }
  if (config.jwt) {
    JwtPolicy policy{config.jwt->audience, config.jwt->tenant_claim, config.jwt->leeway,
                     config.jwt->max_lifetime};
    options.jwt = config.jwt->algorithm == config::ProxyJwtConfig::Algorithm::hs256
                      ? JwtVerifier::hs256(config.jwt->secret, std::move(policy))
                      : JwtVerifier::rs256_from_file(config.jwt->public_key_file, std::move(policy));
  }
  options.anonymous_tenant = config.anonymous_tenant;
  options.anonymous_location = config.anonymous_location;
  options.timeout = config.handshake_timeout;
  return options;
}

std::string_view failure_name(Failure failure) noexcept {
  switch (failure) {
    case Failure::io:
      return "io";
    case Failure::timeout:
      return "timeout";
    case Failure::protocol:
      return "protocol";
    case Failure::no_acceptable_method:
      return "no_acceptable_method";
    case Failure::auth_failed:
      return "auth_failed";
    case Failure::request_refused:
      return "request_refused";
  }
  return "?";
}

Method select_method(Bytes offered, const Options& options) {
  auto lists = [&](Method method) {
    return std::find(offered.begin(), offered.end(), static_cast<std::uint8_t>(method)) != offered.end();
  };
  if (options.offer_jwt && options.jwt && lists(Method::jwt)) return Method::jwt;
  if (options.offer_password && lists(Method::password)) return Method::password;
  if (options.offer_none && !options.anonymous_tenant.empty() && lists(Method::none)) return Method::none;
  return Method::no_acceptable;
}

namespace {

// The client's bytes: read in bounded chunks, only while a parser needs more, and kept until consumed,
// so nothing the client sent ahead (the next message, or application data) is lost.
class Inbox {
 public:
  explicit Inbox(Stream& stream) : stream_(stream) {}

  // Reads until `parse` over the buffered bytes is no longer need_more. On an I/O error returns a
  // need_more result and sets error().
  template <typename T, typename Parse>
  asio::awaitable<Parsed<T>> receive(Parse parse) {
    for (;;) {
      Parsed<T> result = parse(Bytes(reinterpret_cast<const std::uint8_t*>(buffer_.data()), buffer_.size()));
      if (result.status == ParseStatus::ok) buffer_.erase(0, result.consumed);
      if (result.status != ParseStatus::need_more) co_return result;
      std::array<char, 4096> chunk;
      const IoResult io = co_await stream_.read_some(asio::buffer(chunk));
      if (io.error) {
        error_ = io.error;
        co_return result;
      }
      buffer_.append(chunk.data(), io.bytes);
    }
  }

  const error_code& error() const noexcept { return error_; }
  std::string take_rest() noexcept { return std::exchange(buffer_, {}); }

 private:
  Stream& stream_;
  std::string buffer_;  // received, not yet consumed
  error_code error_;
};

constexpr std::array<std::uint8_t, 2> kAuthSuccess{kAuthVersion, 0x00};
constexpr std::array<std::uint8_t, 2> kAuthFailure{kAuthVersion, 0x01};

}  // namespace

asio::awaitable<Negotiation> negotiate(Stream& client, const Options& options) {
  Negotiation result;
  Deadline deadline(client.executor(), options.timeout, [&client] { client.close(); });
  Inbox inbox(client);

  auto fail = [&](Failure failure, std::string reason) {
    result.ok = false;
    result.failure = failure;
    result.reason = std::move(reason);
    return std::move(result);
  };
  // After each read or write: the timeout closes the stream, which surfaces as an I/O error.
  auto io_failure = [&](const error_code& ec, std::string_view step) {
    if (deadline.expired()) {
      return fail(Failure::timeout,
                  "negotiation timed out after " + std::to_string(options.timeout.count()) + "ms");
    }
    result.error = ec;
    const bool closed = ec == asio::error::eof || ec == asio::error::connection_reset;
    return fail(Failure::io,
                std::string(step) + ": " + (closed ? "client closed the connection" : ec.message()));
  };
  auto send = [&](std::span<const std::uint8_t> bytes) -> asio::awaitable<error_code> {
    const IoResult io = co_await client.write(asio::buffer(bytes.data(), bytes.size()));
    co_return io.error;
  };
  // A refused sub-negotiation: `01 01`, then the caller closes. The refusal is the outcome even when
  // the client is gone before it can read the answer.
  auto refuse_auth = [&](Failure failure, std::string reason) -> asio::awaitable<Negotiation> {
    result.authentication_failed = true;
    co_await send(kAuthFailure);
    co_return fail(failure, std::move(reason));
  };

  // Greeting.
  const auto greeting = co_await inbox.receive<Greeting>(parse_greeting);
  if (greeting.status == ParseStatus::need_more) co_return io_failure(inbox.error(), "greeting");
  if (greeting.status == ParseStatus::error) co_return fail(Failure::protocol, "greeting: " + greeting.error);
  const Method method = select_method(greeting.value.methods, options);
  const std::array<std::uint8_t, 2> choice{kVersion, static_cast<std::uint8_t>(method)};
  if (auto ec = co_await send(choice)) co_return io_failure(ec, "method reply");
  if (method == Method::no_acceptable) {
    co_return fail(Failure::no_acceptable_method, "greeting: no acceptable authentication method offered");
  }
  result.method = method == Method::jwt ? "jwt" : method == Method::password ? "password" : "none";

  // Authentication.
  auto admit = [&result](const Identity& identity) {
    result.tenant = identity.tenant;
    result.principal = identity.principal;
    result.location_id = identity.location_id;
  };
  switch (method) {
    case Method::jwt: {
      const std::size_t cap = std::min(options.max_token, JwtVerifier::kMaxTokenSize);
      const auto auth =
          co_await inbox.receive<JwtAuth>([cap](Bytes bytes) { return parse_jwt_auth(bytes, cap); });
      if (auth.status == ParseStatus::need_more) co_return io_failure(inbox.error(), "jwt");
      if (auth.status == ParseStatus::error) {
        co_return co_await refuse_auth(Failure::protocol, "jwt: " + auth.error);
      }
      std::string error;
      const auto identity = authenticate_jwt(options, auth.value.token, auth.value.location_id, error);
      if (!identity) co_return co_await refuse_auth(Failure::auth_failed, "jwt: " + error);
      admit(*identity);
      if (auto ec = co_await send(kAuthSuccess)) co_return io_failure(ec, "jwt reply");
      break;
    }
    case Method::password: {
      const auto auth = co_await inbox.receive<PasswordAuth>(parse_password_auth);
      if (auth.status == ParseStatus::need_more) co_return io_failure(inbox.error(), "password");
      if (auth.status == ParseStatus::error) {
        co_return co_await refuse_auth(Failure::protocol, "password: " + auth.error);
      }
      std::string error;
      const auto identity = authenticate_password(options, auth.value.username, auth.value.password, error);
      if (!identity) co_return co_await refuse_auth(Failure::auth_failed, "password: " + error);
      admit(*identity);
      if (auto ec = co_await send(kAuthSuccess)) co_return io_failure(ec, "password reply");
      break;
    }
    default:
      result.tenant = options.anonymous_tenant;
      result.location_id = options.anonymous_location;
      break;
  }

  // Request.
  const auto request = co_await inbox.receive<Request>(parse_request);
  if (request.status == ParseStatus::need_more) co_return io_failure(inbox.error(), "request");
  if (request.status == ParseStatus::error) {
    co_await send(encode_reply(request.reply));  // the refusal stands even if the client is gone
    co_return fail(Failure::request_refused, "request: " + request.error);
  }
  deadline.disarm();
  if (deadline.expired()) co_return io_failure(asio::error::operation_aborted, "request");
  result.ok = true;
  result.host = request.value.host;
  result.port = request.value.port;
  result.address_type = request.value.address_type;
  result.early_data = inbox.take_rest();
  co_return result;
}

asio::awaitable<error_code> send_reply(Stream& client, ReplyCode code, const BoundAddress& bound) {
  const auto bytes = encode_reply(code, bound);
  const IoResult io = co_await client.write(asio::buffer(bytes));
  co_return io.error;
}

ReplyCode reply_for(const error_code& tunnel_error) noexcept {
  if (!tunnel_error) return ReplyCode::succeeded;
  if (tunnel_error.category() == tunnel_category()) {
    switch (static_cast<TunnelErrc>(tunnel_error.value())) {
      case TunnelErrc::denied:
        return ReplyCode::not_allowed;
      case TunnelErrc::no_connector:
      case TunnelErrc::unknown_location:
        return ReplyCode::network_unreachable;
      case TunnelErrc::unreachable:
      case TunnelErrc::timed_out:
        return ReplyCode::host_unreachable;
      case TunnelErrc::busy:
      case TunnelErrc::tunnel_lost:
      case TunnelErrc::refused:
        return ReplyCode::general_failure;
    }
    return ReplyCode::general_failure;
  }
  namespace error = boost::asio::error;
  if (tunnel_error == error::connection_refused || tunnel_error == error::host_unreachable ||
      tunnel_error == error::network_unreachable || tunnel_error == error::timed_out ||
      tunnel_error == error::host_not_found || tunnel_error == error::host_not_found_try_again ||
      tunnel_error == error::no_data) {
    return ReplyCode::host_unreachable;
  }
  return ReplyCode::general_failure;
}

}  // namespace gw::socks
