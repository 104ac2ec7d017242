// SOCKS5 server side: the parsers fed every malformed and truncated input, method selection, reply
// encoding and mapping, and negotiate() end to end over real loopback TCP (plus a stream that hands
// out the client's bytes in tiny pieces).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "gateway/plugin/tunnel.hpp"
#include "net/socket_stream.hpp"
#include "socks/socks5.hpp"

using namespace gw;
using namespace std::chrono_literals;
using socks::ParseStatus;
using socks::ReplyCode;
using tcp = boost::asio::ip::tcp;

namespace {

// ---- bytes ----

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

std::span<const std::uint8_t> span(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string hex(const std::string& s) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (!out.empty()) out += ' ';
    out += kDigits[c >> 4];
    out += kDigits[c & 0xF];
  }
  return out;
}

std::string be16(unsigned value) {
  return bytes({static_cast<int>((value >> 8) & 0xFF), static_cast<int>(value & 0xFF)});
}

std::string be32(std::uint32_t value) {
  return bytes({static_cast<int>(value >> 24), static_cast<int>((value >> 16) & 0xFF),
                static_cast<int>((value >> 8) & 0xFF), static_cast<int>(value & 0xFF)});
}

std::string greeting(const std::string& methods) {
  return bytes({0x05, static_cast<int>(methods.size())}) + methods;
}

std::string password_auth(const std::string& user, const std::string& password) {
  return bytes({0x01, static_cast<int>(user.size())}) + user + bytes({static_cast<int>(password.size())}) +
         password;
}

std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string jwt_auth(const std::string& token, const std::string& encoded_location) {
  return bytes({0x01}) + be32(static_cast<std::uint32_t>(token.size())) + token +
         bytes({static_cast<int>(encoded_location.size())}) + encoded_location;
}

std::string request_domain(const std::string& host, unsigned port, int command = 0x01) {
  return bytes({0x05, command, 0x00, 0x03, static_cast<int>(host.size())}) + host + be16(port);
}

std::string request_ipv4(std::initializer_list<int> address, unsigned port) {
  return bytes({0x05, 0x01, 0x00, 0x01}) + bytes(address) + be16(port);
}

std::string request_ipv6(const std::string& address16, unsigned port) {
  return bytes({0x05, 0x01, 0x00, 0x04}) + address16 + be16(port);
}

std::string reply(ReplyCode code) {
  return bytes({0x05, static_cast<int>(code), 0x00, 0x01, 0, 0, 0, 0, 0, 0});
}

const std::string kAuthOk = bytes({0x01, 0x00});
const std::string kAuthFail = bytes({0x01, 0x01});

// ---- HS256 tokens ----

const std::string kSecret = "socks-test-secret-0123456789abcdef";

std::string base64url(std::string_view data) {
  std::string out = base64(data);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

std::string hs256_token(const std::string& claims) {
  const std::string input = base64url(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url(claims);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &size);
  return input + "." + base64url(std::string_view(reinterpret_cast<const char*>(mac), size));
}

std::string token_for(const std::string& tenant, long long valid_for_seconds = 300,
                      const std::string& sub = "") {
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  return hs256_token(R"({"exp":)" + std::to_string(now + valid_for_seconds) +
                     R"(,"aud":"gateway","tenant":")" + tenant + "\"" +
                     (sub.empty() ? "" : R"(,"sub":")" + sub + "\"") + "}");
}

// ---- options ----

socks::Options all_methods() {
  socks::Options options;
  options.offer_none = true;
  options.offer_password = true;
  options.offer_jwt = true;
  options.users.emplace("app1", socks::User{"s3cret", "acme", "berlin"});
  options.jwt = socks::JwtVerifier::hs256(kSecret, socks::JwtPolicy{"gateway"});
  options.anonymous_tenant = "anon";
  options.anonymous_location = "";
  return options;
}

socks::Options only(socks::Method method) {
  socks::Options options = all_methods();
  options.offer_none = method == socks::Method::none;
  options.offer_password = method == socks::Method::password;
  options.offer_jwt = method == socks::Method::jwt;
  return options;
}

// Every proper prefix of `message` needs more; the whole parses and consumes exactly the message,
// also when more bytes follow.
template <typename Parse>
void expect_complete_only_at_the_end(const std::string& message, Parse parse) {
  for (std::size_t n = 0; n < message.size(); ++n) {
    const std::string prefix = message.substr(0, n);
    const auto result = parse(span(prefix));
    EXPECT_EQ(result.status, ParseStatus::need_more) << "prefix of " << n << " bytes: " << result.error;
  }
  const auto whole = parse(span(message));
  EXPECT_EQ(whole.status, ParseStatus::ok) << whole.error;
  EXPECT_EQ(whole.consumed, message.size());
  const std::string followed = message + "next message";
  const auto with_more = parse(span(followed));
  EXPECT_EQ(with_more.status, ParseStatus::ok) << with_more.error;
  EXPECT_EQ(with_more.consumed, message.size());
}

template <typename Parse>
std::string parse_error(const std::string& message, Parse parse) {
  const auto result = parse(span(message));
  EXPECT_EQ(result.status, ParseStatus::error) << hex(message);
  EXPECT_FALSE(result.error.empty());
  return result.error;
}

socks::Parsed<socks::Request> request(const std::string& message) {
  return socks::parse_request(span(message));
}

}  // namespace

// ---- greeting ----

TEST(Socks5Greeting, ParsesMethodsAndNeedsEveryByte) {
  expect_complete_only_at_the_end(greeting(bytes({0x00, 0x02, 0x80})), socks::parse_greeting);
  const std::string message = greeting(bytes({0x80, 0x00}));
  const auto result = socks::parse_greeting(span(message));
  ASSERT_EQ(result.status, ParseStatus::ok);
  EXPECT_EQ(result.value.methods, (std::vector<std::uint8_t>{0x80, 0x00}));
}

TEST(Socks5Greeting, WrongVersionIsAnErrorAtTheFirstByte) {
  for (int version : {0x00, 0x04, 0x06, int{'G'}, 0x16}) {
    EXPECT_NE(parse_error(bytes({version}), socks::parse_greeting).find("version"), std::string::npos);
  }
}

TEST(Socks5Greeting, MethodListLongerThanSentNeedsMore) {
  const std::string short_list = bytes({0x05, 0x03, 0x00, 0x02});
  EXPECT_EQ(socks::parse_greeting(span(short_list)).status, ParseStatus::need_more);
  const std::string longest = greeting(std::string(255, '\x02'));
  EXPECT_EQ(socks::parse_greeting(span(longest)).consumed, 257u);
}

TEST(Socks5Greeting, NoMethodsParsesAsAnEmptyList) {
  const std::string message = bytes({0x05, 0x00});
  const auto result = socks::parse_greeting(span(message));
  ASSERT_EQ(result.status, ParseStatus::ok);
  EXPECT_TRUE(result.value.methods.empty());
  EXPECT_EQ(result.consumed, 2u);
  EXPECT_EQ(socks::select_method(result.value.methods, all_methods()), socks::Method::no_acceptable);
}

