// The tunnel request header codec: round trips, every malformed header block, the status mapping.
#include <gtest/gtest.h>

#include <algorithm>

#include "tunnel/tunnel_request.hpp"

using namespace gw;
using namespace gw::tunnel;

namespace {

HeaderList valid_headers() {
  return {{":method", "CONNECT"},
          {":authority", "erp.corp:3300"},
          {"gateway-route-type", "tcp"},
          {"gateway-destination", "erp"},
          {"gateway-request-id", "req-1.a_b"},
          {"gateway-principal", "CN=alice, O=Acme"}};
}

// Parses and expects a refusal whose message contains `needle`.
void expect_refused(const HeaderList& headers, const std::string& needle) {
  std::string error;
  auto request = parse_request(headers, error);
  EXPECT_FALSE(request) << "accepted although " << needle << " is wrong";
  EXPECT_NE(error.find(needle), std::string::npos) << "error: " << error;
}

HeaderList with(HeaderList headers, const std::string& name, const std::string& value) {
  for (auto& [n, v] : headers) {
    if (n == name) {
      v = value;
      return headers;
    }
  }
  headers.emplace_back(name, value);
  return headers;
}

HeaderList without(HeaderList headers, const std::string& name) {
  std::erase_if(headers, [&](const auto& h) { return h.first == name; });
  return headers;
}

TEST(TunnelRequest, ParsesAValidRequest) {
  std::string error;
  auto request = parse_request(valid_headers(), error);
  ASSERT_TRUE(request) << error;
  EXPECT_EQ(request->host, "erp.corp");
  EXPECT_EQ(request->port, 3300);
  EXPECT_EQ(request->route_type, "tcp");
  EXPECT_EQ(request->destination, "erp");
  EXPECT_EQ(request->request_id, "req-1.a_b");
  EXPECT_EQ(request->principal, "CN=alice, O=Acme");
}

TEST(TunnelRequest, RoundTrips) {
  TunnelRequest request{"10.1.2.3", 65535, "ldap-x_1", "dest_1", "id", "p"};
  auto headers = encode_request(request);
  ASSERT_GE(headers.size(), 3u);
  EXPECT_EQ(headers[0], (std::pair<std::string, std::string>{":method", "CONNECT"}));
  EXPECT_EQ(headers[1], (std::pair<std::string, std::string>{":authority", "10.1.2.3:65535"}));
  std::string error;
  auto parsed = parse_request(headers, error);
  ASSERT_TRUE(parsed) << error;
  EXPECT_EQ(parsed->host, request.host);
  EXPECT_EQ(parsed->port, request.port);
  EXPECT_EQ(parsed->route_type, request.route_type);
  EXPECT_EQ(parsed->destination, request.destination);
  EXPECT_EQ(parsed->request_id, request.request_id);
  EXPECT_EQ(parsed->principal, request.principal);
}

TEST(TunnelRequest, OptionalHeadersAreOmittedWhenEmpty) {
  TunnelRequest request{"erp.corp", 1, "tcp", "", "", ""};
  auto headers = encode_request(request);
  EXPECT_EQ(headers.size(), 3u);
  std::string error;
  auto parsed = parse_request(headers, error);
  ASSERT_TRUE(parsed) << error;
  EXPECT_TRUE(parsed->destination.empty());
  EXPECT_TRUE(parsed->request_id.empty());
  EXPECT_TRUE(parsed->principal.empty());
}

TEST(TunnelRequest, Ipv6HostsTravelInBrackets) {
  TunnelRequest request{"fd00::1", 443, "tcp", "", "", ""};
  auto headers = encode_request(request);
  EXPECT_EQ(headers[1].second, "[fd00::1]:443");
  std::string error;
  auto parsed = parse_request(headers, error);
  ASSERT_TRUE(parsed) << error;
  EXPECT_EQ(parsed->host, "fd00::1");
  EXPECT_EQ(parsed->port, 443);
  EXPECT_EQ(authority("::ffff:10.0.0.1", 80), "[::ffff:10.0.0.1]:80");
}

TEST(TunnelRequest, AcceptsHostNameForms) {
  for (const std::string& host :
       std::vector<std::string>{"a", "erp.corp.", "my_host-1.example", "127.0.0.1", "EXAMPLE.com"}) {
    std::string error;
    EXPECT_TRUE(parse_request(with(valid_headers(), ":authority", host + ":80"), error))
        << host << ": " << error;
  }
}

TEST(TunnelRequest, IgnoresUnknownRegularAndGatewayHeaders) {
  auto headers = valid_headers();
  headers.emplace_back("gateway-future-field", "x");
  headers.emplace_back("user-agent", "edge");
  std::string error;
  EXPECT_TRUE(parse_request(headers, error)) << error;
}

TEST(TunnelRequest, RefusesWrongOrMissingMethod) {
  expect_refused(with(valid_headers(), ":method", "GET"), ":method");
  expect_refused(with(valid_headers(), ":method", "connect"), ":method");
  expect_refused(without(valid_headers(), ":method"), ":method: missing");
}

TEST(TunnelRequest, RefusesPathSchemeAndProtocol) {
  auto add_pseudo = [](const std::string& name) {
    auto headers = valid_headers();
    headers.insert(headers.begin() + 2, {name, "x"});
    return headers;
  };
  expect_refused(add_pseudo(":path"), ":path");
  expect_refused(add_pseudo(":scheme"), ":scheme");
  expect_refused(add_pseudo(":protocol"), "extended CONNECT");
  expect_refused(add_pseudo(":status"), "unknown pseudo-header");
}

TEST(TunnelRequest, RefusesPseudoHeaderAfterRegularHeader) {
  auto headers = without(valid_headers(), ":authority");
  headers.emplace_back(":authority", "erp.corp:3300");
  expect_refused(headers, "pseudo-header after a regular header");
}

TEST(TunnelRequest, RefusesRepeatedHeaders) {
  auto repeat = [](const std::string& name, const std::string& value) {
    auto headers = valid_headers();
    auto at = std::find_if(headers.begin(), headers.end(), [&](const auto& h) { return h.first == name; });
    headers.insert(at + 1, {name, value});
    return headers;
  };
  expect_refused(repeat(":method", "CONNECT"), ":method: header repeated");
  expect_refused(repeat(":authority", "other:1"), ":authority: header repeated");
  expect_refused(repeat("gateway-route-type", "tcp"), "gateway-route-type: header repeated");
  expect_refused(repeat("gateway-destination", "erp"), "gateway-destination: header repeated");
  expect_refused(repeat("gateway-request-id", "x"), "gateway-request-id: header repeated");
  expect_refused(repeat("gateway-principal", "bob"), "gateway-principal: header repeated");
}

TEST(TunnelRequest, RefusesMalformedAuthorities) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "expected host:port"},
      {"erp.corp", "expected host:port"},
      {"erp.corp:", "port"},
      {":3300", "invalid host name"},
      {"erp.corp:0", "port"},
      {"erp.corp:65536", "port"},
      {"erp.corp:99999", "port"},
      {"erp.corp:123456", "port"},
      {"erp.corp:080", "port"},
      {"erp.corp:+80", "port"},
      {"erp.corp:-1", "port"},
      {"erp.corp:8 0", "port"},
      {"erp.corp:0x50", "port"},
      {"::1:80", "brackets"},
      {"fd00::1:80", "brackets"},
      {"[::1]", "[IPv6 address]:port"},
      {"[::1]80", "[IPv6 address]:port"},
      {"[::1:80", "[IPv6 address]:port"},
      {"[]:80", "invalid IPv6"},
      {"[not-v6]:80", "invalid IPv6"},
      {"[fe80::1%25eth0]:80", "invalid IPv6"},
      {"[1.2.3.4]:80", "invalid IPv6"},
      {"user@erp.corp:80", "invalid host name"},
      {"erp corp:80", "invalid host name"},
      {"erp..corp:80", "invalid host name"},
      {".erp.corp:80", "invalid host name"},
      {"erp/corp:80", "invalid host name"},
      {"256.1.1.1:80", "invalid host name"},
      {"1.2.3:80", "invalid host name"},
      {std::string(64, 'a') + ".corp:80", "invalid host name"},
      {std::string(254, 'a') + ":80", "invalid host name"},
      {std::string("erp\x80.corp:80"), "invalid host name"},
  };
  for (const auto& [authority_value, needle] : cases) {
    SCOPED_TRACE(authority_value);
    expect_refused(with(valid_headers(), ":authority", authority_value), needle);
  }
  expect_refused(without(valid_headers(), ":authority"), ":authority: missing");
}

