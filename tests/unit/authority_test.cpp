// gw::split_authority: the host:port parser the HTTP proxy entry point and the http plugin share.
#include <gtest/gtest.h>

#include "gateway/plugin/authority.hpp"

namespace {

struct Split {
  bool ok = false;
  std::string host;
  std::uint16_t port = 0;
};

Split split(std::string_view authority, std::uint16_t default_port) {
  Split out;
  out.ok = gw::split_authority(authority, default_port, out.host, out.port);
  return out;
}

TEST(SplitAuthority, HostAndPort) {
  auto s = split("api.internal:8080", 80);
  EXPECT_TRUE(s.ok);
  EXPECT_EQ(s.host, "api.internal");
  EXPECT_EQ(s.port, 8080);
  s = split("[::1]:443", 0);
  EXPECT_TRUE(s.ok);
  EXPECT_EQ(s.host, "::1");
  EXPECT_EQ(s.port, 443);
}

TEST(SplitAuthority, AbsentPortTakesTheDefaultOrIsAnError) {
  auto s = split("api.internal", 80);
  EXPECT_TRUE(s.ok);
  EXPECT_EQ(s.port, 80);
  s = split("[fe80::1]", 443);
  EXPECT_TRUE(s.ok);
  EXPECT_EQ(s.host, "fe80::1");
  EXPECT_EQ(s.port, 443);
  EXPECT_FALSE(split("api.internal", 0).ok);
  EXPECT_FALSE(split("api.internal:", 0).ok);
}

TEST(SplitAuthority, MalformedAuthoritiesAreRefused) {
  for (const char* bad : {"", ":80", "[::1", "[::1]x80", "[]:80", "host:0", "host:65536", "host:8o",
                          "host:-1", "host:99999999999"}) {
    EXPECT_FALSE(split(bad, 80).ok) << bad;
  }
}

}  // namespace