TEST(Socks5Greeting, ServerPreferenceIsJwtThenPasswordThenNone) {
  const auto options = all_methods();
  const auto pick = [&](const socks::Options& o, std::initializer_list<int> methods) {
    const std::string list = bytes(methods);
    return socks::select_method(span(list), o);
  };
  EXPECT_EQ(pick(options, {0x00, 0x02, 0x80}), socks::Method::jwt);
  EXPECT_EQ(pick(options, {0x00, 0x02}), socks::Method::password);
  EXPECT_EQ(pick(options, {0x02, 0x00}), socks::Method::password);
  EXPECT_EQ(pick(options, {0x00}), socks::Method::none);
  EXPECT_EQ(pick(options, {0x01, 0x03, 0xFF}), socks::Method::no_acceptable);
  EXPECT_EQ(pick(only(socks::Method::password), {0x00, 0x80}), socks::Method::no_acceptable);
  EXPECT_EQ(pick(only(socks::Method::none), {0x80, 0x02, 0x00}), socks::Method::none);

  auto without_verifier = all_methods();
  without_verifier.jwt.reset();
  EXPECT_EQ(pick(without_verifier, {0x80, 0x02}), socks::Method::password);
  auto without_anonymous = only(socks::Method::none);
  without_anonymous.anonymous_tenant.clear();
  EXPECT_EQ(pick(without_anonymous, {0x00}), socks::Method::no_acceptable);
}

// ---- RFC 1929 ----

TEST(Socks5Password, ParsesAndNeedsEveryByte) {
  expect_complete_only_at_the_end(password_auth("app1", "s3cret"), socks::parse_password_auth);
  const std::string longest = password_auth(std::string(255, 'u'), std::string(255, 'p'));
  const auto result = socks::parse_password_auth(span(longest));
  ASSERT_EQ(result.status, ParseStatus::ok);
  EXPECT_EQ(result.value.username, std::string(255, 'u'));
  EXPECT_EQ(result.value.password, std::string(255, 'p'));
}

TEST(Socks5Password, MalformedMessagesAreErrors) {
  EXPECT_NE(parse_error(bytes({0x05}), socks::parse_password_auth).find("version"), std::string::npos);
  EXPECT_NE(parse_error(bytes({0x00}), socks::parse_password_auth).find("version"), std::string::npos);
  EXPECT_EQ(parse_error(bytes({0x01, 0x00}), socks::parse_password_auth), "empty username");
  EXPECT_EQ(parse_error(bytes({0x01, 0x01, 'u', 0x00}), socks::parse_password_auth), "empty password");
  const std::string truncated = bytes({0x01, 0x04, 'a', 'p'});
  EXPECT_EQ(socks::parse_password_auth(span(truncated)).status, ParseStatus::need_more);
}

// ---- method 0x80 ----

TEST(Socks5Jwt, ParsesAndNeedsEveryByte) {
  expect_complete_only_at_the_end(jwt_auth("a.b.c", base64("berlin")),
                                  [](auto b) { return socks::parse_jwt_auth(b); });
  expect_complete_only_at_the_end(jwt_auth("a.b.c", ""), [](auto b) { return socks::parse_jwt_auth(b); });
  const std::string message = jwt_auth("x.y.z", base64("eu-west.1_a"));
  const auto result = socks::parse_jwt_auth(span(message));
  ASSERT_EQ(result.status, ParseStatus::ok);
  EXPECT_EQ(result.value.token, "x.y.z");
  EXPECT_EQ(result.value.location_id, "eu-west.1_a");
}

TEST(Socks5Jwt, LengthZeroOrAboveTheCapIsAnErrorOnceTheLengthIsIn) {
  EXPECT_EQ(parse_error(bytes({0x01}) + be32(0), [](auto b) { return socks::parse_jwt_auth(b); }),
            "empty token");
  // No token byte needs to arrive for the refusal.
  const auto over =
      parse_error(bytes({0x01}) + be32(64 * 1024 + 1), [](auto b) { return socks::parse_jwt_auth(b); });
  EXPECT_NE(over.find("65537"), std::string::npos) << over;
  parse_error(bytes({0x01}) + be32(0xFFFFFFFF), [](auto b) { return socks::parse_jwt_auth(b); });
  // The cap itself is accepted (with a smaller cap to keep the test small).
  const auto capped = [](auto b) { return socks::parse_jwt_auth(b, 16); };
  const std::string at_cap = jwt_auth(std::string(16, 't'), "");
  EXPECT_EQ(socks::parse_jwt_auth(span(at_cap), 16).status, ParseStatus::ok);
  parse_error(jwt_auth(std::string(17, 't'), ""), capped);
  const std::string header_only = bytes({0x01}) + be32(64 * 1024);
  EXPECT_EQ(socks::parse_jwt_auth(span(header_only)).status, ParseStatus::need_more);
}

TEST(Socks5Jwt, MalformedMessagesAreErrors) {
  const auto parse = [](auto b) { return socks::parse_jwt_auth(b); };
  EXPECT_NE(parse_error(bytes({0x05}), parse).find("version"), std::string::npos);
  EXPECT_NE(parse_error(bytes({0x02}), parse).find("version"), std::string::npos);
  for (const std::string& location :
       {std::string("YmVybGk"),  // unpadded is not standard Base64
        std::string("YmVybGluAA"), std::string("YmVy bGk="), std::string("YmVy\nbGk="),
        std::string("YmVybGk-"), std::string("YmVybGk_"), std::string("="), std::string("Ym==")}) {
    EXPECT_EQ(parse_error(jwt_auth("a.b.c", location), parse), "location id is not valid Base64") << location;
  }
  for (const std::string& location : {std::string("ber/lin"), std::string("ber lin"), std::string(65, 'l'),
                                      std::string("a\0b", 3), std::string("\xc3\xa4")}) {
    EXPECT_NE(parse_error(jwt_auth("a.b.c", base64(location)), parse).find("location id"), std::string::npos);
  }
  EXPECT_EQ(socks::parse_jwt_auth(span(jwt_auth("a.b.c", base64(std::string(64, 'l'))))).status,
            ParseStatus::ok);
}

// ---- request ----

TEST(Socks5Request, ParsesEachAddressTypeAndNeedsEveryByte) {
  expect_complete_only_at_the_end(request_ipv4({10, 0, 0, 5}, 443), socks::parse_request);
  expect_complete_only_at_the_end(request_domain("erp.corp", 3300), socks::parse_request);
  expect_complete_only_at_the_end(
      request_ipv6(bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}), 80),
      socks::parse_request);

  auto v4 = request(request_ipv4({10, 0, 0, 5}, 443));
  ASSERT_EQ(v4.status, ParseStatus::ok);
  EXPECT_EQ(v4.value.address_type, socks::AddressType::ipv4);
  EXPECT_EQ(v4.value.host, "10.0.0.5");
  EXPECT_EQ(v4.value.port, 443);

  auto name = request(request_domain("ERP.corp", 65535));
  ASSERT_EQ(name.status, ParseStatus::ok);
  EXPECT_EQ(name.value.address_type, socks::AddressType::domain);
  EXPECT_EQ(name.value.host, "ERP.corp");
  EXPECT_EQ(name.value.port, 65535);

  auto v6 = request(request_ipv6(bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}), 80));
  ASSERT_EQ(v6.status, ParseStatus::ok);
  EXPECT_EQ(v6.value.address_type, socks::AddressType::ipv6);
  EXPECT_EQ(v6.value.host, "2001:db8::1");

  auto longest = request(request_domain(std::string(255, 'a'), 1));
  ASSERT_EQ(longest.status, ParseStatus::ok);
  EXPECT_EQ(longest.value.host.size(), 255u);
}

TEST(Socks5Request, Ipv6LiteralSentAsDomainNameIsIpv6) {
  for (const char* literal : {"::1", "[::1]", "0:0:0:0:0:0:0:1"}) {
    auto parsed = request(request_domain(literal, 22));
    ASSERT_EQ(parsed.status, ParseStatus::ok) << literal << ": " << parsed.error;
    EXPECT_EQ(parsed.value.address_type, socks::AddressType::ipv6);
    EXPECT_EQ(parsed.value.host, "::1");
  }
  for (const char* bad : {"fe80::1%eth0", "[::1", "::1]", "1:2", "[]", ":::"}) {
    EXPECT_EQ(request(request_domain(bad, 22)).status, ParseStatus::error) << bad;
  }
}