TEST(TunnelRequest, RefusesMalformedRouteTypes) {
  expect_refused(without(valid_headers(), "gateway-route-type"), "gateway-route-type: missing");
  for (const std::string& value :
       std::vector<std::string>{"", "TCP", "1tcp", "-tcp", "tcp!", "t cp", "tcp.x", std::string(33, 'a')}) {
    SCOPED_TRACE(value);
    expect_refused(with(valid_headers(), "gateway-route-type", value), "gateway-route-type");
  }
  std::string error;
  EXPECT_TRUE(parse_request(with(valid_headers(), "gateway-route-type", std::string(32, 'a')), error))
      << error;
}

TEST(TunnelRequest, RefusesMalformedDestinations) {
  for (const std::string& value :
       std::vector<std::string>{"", "a b", "a.b", "a/b", "é", std::string(201, 'd')}) {
    SCOPED_TRACE(value);
    expect_refused(with(valid_headers(), "gateway-destination", value), "gateway-destination");
  }
  std::string error;
  EXPECT_TRUE(parse_request(with(valid_headers(), "gateway-destination", std::string(200, 'd')), error))
      << error;
}

TEST(TunnelRequest, RefusesMalformedRequestIds) {
  for (const std::string& value :
       std::vector<std::string>{"", "a b", "a/b", "a:b", "a+b", std::string(65, 'r')}) {
    SCOPED_TRACE(value);
    expect_refused(with(valid_headers(), "gateway-request-id", value), "gateway-request-id");
  }
  std::string error;
  EXPECT_TRUE(parse_request(with(valid_headers(), "gateway-request-id", std::string(64, 'r')), error))
      << error;
}