TEST(Socks5Request, UnsupportedCommandsAnswer07AsSoonAsTheCommandIsIn) {
  for (int command : {0x02, 0x03, 0x00, 0x04, 0xFF}) {
    const auto result = request(bytes({0x05, command}));
    EXPECT_EQ(result.status, ParseStatus::error) << command;
    EXPECT_EQ(result.reply, ReplyCode::command_not_supported) << command;
  }
  EXPECT_NE(request(request_domain("erp.corp", 1, 0x02)).error.find("BIND"), std::string::npos);
  EXPECT_NE(request(request_domain("erp.corp", 1, 0x03)).error.find("UDP ASSOCIATE"), std::string::npos);
}

TEST(Socks5Request, UnsupportedAddressTypesAnswer08) {
  for (int type : {0x00, 0x02, 0x05, 0xFF}) {
    const auto result = request(bytes({0x05, 0x01, 0x00, type}));
    EXPECT_EQ(result.status, ParseStatus::error) << type;
    EXPECT_EQ(result.reply, ReplyCode::address_type_not_supported) << type;
  }
}

TEST(Socks5Request, MalformedHeaderAnswers01) {
  const auto wrong_version = request(bytes({0x04, 0x01}));
  EXPECT_EQ(wrong_version.status, ParseStatus::error);
  EXPECT_EQ(wrong_version.reply, ReplyCode::general_failure);
  const auto reserved = request(bytes({0x05, 0x01, 0x01}));
  EXPECT_EQ(reserved.status, ParseStatus::error);
  EXPECT_EQ(reserved.reply, ReplyCode::general_failure);
}

TEST(Socks5Request, BadDomainNamesAnswer01) {
  const auto empty = request(bytes({0x05, 0x01, 0x00, 0x03, 0x00, 0x00, 0x50}));
  EXPECT_EQ(empty.status, ParseStatus::error);
  EXPECT_EQ(empty.reply, ReplyCode::general_failure);
  EXPECT_EQ(empty.error, "empty domain name");
  for (const std::string& name :
       {std::string("erp\0corp", 8), std::string("erp.corp\0", 9), std::string("\0", 1),
        std::string("erp corp"), std::string("erp\r\ncorp"), std::string("erp\tcorp"), std::string("erp\x7f"),
        std::string("\xc3\xa4rp"), std::string("user@erp"), std::string("erp:80"), std::string("erp/x"),
        std::string("erp%00")}) {
    const auto result = request(request_domain(name, 80));
    EXPECT_EQ(result.status, ParseStatus::error) << hex(name);
    EXPECT_EQ(result.reply, ReplyCode::general_failure) << hex(name);
  }
}

TEST(Socks5Request, PortZeroAnswers02) {
  for (const std::string& message : {request_domain("erp.corp", 0), request_ipv4({127, 0, 0, 1}, 0)}) {
    const auto result = request(message);
    EXPECT_EQ(result.status, ParseStatus::error);
    EXPECT_EQ(result.reply, ReplyCode::not_allowed);
  }
}

// ---- replies ----

TEST(Socks5Reply, EncodesBoundAddresses) {
  const auto plain = socks::encode_reply(ReplyCode::succeeded);
  EXPECT_EQ(hex(std::string(plain.begin(), plain.end())), "05 00 00 01 00 00 00 00 00 00");
  const auto v4 =
      socks::encode_reply(ReplyCode::host_unreachable, {boost::asio::ip::make_address("192.0.2.7"), 1080});
  EXPECT_EQ(hex(std::string(v4.begin(), v4.end())), "05 04 00 01 c0 00 02 07 04 38");
  const auto v6 =
      socks::encode_reply(ReplyCode::general_failure, {boost::asio::ip::make_address("::1"), 443});
  EXPECT_EQ(hex(std::string(v6.begin(), v6.end())),
            "05 01 00 04 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 01 bb");
}

TEST(Socks5Reply, TunnelErrorsMapToReplyCodes) {
  EXPECT_EQ(socks::reply_for({}), ReplyCode::succeeded);
  EXPECT_EQ(socks::reply_for(TunnelErrc::denied), ReplyCode::not_allowed);
  EXPECT_EQ(socks::reply_for(TunnelErrc::no_connector), ReplyCode::network_unreachable);
  EXPECT_EQ(socks::reply_for(TunnelErrc::unknown_location), ReplyCode::network_unreachable);
  EXPECT_EQ(socks::reply_for(TunnelErrc::unreachable), ReplyCode::host_unreachable);
  EXPECT_EQ(socks::reply_for(TunnelErrc::timed_out), ReplyCode::host_unreachable);
  EXPECT_EQ(socks::reply_for(TunnelErrc::busy), ReplyCode::general_failure);
  EXPECT_EQ(socks::reply_for(TunnelErrc::tunnel_lost), ReplyCode::general_failure);
  EXPECT_EQ(socks::reply_for(TunnelErrc::refused), ReplyCode::general_failure);
  EXPECT_EQ(socks::reply_for(error_code(99, tunnel_category())), ReplyCode::general_failure);
  // Direct connections.
  EXPECT_EQ(socks::reply_for(asio::error::connection_refused), ReplyCode::host_unreachable);
  EXPECT_EQ(socks::reply_for(asio::error::timed_out), ReplyCode::host_unreachable);
  EXPECT_EQ(socks::reply_for(asio::error::host_not_found), ReplyCode::host_unreachable);
  EXPECT_EQ(socks::reply_for(asio::error::network_unreachable), ReplyCode::host_unreachable);
  EXPECT_EQ(socks::reply_for(asio::error::eof), ReplyCode::general_failure);
  EXPECT_EQ(socks::reply_for(asio::error::operation_aborted), ReplyCode::general_failure);
}

// ---- options from configuration ----

TEST(Socks5Options, FromConfiguration) {
  config::ProxyEntryConfig config;
  config.offer_password = true;
  config.offer_jwt = true;
  config.users.push_back({"app1", "s3cret", "acme", "berlin"});
  config.jwt.emplace();
  config.jwt->secret = kSecret;
  config.jwt->audience = "gateway";
  config.handshake_timeout = 3s;
  const auto options = socks::make_options(config);
  EXPECT_FALSE(options.offer_none);
  EXPECT_TRUE(options.offer_password);
  ASSERT_TRUE(options.jwt);
  EXPECT_EQ(options.jwt->algorithm(), socks::JwtAlgorithm::hs256);
  EXPECT_EQ(options.timeout, 3s);
  ASSERT_EQ(options.users.count("app1"), 1u);
  EXPECT_EQ(options.users.at("app1").location_id, "berlin");

  config.jwt->algorithm = config::ProxyJwtConfig::Algorithm::rs256;
  config.jwt->public_key_file = "/nonexistent/jwt-pub.pem";
  try {
    socks::make_options(config);
    ADD_FAILURE() << "a missing key file was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/jwt-pub.pem"), std::string::npos) << e.what();
  }
}

// ---- negotiate() over loopback TCP ----

namespace {

// One client step: send bytes (may be empty), then expect exactly these bytes back (may be empty).
struct Step {
  std::string send;
  std::string expect;
};

struct Socks5Negotiate : ::testing::Test {
  asio::io_context context;
  std::optional<socks::Negotiation> result;
  std::string rest;  // what the client received after its steps, up to the server's end
  bool client_done = false;
  // Runs on the server side after negotiate() returned. By default nothing: the server then
  // half-closes, so the client sees exactly what negotiate() wrote.
  std::function<asio::awaitable<void>(net::TcpStream&, socks::Negotiation&)> after;

  asio::awaitable<void> serve(net::TcpStream& server, const socks::Options& options) {
    result = co_await socks::negotiate(server, options);
    if (after) co_await after(server, *result);
    co_await server.shutdown_write();
  }

  asio::awaitable<void> drive(tcp::socket& client, const std::vector<Step>& steps, bool half_close) {
    error_code ec;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      if (!steps[i].send.empty()) {
        co_await asio::async_write(client, asio::buffer(steps[i].send),
                                   asio::redirect_error(asio::use_awaitable, ec));
      }
      if (!steps[i].expect.empty()) {
        std::string got(steps[i].expect.size(), '\0');
        const std::size_t n = co_await asio::async_read(client, asio::buffer(got),
                                                        asio::redirect_error(asio::use_awaitable, ec));
        got.resize(n);
        EXPECT_EQ(hex(got), hex(steps[i].expect)) << "step " << i << (ec ? ": " + ec.message() : "");
        if (ec) break;
      }
    }
    if (half_close) client.shutdown(tcp::socket::shutdown_send, ec);
    co_await asio::async_read(client, asio::dynamic_buffer(rest),
                              asio::redirect_error(asio::use_awaitable, ec));
    client_done = true;
  }

  // Plays `steps`, then (with `half_close`) ends the client's sending side, then reads until the
  // server's end.
  void run(const socks::Options& options, const std::vector<Step>& steps, bool half_close = false) {
    tcp::acceptor acceptor(context, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket client(context);
    client.connect(acceptor.local_endpoint());
    net::TcpStream server(acceptor.accept());
    asio::co_spawn(context, serve(server, options), [](std::exception_ptr e) { EXPECT_FALSE(e); });
    asio::co_spawn(context, drive(client, steps, half_close), [](std::exception_ptr e) { EXPECT_FALSE(e); });
    context.run_for(20s);  // guards against a hang only
    EXPECT_TRUE(client_done);
    ASSERT_TRUE(result);
  }

  void expect_failure(socks::Failure failure) {
    ASSERT_TRUE(result);
    EXPECT_FALSE(result->ok);
    EXPECT_EQ(result->failure, failure) << socks::failure_name(result->failure) << ": " << result->reason;
    EXPECT_FALSE(result->reason.empty());
  }
};

}  // namespace

TEST_F(Socks5Negotiate, NoAuthenticationGivesTheAnonymousIdentity) {
  run(all_methods(),
      {{greeting(bytes({0x00})), bytes({0x05, 0x00})}, {request_domain("erp.corp", 3300), ""}});
  ASSERT_TRUE(result->ok) << result->reason;
  EXPECT_EQ(result->method, "none");
  EXPECT_EQ(result->tenant, "anon");
  EXPECT_EQ(result->location_id, "");
  EXPECT_EQ(result->principal, "");
  EXPECT_EQ(result->host, "erp.corp");
  EXPECT_EQ(result->port, 3300);
  EXPECT_EQ(result->address_type, socks::AddressType::domain);
  EXPECT_EQ(result->early_data, "");
  EXPECT_EQ(rest, "") << "the CONNECT reply is the caller's";
}

TEST_F(Socks5Negotiate, PasswordGivesTheUsersIdentity) {
  run(all_methods(), {{greeting(bytes({0x00, 0x02})), bytes({0x05, 0x02})},
                      {password_auth("app1", "s3cret"), kAuthOk},
                      {request_ipv4({127, 0, 0, 1}, 43300), ""}});
  ASSERT_TRUE(result->ok) << result->reason;
  EXPECT_EQ(result->method, "password");
  EXPECT_EQ(result->tenant, "acme");
  EXPECT_EQ(result->location_id, "berlin");
  EXPECT_EQ(result->principal, "app1");
  EXPECT_EQ(result->host, "127.0.0.1");
  EXPECT_EQ(result->port, 43300);
  EXPECT_EQ(rest, "");
}

TEST_F(Socks5Negotiate, WrongPasswordAnswers0101AndCloses) {
  run(all_methods(), {{greeting(bytes({0x02})), bytes({0x05, 0x02})},
                      {password_auth("app1", "guess"), kAuthFail},
                      {request_domain("erp.corp", 3300), ""}});
  expect_failure(socks::Failure::auth_failed);
  EXPECT_TRUE(result->authentication_failed);
  EXPECT_EQ(result->method, "password");
  EXPECT_EQ(result->reason.find("guess"), std::string::npos) << result->reason;
  EXPECT_EQ(rest, "");
}

TEST_F(Socks5Negotiate, UnknownUserAnswers0101) {
  run(all_methods(),
      {{greeting(bytes({0x02})), bytes({0x05, 0x02})}, {password_auth("nobody", "s3cret"), kAuthFail}});
  expect_failure(socks::Failure::auth_failed);
  EXPECT_EQ(rest, "");
}

TEST_F(Socks5Negotiate, MalformedPasswordMessageAnswers0101) {
  run(all_methods(), {{greeting(bytes({0x02})), bytes({0x05, 0x02})}, {bytes({0x05, 0x00}), kAuthFail}});
  expect_failure(socks::Failure::protocol);
  EXPECT_TRUE(result->authentication_failed);
}

TEST_F(Socks5Negotiate, EmptyUsernameAnswers0101) {
  run(all_methods(),
      {{greeting(bytes({0x02})), bytes({0x05, 0x02})}, {bytes({0x01, 0x00, 0x01, 'p'}), kAuthFail}});
  expect_failure(socks::Failure::protocol);
}

TEST_F(Socks5Negotiate, JwtGivesTheTokensTenantAndTheLocation) {
  run(all_methods(), {{greeting(bytes({0x00, 0x02, 0x80})), bytes({0x05, 0x80})},
                      {jwt_auth(token_for("acme", 300, "alice"), base64("berlin")), kAuthOk},
                      {request_domain("erp.corp", 3300), ""}});
  ASSERT_TRUE(result->ok) << result->reason;
  EXPECT_EQ(result->method, "jwt");
  EXPECT_EQ(result->tenant, "acme");
  EXPECT_EQ(result->location_id, "berlin");
  EXPECT_EQ(result->principal, "alice");
  EXPECT_EQ(rest, "");
}

TEST_F(Socks5Negotiate, JwtWithoutLocationMeansTheDefaultLocation) {
  run(only(socks::Method::jwt), {{greeting(bytes({0x80})), bytes({0x05, 0x80})},
                                 {jwt_auth(token_for("acme"), ""), kAuthOk},
                                 {request_domain("erp.corp", 3300), ""}});
  ASSERT_TRUE(result->ok) << result->reason;
  EXPECT_EQ(result->location_id, "");
  EXPECT_EQ(result->principal, "");
}

TEST_F(Socks5Negotiate, ExpiredJwtAnswers0101) {
  const std::string token = token_for("acme", -3600);
  run(all_methods(),
      {{greeting(bytes({0x80})), bytes({0x05, 0x80})}, {jwt_auth(token, base64("berlin")), kAuthFail}});
  expect_failure(socks::Failure::auth_failed);
  EXPECT_TRUE(result->authentication_failed);
  EXPECT_EQ(result->reason, "jwt: token expired");
  EXPECT_EQ(rest, "");
}

TEST_F(Socks5Negotiate, JwtCheckedAgainstTheConfiguredClock) {
  auto options = all_methods();
  options.clock = [] { return std::chrono::system_clock::now() + std::chrono::hours(2); };
  run(options,
      {{greeting(bytes({0x80})), bytes({0x05, 0x80})}, {jwt_auth(token_for("acme"), ""), kAuthFail}});
  expect_failure(socks::Failure::auth_failed);
  EXPECT_EQ(result->reason, "jwt: token expired");
}