TEST(TunnelRequest, RefusesMalformedPrincipals) {
  expect_refused(with(valid_headers(), "gateway-principal", ""), "gateway-principal");
  expect_refused(with(valid_headers(), "gateway-principal", std::string(1025, 'p')), "gateway-principal");
  expect_refused(with(valid_headers(), "gateway-principal", "alice\r\nx-evil: 1"), "CR, LF or NUL");
  expect_refused(with(valid_headers(), "gateway-principal", "alice\nbob"), "CR, LF or NUL");
  expect_refused(with(valid_headers(), "gateway-principal", std::string("ali\0ce", 6)), "CR, LF or NUL");
  std::string error;
  EXPECT_TRUE(parse_request(with(valid_headers(), "gateway-principal", std::string(1024, 'p')), error))
      << error;
  EXPECT_TRUE(parse_request(with(valid_headers(), "gateway-principal", "Ålice (UTF-8)"), error)) << error;
}

TEST(TunnelRequest, RefusesValuesThatStartOrEndWithWhitespace) {
  // HTTP/2 peers reset a stream with such a value; the edge refuses it first, with a reason.
  for (const std::string value : {" alice", "alice ", "\talice", "alice\t"}) {
    expect_refused(with(valid_headers(), "gateway-principal", value), "starts or ends with whitespace");
  }
  expect_refused(with(valid_headers(), "gateway-destination", "erp "), "starts or ends with whitespace");
  std::string error;
  EXPECT_TRUE(parse_request(with(valid_headers(), "gateway-principal", "alice smith"), error)) << error;
}

TEST(TunnelRequest, RefusesControlBytesAnywhere) {
  expect_refused(with(valid_headers(), "x-other", "a\rb"), "CR, LF or NUL");
  expect_refused(with(valid_headers(), ":authority", "erp.corp:80\r\n"), "CR, LF or NUL");
  auto headers = valid_headers();
  headers.emplace_back(std::string("x-na\nme"), "v");
  expect_refused(headers, "invalid header name");
  headers = valid_headers();
  headers.emplace_back(std::string("x-na\0me", 7), "v");
  expect_refused(headers, "invalid header name");
}

TEST(TunnelRequest, RefusesBadHeaderNamesAndSizes) {
  auto headers = valid_headers();
  headers.emplace_back("", "v");
  expect_refused(headers, "empty header name");
  headers = valid_headers();
  headers.emplace_back("Gateway-Route-Type", "tcp");
  expect_refused(headers, "invalid header name");
  headers = valid_headers();
  headers.emplace_back(std::string(kMaxHeaderNameLength + 1, 'x'), "v");
  expect_refused(headers, "invalid header name");
  headers = valid_headers();
  headers.emplace_back("x-big", std::string(kMaxHeaderValueLength + 1, 'v'));
  expect_refused(headers, "value too long");
  headers = valid_headers();
  while (headers.size() <= kMaxRequestHeaders) headers.emplace_back("x-filler", "v");
  expect_refused(headers, "too many headers");
  expect_refused({}, ":method: missing");
}

TEST(TunnelRequest, SanitizesReasons) {
  EXPECT_EQ(sanitize_reason("denied\r\nx-evil: 1"), "denied  x-evil: 1");
  EXPECT_EQ(sanitize_reason(std::string("a\0b", 3)), "a b");
  EXPECT_EQ(sanitize_reason(std::string(600, 'r')).size(), kMaxReasonLength);
  EXPECT_EQ(sanitize_reason(" \tunreachable\r\n"), "unreachable");
  EXPECT_EQ(sanitize_reason("\r\n"), "");
}

TEST(TunnelRequest, MapsStatusesBothWays) {
  EXPECT_EQ(status_for(TunnelErrc::denied), 403);
  EXPECT_EQ(status_for(TunnelErrc::unreachable), 502);
  EXPECT_EQ(status_for(TunnelErrc::timed_out), 504);
  EXPECT_EQ(status_for(TunnelErrc::busy), 503);
  EXPECT_EQ(status_for(TunnelErrc::refused), 500);
  EXPECT_EQ(status_for(TunnelErrc::tunnel_lost), 500);
  for (auto e : {TunnelErrc::denied, TunnelErrc::unreachable, TunnelErrc::timed_out, TunnelErrc::busy,
                 TunnelErrc::refused}) {
    EXPECT_EQ(errc_for_status(status_for(e)), e);
  }
  EXPECT_EQ(errc_for_status(400), TunnelErrc::refused);
  EXPECT_EQ(errc_for_status(404), TunnelErrc::refused);
  EXPECT_EQ(errc_for_status(599), TunnelErrc::refused);
}

}  // namespace