TEST_F(Socks5Negotiate, JwtLengthZeroAnswers0101) {
  run(all_methods(), {{greeting(bytes({0x80})), bytes({0x05, 0x80})}, {bytes({0x01}) + be32(0), kAuthFail}});
  expect_failure(socks::Failure::protocol);
  EXPECT_TRUE(result->authentication_failed);
}

TEST_F(Socks5Negotiate, OversizedJwtIsRefusedWithoutWaitingForIt) {
  // Only the length is sent: the refusal must not wait for 16 MiB that never come.
  run(all_methods(),
      {{greeting(bytes({0x80})), bytes({0x05, 0x80})}, {bytes({0x01}) + be32(16 << 20), kAuthFail}});
  expect_failure(socks::Failure::protocol);
  EXPECT_NE(result->reason.find("limit"), std::string::npos) << result->reason;
}

TEST_F(Socks5Negotiate, JwtWithBadBase64LocationAnswers0101) {
  run(all_methods(),
      {{greeting(bytes({0x80})), bytes({0x05, 0x80})}, {jwt_auth(token_for("acme"), "b!"), kAuthFail}});
  expect_failure(socks::Failure::protocol);
}

TEST_F(Socks5Negotiate, TruncatedJwtIsAnIoFailureWithoutReply) {
  const std::string message = jwt_auth(token_for("acme"), base64("berlin"));
  for (std::size_t size :
       {std::size_t{1}, std::size_t{3}, std::size_t{5}, std::size_t{40}, message.size() - 1}) {
    result.reset();
    rest.clear();
    context.restart();
    run(all_methods(), {{greeting(bytes({0x80})), bytes({0x05, 0x80})}, {message.substr(0, size), ""}}, true);
    expect_failure(socks::Failure::io);
    EXPECT_FALSE(result->authentication_failed);
    EXPECT_EQ(rest, "") << "no reply to half a message";
  }
}

TEST_F(Socks5Negotiate, TruncatedRequestIsAnIoFailureWithoutReply) {
  const std::string message = request_domain("erp.corp", 3300);
  for (std::size_t size = 0; size < message.size(); ++size) {
    result.reset();
    rest.clear();
    context.restart();
    run(all_methods(), {{greeting(bytes({0x00})), bytes({0x05, 0x00})}, {message.substr(0, size), ""}}, true);
    expect_failure(socks::Failure::io);
    EXPECT_EQ(rest, "");
  }
}

TEST_F(Socks5Negotiate, NoAcceptableMethodAnswers05FF) {
  run(only(socks::Method::password), {{greeting(bytes({0x00, 0x80})), bytes({0x05, 0xFF})}});
  expect_failure(socks::Failure::no_acceptable_method);
  EXPECT_FALSE(result->authentication_failed);
  EXPECT_EQ(rest, "");
}

TEST_F(Socks5Negotiate, EmptyMethodListAnswers05FF) {
  run(all_methods(), {{bytes({0x05, 0x00}), bytes({0x05, 0xFF})}});
  expect_failure(socks::Failure::no_acceptable_method);
  EXPECT_EQ(rest, "");
}

TEST_F(Socks5Negotiate, WrongGreetingVersionGetsNoAnswer) {
  run(all_methods(), {{bytes({0x04, 0x01, 0x00, 0x50, 127, 0, 0, 1, 0x00}), ""}});
  expect_failure(socks::Failure::protocol);
  EXPECT_EQ(rest, "");
}

TEST_F(Socks5Negotiate, HttpOnTheSocksPortGetsNoAnswer) {
  run(all_methods(), {{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", ""}});
  expect_failure(socks::Failure::protocol);
  EXPECT_EQ(rest, "");
}

TEST_F(Socks5Negotiate, BindAndUdpAssociateAnswer07) {
  for (int command : {0x02, 0x03}) {
    result.reset();
    rest.clear();
    client_done = false;
    context.restart();
    run(all_methods(),
        {{greeting(bytes({0x00})), bytes({0x05, 0x00})},
         {request_domain("erp.corp", 3300, command), reply(ReplyCode::command_not_supported)}});
    expect_failure(socks::Failure::request_refused);
    EXPECT_EQ(rest, "");
  }
}

TEST_F(Socks5Negotiate, AddressType02Answers08) {
  run(all_methods(),
      {{greeting(bytes({0x00})), bytes({0x05, 0x00})},
       {bytes({0x05, 0x01, 0x00, 0x02, 1, 2, 3, 4, 0, 80}), reply(ReplyCode::address_type_not_supported)}});
  expect_failure(socks::Failure::request_refused);
}

TEST_F(Socks5Negotiate, DomainWithNulAnswers01) {
  run(all_methods(), {{greeting(bytes({0x00})), bytes({0x05, 0x00})},
                      {request_domain(std::string("erp\0.corp", 9), 80), reply(ReplyCode::general_failure)}});
  expect_failure(socks::Failure::request_refused);
}

TEST_F(Socks5Negotiate, PortZeroAnswers02) {
  run(all_methods(), {{greeting(bytes({0x00})), bytes({0x05, 0x00})},
                      {request_domain("erp.corp", 0), reply(ReplyCode::not_allowed)}});
  expect_failure(socks::Failure::request_refused);
}

TEST_F(Socks5Negotiate, Ipv6Target) {
  run(all_methods(), {{greeting(bytes({0x00})), bytes({0x05, 0x00})},
                      {request_ipv6(bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}), 8080), ""}});
  ASSERT_TRUE(result->ok) << result->reason;
  EXPECT_EQ(result->host, "::1");
  EXPECT_EQ(result->address_type, socks::AddressType::ipv6);
  EXPECT_EQ(result->port, 8080);
}

TEST_F(Socks5Negotiate, PipelinedMessagesAndEarlyDataAreKept) {
  // Everything in one write, before any answer: greeting, credentials, request and application data.
  const std::string all =
      greeting(bytes({0x02})) + password_auth("app1", "s3cret") + request_domain("erp.corp", 3300) + "hello";
  after = [](net::TcpStream& server, socks::Negotiation& n) -> asio::awaitable<void> {
    if (!n.ok) co_return;
    const error_code replied =
        co_await socks::send_reply(server, ReplyCode::succeeded, {asio::ip::make_address("127.0.0.1"), 1234});
    EXPECT_FALSE(replied) << replied.message();
    // The relay: the early data first, then what the client sends after the reply.
    std::string more(5, '\0');
    std::size_t got = 0;
    while (got < more.size()) {
      auto io = co_await server.read_some(asio::buffer(more.data() + got, more.size() - got));
      if (io.error) break;
      got += io.bytes;
    }
    const std::string echo = "got:" + n.early_data + more.substr(0, got);
    co_await server.write(asio::buffer(echo));
  };
  run(all_methods(),
      {{all, bytes({0x05, 0x02, 0x01, 0x00}) + bytes({0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1, 0x04, 0xd2})},
       {"world", "got:helloworld"}});
  ASSERT_TRUE(result->ok) << result->reason;
  EXPECT_EQ(result->early_data, "hello");
  EXPECT_EQ(rest, "");
}

TEST_F(Socks5Negotiate, LargeEarlyDataIsSplitBetweenEarlyDataAndTheStream) {
  std::string payload(100000, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  std::string relayed;
  after = [&](net::TcpStream& server, socks::Negotiation& n) -> asio::awaitable<void> {
    relayed = n.early_data;
    std::array<char, 8192> chunk;
    while (relayed.size() < payload.size()) {
      auto io = co_await server.read_some(asio::buffer(chunk));
      if (io.error) break;
      relayed.append(chunk.data(), io.bytes);
    }
  };
  run(all_methods(),
      {{greeting(bytes({0x00})) + request_ipv4({10, 1, 2, 3}, 22) + payload, bytes({0x05, 0x00})}});
  ASSERT_TRUE(result->ok) << result->reason;
  EXPECT_LT(result->early_data.size(), payload.size()) << "reads are bounded";
  EXPECT_EQ(relayed.size(), payload.size());
  EXPECT_TRUE(relayed == payload) << "no byte lost or reordered";
}

TEST_F(Socks5Negotiate, ClientThatClosesRightAwayIsAnIoFailure) {
  run(all_methods(), {}, true);
  expect_failure(socks::Failure::io);
  EXPECT_NE(result->reason.find("greeting"), std::string::npos) << result->reason;
}

TEST_F(Socks5Negotiate, SilentClientTimesOut) {
  auto options = all_methods();
  options.timeout = 50ms;
  // The client sends half a greeting and then waits for the server's end, which the timeout brings.
  run(options, {{bytes({0x05, 0x02, 0x00}), ""}});
  expect_failure(socks::Failure::timeout);
  EXPECT_EQ(rest, "");
}

// ---- negotiate() on a stream that hands out the client's bytes in pieces ----

namespace {

// The client's side as a script: each read returns at most `piece` bytes of `input`, then eof.
// What the server writes is recorded.
class ScriptedStream final : public Stream {
 public:
  ScriptedStream(asio::any_io_executor executor, std::string input, std::size_t piece)
      : executor_(std::move(executor)), input_(std::move(input)), piece_(piece) {}

  asio::any_io_executor executor() const override { return executor_; }
  asio::awaitable<IoResult> read_some(asio::mutable_buffer buffer) override {
    if (closed_) co_return IoResult{asio::error::operation_aborted, 0};
    if (offset_ == input_.size()) co_return IoResult{asio::error::eof, 0};
    const std::size_t n = std::min({piece_, buffer.size(), input_.size() - offset_});
    std::memcpy(buffer.data(), input_.data() + offset_, n);
    offset_ += n;
    co_return IoResult{{}, n};
  }
  asio::awaitable<IoResult> write(asio::const_buffer buffer) override {
    output_.append(static_cast<const char*>(buffer.data()), buffer.size());
    co_return IoResult{{}, buffer.size()};
  }
  asio::awaitable<error_code> shutdown_write() override { co_return error_code{}; }
  void close() noexcept override { closed_ = true; }

  const std::string& output() const { return output_; }
  std::string unread() const { return input_.substr(offset_); }

 private:
  asio::any_io_executor executor_;
  std::string input_;
  std::size_t piece_;
  std::size_t offset_ = 0;
  std::string output_;
  bool closed_ = false;
};

socks::Negotiation negotiate_script(ScriptedStream& stream, asio::io_context& context,
                                    const socks::Options& options) {
  std::optional<socks::Negotiation> result;
  asio::co_spawn(context, socks::negotiate(stream, options), [&](std::exception_ptr e, socks::Negotiation n) {
    EXPECT_FALSE(e);
    result = std::move(n);
  });
  context.restart();
  context.run();
  EXPECT_TRUE(result);
  return result ? std::move(*result) : socks::Negotiation{};
}

}  // namespace

TEST(Socks5Pieces, AnySplitOfPipelinedInputGivesTheSameResult) {
  asio::io_context context;
  const auto options = all_methods();
  const std::string early = "early application bytes";
  const std::string input = greeting(bytes({0x80, 0x02})) +
                            jwt_auth(token_for("acme", 300, "bob"), base64("berlin")) +
                            request_domain("erp.corp", 3300) + early;
  for (std::size_t piece : {1, 2, 3, 5, 7, 13, 100, 4096, 100000}) {
    ScriptedStream stream(context.get_executor(), input, piece);
    const auto result = negotiate_script(stream, context, options);
    ASSERT_TRUE(result.ok) << "piece " << piece << ": " << result.reason;
    EXPECT_EQ(result.tenant, "acme");
    EXPECT_EQ(result.location_id, "berlin");
    EXPECT_EQ(result.principal, "bob");
    EXPECT_EQ(result.host, "erp.corp");
    EXPECT_EQ(hex(stream.output()), "05 80 01 00");
    EXPECT_EQ(result.early_data + stream.unread(), early) << "piece " << piece;
  }
}

TEST(Socks5Pieces, EndOfInputAtEveryByteIsAFailureWithoutCrash) {
  asio::io_context context;
  const auto options = all_methods();
  for (const std::string& input :
       {greeting(bytes({0x80})) + jwt_auth(token_for("acme"), base64("berlin")) +
            request_ipv4({10, 0, 0, 1}, 80),
        greeting(bytes({0x02})) + password_auth("app1", "s3cret") + request_domain("erp.corp", 3300),
        greeting(bytes({0x00})) +
            request_ipv6(bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}), 443)}) {
    for (std::size_t size = 0; size < input.size(); ++size) {
      ScriptedStream stream(context.get_executor(), input.substr(0, size), 3);
      const auto result = negotiate_script(stream, context, options);
      EXPECT_FALSE(result.ok) << size;
      EXPECT_EQ(result.failure, socks::Failure::io) << size << ": " << result.reason;
      EXPECT_FALSE(result.authentication_failed) << size;
    }
    ScriptedStream whole(context.get_executor(), input, 3);
    EXPECT_TRUE(negotiate_script(whole, context, options).ok);
  }
}

TEST(Socks5Pieces, RandomInputNeverCrashes) {
  asio::io_context context;
  const auto options = all_methods();
  std::uint32_t state = 12345;
  auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return static_cast<std::uint8_t>(state >> 24);
  };
  const std::string prefix_sets[] = {"",
                                     bytes({0x05}),
                                     greeting(bytes({0x80})),
                                     greeting(bytes({0x02})),
                                     greeting(bytes({0x00})),
                                     greeting(bytes({0x00})) + bytes({0x05, 0x01, 0x00})};
  for (int round = 0; round < 3000; ++round) {
    std::string input = prefix_sets[round % std::size(prefix_sets)];
    const std::size_t size = next() % 64;
    for (std::size_t i = 0; i < size; ++i) input.push_back(static_cast<char>(next()));
    socks::parse_greeting(span(input));
    socks::parse_password_auth(span(input));
    socks::parse_jwt_auth(span(input));
    socks::parse_request(span(input));
    ScriptedStream stream(context.get_executor(), input, 1 + next() % 8);
    negotiate_script(stream, context, options);
  }
}

// ---- hostile clients ----

namespace {

socks::Negotiation negotiate_input(const std::string& input, const socks::Options& options,
                                   std::string* output = nullptr, std::size_t piece = 4096) {
  asio::io_context context;
  ScriptedStream stream(context.get_executor(), input, piece);
  auto result = negotiate_script(stream, context, options);
  if (output) *output = stream.output();
  return result;
}

}  // namespace

TEST(Socks5Greeting, LongAndRepetitiveMethodListsFollowTheServersPreference) {
  const auto pick = [](const socks::Options& options, const std::string& methods) {
    return socks::select_method(span(methods), options);
  };
  EXPECT_EQ(pick(all_methods(), std::string(254, '\x00') + "\x80"), socks::Method::jwt);
  EXPECT_EQ(pick(all_methods(), std::string(255, '\x02')), socks::Method::password);
  EXPECT_EQ(pick(all_methods(), bytes({0x01, 0x03, 0x04, 0xFE, 0xFF, 0x81, 0x7F})),
            socks::Method::no_acceptable);
  std::string every_byte;
  for (int m = 0; m < 255; ++m) every_byte.push_back(static_cast<char>(m));
  EXPECT_EQ(pick(all_methods(), every_byte), socks::Method::jwt);
  EXPECT_EQ(pick(only(socks::Method::password), every_byte), socks::Method::password);
  std::string without_known;
  for (int m = 0; m < 255; ++m) {
    if (m != 0x00 && m != 0x02 && m != 0x80) without_known.push_back(static_cast<char>(m));
  }
  EXPECT_EQ(pick(all_methods(), without_known), socks::Method::no_acceptable);

  std::string output;
  const auto result = negotiate_input(
      greeting(std::string(255, '\x02')) + password_auth("app1", "s3cret") + request_domain("erp.corp", 80),
      all_methods(), &output);
  ASSERT_TRUE(result.ok) << result.reason;
  EXPECT_EQ(hex(output), "05 02 01 00");
}

TEST(Socks5Greeting, NoAuthenticationIsRefusedUnlessConfigured) {
  // A client that only offers `none` (and pipelines its request) gets 05 FF and nothing else.
  for (auto method : {socks::Method::password, socks::Method::jwt}) {
    std::string output;
    const auto result =
        negotiate_input(greeting(bytes({0x00})) + request_domain("erp.corp", 80), only(method), &output);
    EXPECT_FALSE(result.ok);
    EXPECT_EQ(result.failure, socks::Failure::no_acceptable_method) << result.reason;
    EXPECT_EQ(hex(output), "05 ff");
    EXPECT_EQ(result.tenant, "");
  }
  // `none` listed but without the anonymous identity it needs.
  auto options = only(socks::Method::none);
  options.anonymous_tenant.clear();
  std::string output;
  const auto result =
      negotiate_input(greeting(bytes({0x00})) + request_domain("erp.corp", 80), options, &output);
  EXPECT_EQ(result.failure, socks::Failure::no_acceptable_method) << result.reason;
  EXPECT_EQ(hex(output), "05 ff");
}

TEST(Socks5Password, SubNegotiationVersionMustBe1) {
  for (int version : {0x00, 0x02, 0x05, 0x80, 0xFF}) {
    EXPECT_NE(parse_error(bytes({version, 0x04, 'a', 'p', 'p', '1', 0x01, 'p'}), socks::parse_password_auth)
                  .find("version"),
              std::string::npos)
        << version;
    std::string output;
    const auto result =
        negotiate_input(greeting(bytes({0x02})) + bytes({version, 0x04, 'a', 'p', 'p', '1', 0x06}) + "s3cret",
                        all_methods(), &output);
    EXPECT_EQ(result.failure, socks::Failure::protocol) << version;
    EXPECT_EQ(hex(output), "05 02 01 01") << version;
  }
}

TEST(Socks5Password, CredentialsMustMatchExactly) {
  for (const auto& [user, password] :
       std::vector<std::pair<std::string, std::string>>{{"app1", std::string("s3cret\0", 7)},
                                                        {"app1", std::string("\0s3cret", 7)},
                                                        {"app1", "S3cret"},
                                                        {"app1", "s3cre"},
                                                        {"app1", "s3crett"},
                                                        {"app1", std::string(255, 's')},
                                                        {std::string("app1\0", 5), "s3cret"},
                                                        {"APP1", "s3cret"},
                                                        {"app", "s3cret"},
                                                        {"app1 ", "s3cret"}}) {
    std::string output;
    const auto result = negotiate_input(
        greeting(bytes({0x02})) + password_auth(user, password) + request_domain("erp.corp", 80),
        all_methods(), &output);
    EXPECT_FALSE(result.ok) << hex(user) << " / " << hex(password);
    EXPECT_EQ(result.failure, socks::Failure::auth_failed) << result.reason;
    EXPECT_EQ(hex(output), "05 02 01 01");
    EXPECT_EQ(result.reason.find(password), std::string::npos) << result.reason;
    EXPECT_EQ(result.tenant, "");
  }
}

TEST(Socks5Password, LongestCredentialsAreAccepted) {
  auto options = all_methods();
  const std::string user(255, 'u');
  const std::string password(255, '\xff');
  options.users.emplace(user, socks::User{password, "acme", ""});
  const auto result = negotiate_input(
      greeting(bytes({0x02})) + password_auth(user, password) + request_domain("erp.corp", 80), options);
  ASSERT_TRUE(result.ok) << result.reason;
  EXPECT_EQ(result.principal, user);
}

TEST(Socks5Jwt, LengthsThatOverrunTheMessageWaitAndTheClientsCloseEndsIt) {
  // Token length 100, 10 bytes sent: the parser waits, and the client's close is an I/O failure
  // without any reply, not a refusal of half a token.
  const std::string partial = bytes({0x01}) + be32(100) + std::string(10, 't');
  EXPECT_EQ(socks::parse_jwt_auth(span(partial)).status, ParseStatus::need_more);
  std::string output;
  auto result = negotiate_input(greeting(bytes({0x80})) + partial, all_methods(), &output);
  EXPECT_EQ(result.failure, socks::Failure::io) << result.reason;
  EXPECT_EQ(hex(output), "05 80");
  // A location length beyond the bytes sent.
  const std::string location_short = bytes({0x01}) + be32(5) + "a.b.c" + bytes({0x08}) + "YmVy";
  EXPECT_EQ(socks::parse_jwt_auth(span(location_short)).status, ParseStatus::need_more);
  result = negotiate_input(greeting(bytes({0x80})) + location_short, all_methods(), &output);
  EXPECT_EQ(result.failure, socks::Failure::io) << result.reason;
  EXPECT_EQ(hex(output), "05 80");
}

TEST(Socks5Jwt, PasswordMessageSentForJwtIsRefusedAtOnce) {
  // An RFC 1929 message read as method 0x80 has a token length of 0x04617070: refused without waiting.
  std::string output;
  const auto result = negotiate_input(greeting(bytes({0x80, 0x02})) + password_auth("app1", "s3cret"),
                                      all_methods(), &output);
  EXPECT_EQ(result.failure, socks::Failure::protocol) << result.reason;
  EXPECT_TRUE(result.authentication_failed);
  EXPECT_EQ(hex(output), "05 80 01 01");
  EXPECT_EQ(result.reason.find("s3cret"), std::string::npos);
}

TEST(Socks5Jwt, LocationIdsThatDecodeToOddBytesAreErrors) {
  const auto parse = [](auto b) { return socks::parse_jwt_auth(b); };
  for (const std::string& location :
       {std::string("\x01"), std::string("\n"), std::string("\x7f"), std::string("berlin\0", 7),
        std::string("\0", 1), std::string("ber\rlin"), std::string("\xff\xfe"), std::string("berlin?x"),
        std::string("berlin#x"), std::string("ber%2flin"), std::string("../berlin"), std::string(189, 'l')}) {
    EXPECT_NE(parse_error(jwt_auth("a.b.c", base64(location)), parse).find("location id"), std::string::npos)
        << hex(location);
  }
  // The longest encoded form the length byte allows is not even a Base64 length.
  EXPECT_EQ(parse_error(jwt_auth("a.b.c", std::string(255, 'A')), parse), "location id is not valid Base64");
  // A zero-length location id is the default location.
  const std::string empty = jwt_auth("a.b.c", "");
  const auto result = socks::parse_jwt_auth(span(empty));
  ASSERT_EQ(result.status, ParseStatus::ok);
  EXPECT_EQ(result.value.location_id, "");
}

TEST(Socks5Jwt, TokenLengthIsCappedByTheVerifiersLimit) {
  // However large the configured cap, the verifier's limit bounds what negotiate() waits for.
  auto options = all_methods();
  options.max_token = std::numeric_limits<std::size_t>::max();
  std::string output;
  auto result = negotiate_input(greeting(bytes({0x80})) + bytes({0x01}) +
                                    be32(static_cast<std::uint32_t>(socks::JwtVerifier::kMaxTokenSize + 1)),
                                options, &output);
  EXPECT_EQ(result.failure, socks::Failure::protocol) << result.reason;
  EXPECT_EQ(hex(output), "05 80 01 01");
  EXPECT_NE(result.reason.find("65536"), std::string::npos) << result.reason;

  // A smaller cap applies as configured.
  options.max_token = 100;
  result = negotiate_input(greeting(bytes({0x80})) + jwt_auth(std::string(101, 't'), ""), options, &output);
  EXPECT_EQ(result.failure, socks::Failure::protocol) << result.reason;
  result = negotiate_input(greeting(bytes({0x80})) + jwt_auth(std::string(100, 't'), ""), options, &output);
  EXPECT_EQ(result.failure, socks::Failure::auth_failed) << result.reason;
}

TEST(Socks5Jwt, RefusedTokensNeverReachTheReason) {
  const std::string good = token_for("acme");
  const std::string forged =
      good.substr(0, good.rfind('.') + 1) + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  for (const std::string& token : {forged, token_for("acme", -3600), token_for("Not-A-Tenant"),
                                   good.substr(0, good.size() - 1), good + " "}) {
    std::string output;
    const auto result =
        negotiate_input(greeting(bytes({0x80})) + jwt_auth(token, base64("berlin")), all_methods(), &output);
    EXPECT_EQ(result.failure, socks::Failure::auth_failed) << result.reason;
    EXPECT_TRUE(result.authentication_failed);
    EXPECT_EQ(hex(output), "05 80 01 01");
    for (std::size_t at = 0; at + 12 <= token.size(); at += token.size() / 4) {
      EXPECT_EQ(result.reason.find(token.substr(at, 12)), std::string::npos) << result.reason;
    }
    EXPECT_EQ(result.reason.find(kSecret), std::string::npos);
  }
}

TEST(Socks5Request, Ipv6LiteralWithNulIsNotAnAddress) {
  // inet_pton stops at a NUL: what follows it must not be silently dropped.
  for (const std::string& name : {std::string("::1\0", 4), std::string("::1\0evil.example", 16),
                                  std::string("[::1\0]", 6), std::string("2001:db8::1\0:80", 15)}) {
    const auto result = request(request_domain(name, 80));
    EXPECT_EQ(result.status, ParseStatus::error) << hex(name) << " parsed as " << result.value.host;
    EXPECT_EQ(result.reply, ReplyCode::general_failure) << hex(name);
  }
}

TEST(Socks5Request, EveryControlOrNonAsciiByteInADomainAnswers01) {
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    if (std::isalnum(c) || ch == '.' || ch == '-' || ch == '_') continue;
    for (const std::string& name : {std::string(1, ch), "erp" + std::string(1, ch) + "corp",
                                    "erp.corp" + std::string(1, ch), std::string(1, ch) + "erp.corp"}) {
      const auto result = request(request_domain(name, 80));
      EXPECT_EQ(result.status, ParseStatus::error) << hex(name);
      EXPECT_EQ(result.reply, ReplyCode::general_failure) << hex(name);
    }
  }
}

TEST(Socks5Request, ReservedByteAndCommandsAreCheckedBeforeTheAddress) {
  for (int reserved : {0x01, 0x80, 0xFF}) {
    std::string output;
    const auto result =
        negotiate_input(greeting(bytes({0x00})) + bytes({0x05, 0x01, reserved, 0x01, 127, 0, 0, 1, 0, 80}),
                        all_methods(), &output);
    EXPECT_EQ(result.failure, socks::Failure::request_refused) << reserved;
    EXPECT_EQ(hex(output), "05 00 " + hex(reply(ReplyCode::general_failure))) << reserved;
  }
  for (int command : {0x00, 0x02, 0x03, 0x04, 0x81}) {
    std::string output;
    const auto result = negotiate_input(greeting(bytes({0x00})) + request_domain("erp.corp", 80, command),
                                        all_methods(), &output);
    EXPECT_EQ(result.failure, socks::Failure::request_refused) << command;
    EXPECT_EQ(hex(output), "05 00 " + hex(reply(ReplyCode::command_not_supported))) << command;
  }
  for (int type : {0x00, 0x02, 0x05, 0x7F}) {
    std::string output;
    const auto result =
        negotiate_input(greeting(bytes({0x00})) + bytes({0x05, 0x01, 0x00, type, 127, 0, 0, 1, 0, 80}),
                        all_methods(), &output);
    EXPECT_EQ(result.failure, socks::Failure::request_refused) << type;
    EXPECT_EQ(hex(output), "05 00 " + hex(reply(ReplyCode::address_type_not_supported))) << type;
  }
}

TEST(Socks5Pieces, BytesAfterTheRequestAreKeptVerbatim) {
  // Early data that looks like SOCKS (another request), with NUL and high bytes: none of it is parsed.
  const std::string early = request_domain("other.corp", 22) + std::string("\0\xff\x05\x01", 4) + "tail";
  const auto options = all_methods();
  for (std::size_t piece : {1, 2, 7, 4096}) {
    for (const std::string& prelude :
         {greeting(bytes({0x00})), greeting(bytes({0x02})) + password_auth("app1", "s3cret"),
          greeting(bytes({0x80})) + jwt_auth(token_for("acme"), base64("berlin"))}) {
      asio::io_context context;
      ScriptedStream stream(context.get_executor(), prelude + request_ipv4({10, 0, 0, 1}, 443) + early,
                            piece);
      const auto result = negotiate_script(stream, context, options);
      ASSERT_TRUE(result.ok) << result.reason;
      EXPECT_EQ(result.host, "10.0.0.1");
      EXPECT_EQ(result.port, 443);
      EXPECT_EQ(hex(result.early_data + stream.unread()), hex(early)) << "piece " << piece;
    }
  }
}

TEST_F(Socks5Negotiate, ClientStalledInAnyPhaseTimesOut) {
  // The deadline covers the whole negotiation, not only the greeting: a client that answers the
  // greeting and then stalls (mid-credentials, mid-token, mid-request) is cut off too.
  const std::string token_message = jwt_auth(token_for("acme"), base64("berlin"));
  const std::vector<std::vector<Step>> scripts = {
      {{greeting(bytes({0x02})), bytes({0x05, 0x02})}},
      {{greeting(bytes({0x02})), bytes({0x05, 0x02})}, {bytes({0x01, 0x04, 'a', 'p'}), ""}},
      {{greeting(bytes({0x80})), bytes({0x05, 0x80})}, {token_message.substr(0, 40), ""}},
      {{greeting(bytes({0x80})), bytes({0x05, 0x80})}, {token_message, kAuthOk}},
      {{greeting(bytes({0x02})), bytes({0x05, 0x02})},
       {password_auth("app1", "s3cret"), kAuthOk},
       {bytes({0x05, 0x01, 0x00, 0x03, 0x08, 'e', 'r'}), ""}},
  };
  auto options = all_methods();
  // Long enough for the steps before the stall on a slow (sanitizer) build; only the stall reaches it.
  options.timeout = 250ms;
  for (std::size_t i = 0; i < scripts.size(); ++i) {
    result.reset();
    rest.clear();
    client_done = false;
    context.restart();
    run(options, scripts[i]);
    expect_failure(socks::Failure::timeout);
    EXPECT_EQ(rest, "") << "script " << i;
  }
}
