// The connector's HTTP resource policy: request-target normalisation fed every traversal spelling we
// know of (each with its exact error or its exact canonical path and forwarded target), resource
// matching of all three kinds, method lists, suspended resources, WebSocket upgrades, the most specific
// resource winning, deny by default, and a randomised run over hostile byte strings.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "path_policy.hpp"

using namespace gw::http;
using namespace std::string_literals;

namespace {

std::optional<NormalizedTarget> normalize(std::string_view target) {
  std::string error;
  return normalize_target(target, error);
}

// The error normalize_target gives for `target`, or "accepted as <path>" if it accepts it.
std::string error_for(std::string_view target) {
  std::string error;
  const auto result = normalize_target(target, error);
  if (result) return "accepted as " + result->path;
  return error;
}

struct Accepted {
  std::string target;
  std::string path;
  std::string forward;
};

struct Rejected {
  std::string target;
  std::string error;
};

std::string visible(std::string_view text) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : text) {
    if (c >= 0x21 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kDigits[c >> 4];
      out += kDigits[c & 0xF];
    }
  }
  return out;
}

// Checks each accepted case's path and forwarded target, and that the forwarded target normalises to
// the same result.
void expect_accepted(const std::vector<Accepted>& cases) {
  for (const Accepted& c : cases) {
    SCOPED_TRACE("target: " + visible(c.target));
    std::string error;
    const auto result = normalize_target(c.target, error);
    ASSERT_TRUE(result.has_value()) << error;
    EXPECT_TRUE(error.empty());
    EXPECT_EQ(visible(result->path), visible(c.path));
    EXPECT_EQ(result->forward_target(), c.forward);
    const auto again = normalize_target(result->forward_target(), error);
    ASSERT_TRUE(again.has_value()) << error;
    EXPECT_EQ(*again, *result);
  }
}

void expect_rejected(const std::vector<Rejected>& cases) {
  for (const Rejected& c : cases) {
    SCOPED_TRACE("target: " + visible(c.target));
    EXPECT_EQ(error_for(c.target), c.error);
  }
}

std::string repeat(std::string_view piece, std::size_t times) {
  std::string out;
  for (std::size_t i = 0; i < times; ++i) out += piece;
  return out;
}

// ---- the traversal variants of the brief: none may reach /secret ----

TEST(HttpPathNormalize, TraversalVariantsNeverReachBeyondTheirText) {
  expect_accepted({
      {"/allowed/../secret", "/secret", "/secret"},
      {"/allowed/%2e%2e/secret", "/secret", "/secret"},
      {"/allowed/%2E%2E/secret", "/secret", "/secret"},
      {"/allowed/%2E%2e/secret", "/secret", "/secret"},
      {"/allowed//..//secret", "/secret", "/secret"},
      {"/allowed/.%2e/secret", "/secret", "/secret"},
      {"/allowed/%2e./secret", "/secret", "/secret"},
      {"/allowed;/../secret", "/secret", "/secret"},
      {"/allowed/x/../../secret", "/secret", "/secret"},
      {"/allowed/./../secret", "/secret", "/secret"},
      {"/allowed/%2e/%2e%2e/secret", "/secret", "/secret"},
      {"//allowed/../secret", "/secret", "/secret"},
      {"/allowed/../secret?x=1", "/secret", "/secret?x=1"},
  });
  expect_rejected({
      {"/allowed/%2E%2E%2Fsecret", "ambiguous encoding %2F in path"},
      {"/allowed/%2e%2e%2fsecret", "ambiguous encoding %2f in path"},
      {"/allowed/..%2fsecret", "ambiguous encoding %2f in path"},
      {"/allowed%2f..%2fsecret", "ambiguous encoding %2f in path"},
      {"/allowed\\..\\secret", "backslash in path"},
      {"/allowed/..\\secret", "backslash in path"},
      {"/allowed/%5c..%5csecret", "ambiguous encoding %5c in path"},
      {"/allowed/..%5Csecret", "ambiguous encoding %5C in path"},
      {"/allowed/..;/secret", "ambiguous dot segment in path"},
      {"/allowed/..%3b/secret", "ambiguous dot segment in path"},
      {"/allowed/..%3Bjsessionid=1/secret", "ambiguous dot segment in path"},
      {"/allowed/.;/secret", "ambiguous dot segment in path"},
      {"/allowed/%2e%2e;x/secret", "ambiguous dot segment in path"},
      {"/allowed/.../secret", "ambiguous dot segment in path"},
      {"/allowed/..../secret", "ambiguous dot segment in path"},
      {"/allowed/..%20/secret", "ambiguous dot segment in path"},
      {"/allowed/.%20/secret", "ambiguous dot segment in path"},
      {"/allowed/%20../secret", "ambiguous dot segment in path"},
      {"/allowed/. ./secret", "invalid character 0x20 in path"},
      {"/allowed/%c0%ae%c0%ae/secret", "path is not well-formed UTF-8"},
      {"/allowed/%c0%ae%c0%ae%c0%afsecret", "path is not well-formed UTF-8"},
      {"/allowed/..%c0%afsecret", "path is not well-formed UTF-8"},
      {"/allowed/..%c1%9csecret", "path is not well-formed UTF-8"},
      {"/allowed/%e0%80%ae%e0%80%ae/secret", "path is not well-formed UTF-8"},
      {"/allowed/%f0%80%80%ae%f0%80%80%ae/secret", "path is not well-formed UTF-8"},
      {"/allowed/..%00/secret", "ambiguous encoding %00 in path"},
      {"/allowed/../../secret", "path climbs above the root"},
      {"/allowed/%2e%2e/%2e%2e/secret", "path climbs above the root"},
      {"/../secret", "path climbs above the root"},
      {"/allowed/..#/secret", "fragment ('#') in request-target"},
  });
}

TEST(HttpPathNormalize, DoubleEncodingIsDecodedOnceAndForwardedAsChecked) {
  expect_accepted({
      {"/allowed/%252e%252e/secret", "/allowed/%2e%2e/secret", "/allowed/%252e%252e/secret"},
      {"/allowed/%252E%252E%252Fsecret", "/allowed/%2E%2E%2Fsecret", "/allowed/%252E%252E%252Fsecret"},
      {"/allowed/%25252e", "/allowed/%252e", "/allowed/%25252e"},
      {"/allowed/%255c", "/allowed/%5c", "/allowed/%255c"},
      {"/allowed/%25", "/allowed/%", "/allowed/%25"},
      {"/allowed/%2500", "/allowed/%00", "/allowed/%2500"},
  });
}

// ---- dot segments and slashes ----

TEST(HttpPathNormalize, RemovesDotSegmentsAsRfc3986) {
  expect_accepted({
      {"/", "/", "/"},
      {"/.", "/", "/"},
      {"/./", "/", "/"},
      {"/%2e", "/", "/"},
      {"/%2E/", "/", "/"},
      {"/a", "/a", "/a"},
      {"/a/", "/a/", "/a/"},
      {"/a/./b", "/a/b", "/a/b"},
      {"/a/././b", "/a/b", "/a/b"},
      {"/a/b/../c", "/a/c", "/a/c"},
      {"/a/b/c/../../d", "/a/d", "/a/d"},
      {"/a/..", "/", "/"},
      {"/a/../", "/", "/"},
      {"/a/.", "/a/", "/a/"},
      {"/a/b/..", "/a/", "/a/"},
      {"/a/b/.", "/a/b/", "/a/b/"},
      {"/a/b/%2e%2e", "/a/", "/a/"},
      {"/a/b/./", "/a/b/", "/a/b/"},
      {"/a/b/../", "/a/", "/a/"},
      {"/a/./../b", "/b", "/b"},
      {"/a.", "/a.", "/a."},
      {"/a..", "/a..", "/a.."},
      {"/..a", "/..a", "/..a"},
      {"/a/.b", "/a/.b", "/a/.b"},
      {"/a/..b/c", "/a/..b/c", "/a/..b/c"},
      {"/a/b.../c", "/a/b.../c", "/a/b.../c"},
      {"/.well-known/x", "/.well-known/x", "/.well-known/x"},
      {"/a/;/b", "/a/;/b", "/a/;/b"},
      {"/a/;../b", "/a/;../b", "/a/;../b"},
      {"/a;b/c", "/a;b/c", "/a;b/c"},
  });
}

TEST(HttpPathNormalize, CollapsesRepeatedSlashes) {
  expect_accepted({
      {"//", "/", "/"},
      {"///", "/", "/"},
      {"//a", "/a", "/a"},
      {"//evil.example/x", "/evil.example/x", "/evil.example/x"},
      {"/a//b", "/a/b", "/a/b"},
      {"/a///b////", "/a/b/", "/a/b/"},
      {"/a//./b", "/a/b", "/a/b"},
      {"/a/.//b", "/a/b", "/a/b"},
      {"/a/b//..", "/a/", "/a/"},
      {"/a//..//b", "/b", "/b"},
      {"/" + repeat("/", 5000), "/", "/"},
  });
}

TEST(HttpPathNormalize, DotDotAboveTheRootIsAnErrorNotClamped) {
  expect_rejected({
      {"/..", "path climbs above the root"},
      {"/../", "path climbs above the root"},
      {"/%2e%2e", "path climbs above the root"},
      {"/.%2E/", "path climbs above the root"},
      {"//..", "path climbs above the root"},
      {"/./..", "path climbs above the root"},
      {"/../a", "path climbs above the root"},
      {"/a/../..", "path climbs above the root"},
      {"/a/b/../../..", "path climbs above the root"},
      {"/a/b/../../../c", "path climbs above the root"},
      {"/..?x", "path climbs above the root"},
  });
}

// ---- percent-encoding ----

TEST(HttpPathNormalize, MalformedEscapesAreErrors) {
  expect_rejected({
      {"/%", "malformed percent-escape in path"},
      {"/a%", "malformed percent-escape in path"},
      {"/%4", "malformed percent-escape in path"},
      {"/%4?x", "malformed percent-escape in path"},
      {"/%zz", "malformed percent-escape in path"},
      {"/%4g", "malformed percent-escape in path"},
      {"/%g4", "malformed percent-escape in path"},
      {"/%%41", "malformed percent-escape in path"},
      {"/%-1", "malformed percent-escape in path"},
      {"/% 41", "malformed percent-escape in path"},
      {"/%2", "malformed percent-escape in path"},
      {"/a/%2e%2", "malformed percent-escape in path"},
  });
}

TEST(HttpPathNormalize, EscapesOfSeparatorsAndControlBytesAreAmbiguous) {
  expect_rejected({
      {"/%2f", "ambiguous encoding %2f in path"},
      {"/%2F", "ambiguous encoding %2F in path"},
      {"/a%2Fb", "ambiguous encoding %2F in path"},
      {"/%5c", "ambiguous encoding %5c in path"},
      {"/%5C", "ambiguous encoding %5C in path"},
      {"/%00", "ambiguous encoding %00 in path"},
      {"/a%00.html", "ambiguous encoding %00 in path"},
      {"/%01", "ambiguous encoding %01 in path"},
      {"/%09", "ambiguous encoding %09 in path"},
      {"/%0a", "ambiguous encoding %0a in path"},
      {"/%0D%0AHost:%20evil", "ambiguous encoding %0D in path"},
      {"/%1f", "ambiguous encoding %1f in path"},
      {"/%1F", "ambiguous encoding %1F in path"},
      {"/%7f", "ambiguous encoding %7f in path"},
      {"/%7F", "ambiguous encoding %7F in path"},
  });
}

TEST(HttpPathNormalize, OtherEscapesAreDecodedAndReencodedCanonically) {
  expect_accepted({
      {"/%41%42c", "/ABc", "/ABc"},
      {"/%61", "/a", "/a"},
      {"/a%7Eb", "/a~b", "/a~b"},
      {"/a%7eb", "/a~b", "/a~b"},
      {"/a%2Db%2E%5F", "/a-b._", "/a-b._"},
      {"/a%20b", "/a b", "/a%20b"},
      {"/a%3Fb", "/a?b", "/a%3Fb"},
      {"/a%3fb?q", "/a?b", "/a%3Fb?q"},
      {"/a%23b", "/a#b", "/a%23b"},
      {"/a%3Bb", "/a;b", "/a;b"},
      {"/a%3Db", "/a=b", "/a=b"},
      {"/a%40b%3A", "/a@b:", "/a@b:"},
      {"/a%22b", "/a\"b", "/a%22b"},
      {"/a\"b", "/a\"b", "/a%22b"},
      {"/a<b>", "/a<b>", "/a%3Cb%3E"},
      {"/[::1]", "/[::1]", "/%5B::1%5D"},
      {"/{x}|^`", "/{x}|^`", "/%7Bx%7D%7C%5E%60"},
      {"/!$&'()*+,;=:@-._~", "/!$&'()*+,;=:@-._~", "/!$&'()*+,;=:@-._~"},
      {"/AZaz09", "/AZaz09", "/AZaz09"},
  });
}

TEST(HttpPathNormalize, Utf8PathsAreDecodedValidatedAndReencoded) {
  expect_accepted({
      {"/caf%C3%A9", "/caf\xC3\xA9", "/caf%C3%A9"},
      {"/caf%c3%a9", "/caf\xC3\xA9", "/caf%C3%A9"},
      {"/%E2%82%AC", "/\xE2\x82\xAC", "/%E2%82%AC"},
      {"/%F0%9F%98%80/x", "/\xF0\x9F\x98\x80/x", "/%F0%9F%98%80/x"},
      {"/%C2%80", "/\xC2\x80", "/%C2%80"},
      {"/%EF%BF%BF", "/\xEF\xBF\xBF", "/%EF%BF%BF"},
      {"/%F4%8F%BF%BF", "/\xF4\x8F\xBF\xBF", "/%F4%8F%BF%BF"},
      {"/%ED%9F%BF", "/\xED\x9F\xBF", "/%ED%9F%BF"},
      {"/%EE%80%80", "/\xEE\x80\x80", "/%EE%80%80"},
  });
  expect_rejected({
      {"/%c0%ae", "path is not well-formed UTF-8"},        // overlong '.'
      {"/%C0%AE", "path is not well-formed UTF-8"},        // overlong '.'
      {"/%c0%af", "path is not well-formed UTF-8"},        // overlong '/'
      {"/%c1%9c", "path is not well-formed UTF-8"},        // overlong '\'
      {"/%c0%80", "path is not well-formed UTF-8"},        // overlong NUL
      {"/%e0%80%af", "path is not well-formed UTF-8"},     // overlong '/', three bytes
      {"/%e0%9f%bf", "path is not well-formed UTF-8"},     // overlong, three bytes
      {"/%f0%80%80%af", "path is not well-formed UTF-8"},  // overlong '/', four bytes
      {"/%f0%8f%bf%bf", "path is not well-formed UTF-8"},  // overlong, four bytes
      {"/%ed%a0%80", "path is not well-formed UTF-8"},     // surrogate
      {"/%ed%bf%bf", "path is not well-formed UTF-8"},     // surrogate
      {"/%f4%90%80%80", "path is not well-formed UTF-8"},  // above U+10FFFF
      {"/%f5%80%80%80", "path is not well-formed UTF-8"},
      {"/%f8%88%80%80%80", "path is not well-formed UTF-8"},
      {"/%fe", "path is not well-formed UTF-8"},
      {"/%ff", "path is not well-formed UTF-8"},
      {"/%80", "path is not well-formed UTF-8"},           // lone continuation byte
      {"/%bf", "path is not well-formed UTF-8"},           // lone continuation byte
      {"/%c3", "path is not well-formed UTF-8"},           // truncated
      {"/%c3/", "path is not well-formed UTF-8"},          // truncated, then '/'
      {"/%e2%82", "path is not well-formed UTF-8"},        // truncated
      {"/%f0%9f%98", "path is not well-formed UTF-8"},     // truncated
      {"/%c3%28", "path is not well-formed UTF-8"},        // bad continuation
      {"/%e2%28%a1", "path is not well-formed UTF-8"},     // bad continuation
      {"/%e2%82%28", "path is not well-formed UTF-8"},     // bad third byte
      {"/%f0%9f%98%28", "path is not well-formed UTF-8"},  // bad fourth byte
      {"/%e9t%e9", "path is not well-formed UTF-8"},       // ISO-8859-1
  });
}

// ---- raw bytes ----

TEST(HttpPathNormalize, RawBytesOutsideVisibleAsciiAreErrors) {
  expect_rejected({
      {"/a b", "invalid character 0x20 in path"},
      {"/a\tb", "invalid character 0x09 in path"},
      {"/a\rb", "invalid character 0x0d in path"},
      {"/a\nb", "invalid character 0x0a in path"},
      {"/a\r\nHost: evil", "invalid character 0x0d in path"},
      {"/a\0b"s, "invalid character 0x00 in path"},
      {"/\0"s, "invalid character 0x00 in path"},
      {"/a\x01", "invalid character 0x01 in path"},
      {"/a\x1f", "invalid character 0x1f in path"},
      {"/a\x7f", "invalid character 0x7f in path"},
      {"/caf\xC3\xA9", "invalid character 0xc3 in path"},
      {"/\x80", "invalid character 0x80 in path"},
      {"/\xff", "invalid character 0xff in path"},
      {"/\xc0\xae", "invalid character 0xc0 in path"},
      {"/a\\b", "backslash in path"},
      {"/\\", "backslash in path"},
      {"/a/..\\..\\secret", "backslash in path"},
  });
}

// ---- the form of the target ----

TEST(HttpPathNormalize, OnlyOriginFormIsAccepted) {
  expect_rejected({
      {"", "empty request-target"},
      {"*", "request-target is not in origin-form (must start with '/')"},
      {"http://internal/secret", "request-target is not in origin-form (must start with '/')"},
      {"HTTP://internal/", "request-target is not in origin-form (must start with '/')"},
      {"internal:443", "request-target is not in origin-form (must start with '/')"},
      {"allowed/../secret", "request-target is not in origin-form (must start with '/')"},
      {"?x", "request-target is not in origin-form (must start with '/')"},
      {"%2f", "request-target is not in origin-form (must start with '/')"},
      {"\\allowed", "request-target is not in origin-form (must start with '/')"},
      {" /allowed", "request-target is not in origin-form (must start with '/')"},
      {"\0/"s, "request-target is not in origin-form (must start with '/')"},
  });
}

TEST(HttpPathNormalize, FragmentsAreRejectedAnywhere) {
  expect_rejected({
      {"/#", "fragment ('#') in request-target"},
      {"/a#b", "fragment ('#') in request-target"},
      {"/a?b#c", "fragment ('#') in request-target"},
      {"/a?#", "fragment ('#') in request-target"},
      {"/a/../..#", "fragment ('#') in request-target"},
      {"/a%#", "fragment ('#') in request-target"},
  });
}

// ---- the query ----

TEST(HttpPathNormalize, QueryIsKeptVerbatimAndValidated) {
  expect_accepted({
      {"/a?b=c", "/a", "/a?b=c"},
      {"/a?", "/a", "/a?"},
      {"/?", "/", "/?"},
      {"/a?b=c&d=%2F%2e%2E", "/a", "/a?b=c&d=%2F%2e%2E"},
      {"/a?x=/../secret", "/a", "/a?x=/../secret"},
      {"/a?x=..\\..", "/a", "/a?x=..\\.."},
      {"/a?x=?y?", "/a", "/a?x=?y?"},
      {"/a?%00", "/a", "/a?%00"},
      {"/a?\"{}", "/a", "/a?\"{}"},
      {"/a/./b/../c?q=%41", "/a/c", "/a/c?q=%41"},
  });

  const auto with_query = normalize("/a?b");
  ASSERT_TRUE(with_query);
  EXPECT_TRUE(with_query->had_query);
  EXPECT_EQ(with_query->query, "b");
  const auto empty_query = normalize("/a?");
  ASSERT_TRUE(empty_query);
  EXPECT_TRUE(empty_query->had_query);
  EXPECT_EQ(empty_query->query, "");
  const auto no_query = normalize("/a");
  ASSERT_TRUE(no_query);
  EXPECT_FALSE(no_query->had_query);
  EXPECT_EQ(no_query->query, "");
  EXPECT_EQ(no_query->forward_target(), "/a");

  expect_rejected({
      {"/a?b c", "invalid character 0x20 in query"},
      {"/a?b\tc", "invalid character 0x09 in query"},
      {"/a?b\r\nHost: evil", "invalid character 0x0d in query"},
      {"/a?\0"s, "invalid character 0x00 in query"},
      {"/a?\x7f", "invalid character 0x7f in query"},
      {"/a?\x80", "invalid character 0x80 in query"},
      {"/a?caf\xC3\xA9", "invalid character 0xc3 in query"},
      {"/a?%", "malformed percent-escape in query"},
      {"/a?x=%4", "malformed percent-escape in query"},
      {"/a?x=%zz", "malformed percent-escape in query"},
      {"/a?x=%4g&y", "malformed percent-escape in query"},
      {"/a?x=%%41", "malformed percent-escape in query"},
      // The path is checked first.
      {"/a b?c d", "invalid character 0x20 in path"},
  });
}

// ---- limits ----

TEST(HttpPathNormalize, TargetLengthIsCapped) {
  const std::string longest = "/" + std::string(kMaxTargetLength - 1, 'a');
  expect_accepted({{longest, longest, longest}});
  const std::string longest_with_query = "/a?" + std::string(kMaxTargetLength - 3, 'q');
  expect_accepted({{longest_with_query, "/a", longest_with_query}});

  expect_rejected({
      {longest + "a", "request-target longer than 8192 bytes"},
      {longest_with_query + "q", "request-target longer than 8192 bytes"},
      {std::string(1'000'000, '/'), "request-target longer than 8192 bytes"},
      {"/" + repeat("../", 100'000), "request-target longer than 8192 bytes"},
  });
}

TEST(HttpPathNormalize, CanonicalTargetLengthIsCappedToo) {
  // A raw '"' is forwarded as "%22": 1 + 3 * 2730 + 1 = 8192 bytes is the longest canonical form.
  const std::string fits = "/" + std::string(2730, '"') + "a";
  expect_accepted({{fits, fits, "/" + repeat("%22", 2730) + "a"}});
  expect_rejected({
      {"/" + std::string(2731, '"'), "canonical request-target longer than 8192 bytes"},
      {"/" + std::string(2730, '"') + "a?", "canonical request-target longer than 8192 bytes"},
  });
  // Escapes that stay escapes and dot removal only make it shorter.
  const std::string escaped = "/" + repeat("%C3%A9", (kMaxTargetLength - 1) / 6);
  const auto result = normalize(escaped);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->forward_target(), escaped);
}

TEST(HttpPathNormalize, SegmentCountIsCapped) {
  const std::string most = repeat("/a", kMaxPathSegments);
  expect_accepted({
      {most, most, most},
      {most + "/", most + "/", most + "/"},
      {most + "//", most + "/", most + "/"},
      {repeat("//a", kMaxPathSegments), most, most},
      {repeat("/a", kMaxPathSegments - 1) + "/..", repeat("/a", kMaxPathSegments - 2) + "/",
       repeat("/a", kMaxPathSegments - 2) + "/"},
      {"/" + repeat("/", 4000) + "a", "/a", "/a"},  // empty segments do not count
  });
  expect_rejected({
      {most + "/a", "more than 256 path segments"},
      {repeat("/a/..", 129), "more than 256 path segments"},  // dot segments count
      {repeat("/.", 257), "more than 256 path segments"},
      {repeat("/%2e", 257), "more than 256 path segments"},
  });
  // The count applies to the path only.
  expect_accepted({{most + "?" + repeat("/a", 300), most, most + "?" + repeat("/a", 300)}});
}

// ---- the policy ----

Resource resource(std::string path, MatchKind match = MatchKind::path_prefix,
                  std::vector<std::string> methods = {}) {
  Resource r;
  r.path = std::move(path);
  r.match = match;
  r.methods = std::move(methods);
  return r;
}

bool admits(const ResourcePolicy& policy, std::string_view path) {
  return policy.check("GET", path, false).allowed;
}

// The message of the std::invalid_argument the constructor throws, or "" if it does not throw.
std::string construction_error(std::vector<Resource> resources) {
  try {
    ResourcePolicy policy(std::move(resources));
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(HttpResourcePolicy, ExactMatchesOnlyTheSamePath) {
  const ResourcePolicy policy({resource("/a/b", MatchKind::exact)});
  EXPECT_TRUE(admits(policy, "/a/b"));
  EXPECT_FALSE(admits(policy, "/a/b/"));
  EXPECT_FALSE(admits(policy, "/a/bc"));
  EXPECT_FALSE(admits(policy, "/a/b/c"));
  EXPECT_FALSE(admits(policy, "/a"));
  EXPECT_FALSE(admits(policy, "/a/"));
  EXPECT_FALSE(admits(policy, "/A/B"));
  EXPECT_FALSE(admits(policy, "/"));
}

TEST(HttpResourcePolicy, PrefixIsAPlainStringPrefix) {
  const ResourcePolicy policy({resource("/a/b", MatchKind::prefix)});
  EXPECT_TRUE(admits(policy, "/a/b"));
  EXPECT_TRUE(admits(policy, "/a/b/"));
  EXPECT_TRUE(admits(policy, "/a/b/c/d"));
  EXPECT_TRUE(admits(policy, "/a/bc"));  // the reference product's behaviour
  EXPECT_TRUE(admits(policy, "/a/b.json"));
  EXPECT_FALSE(admits(policy, "/a"));
  EXPECT_FALSE(admits(policy, "/a/"));
  EXPECT_FALSE(admits(policy, "/a/c"));
  EXPECT_FALSE(admits(policy, "/A/b"));
}

TEST(HttpResourcePolicy, PathPrefixRespectsSegments) {
  const ResourcePolicy policy({resource("/a/b", MatchKind::path_prefix)});
  EXPECT_TRUE(admits(policy, "/a/b"));
  EXPECT_TRUE(admits(policy, "/a/b/"));
  EXPECT_TRUE(admits(policy, "/a/b/c"));
  EXPECT_TRUE(admits(policy, "/a/b/c/d/"));
  EXPECT_FALSE(admits(policy, "/a/bc"));
  EXPECT_FALSE(admits(policy, "/a/b.json"));
  EXPECT_FALSE(admits(policy, "/a/b;x"));
  EXPECT_FALSE(admits(policy, "/a"));
  EXPECT_FALSE(admits(policy, "/a/"));
  EXPECT_FALSE(admits(policy, "/"));
  EXPECT_FALSE(admits(policy, "/a/B"));
}

TEST(HttpResourcePolicy, PathPrefixEndingInSlashAdmitsItselfAndBelow) {
  const ResourcePolicy policy({resource("/a/b/", MatchKind::path_prefix)});
  EXPECT_TRUE(admits(policy, "/a/b/"));
  EXPECT_TRUE(admits(policy, "/a/b/c"));
  EXPECT_TRUE(admits(policy, "/a/b/c/"));
  EXPECT_FALSE(admits(policy, "/a/b"));
  EXPECT_FALSE(admits(policy, "/a/bc"));
  EXPECT_FALSE(admits(policy, "/a/"));
}

TEST(HttpResourcePolicy, RootResources) {
  const ResourcePolicy everything({resource("/", MatchKind::path_prefix)});
  EXPECT_TRUE(admits(everything, "/"));
  EXPECT_TRUE(admits(everything, "/x"));
  EXPECT_TRUE(admits(everything, "/x/y/"));
  const ResourcePolicy root_only({resource("/", MatchKind::exact)});
  EXPECT_TRUE(admits(root_only, "/"));
  EXPECT_FALSE(admits(root_only, "/x"));
  const ResourcePolicy root_prefix({resource("/", MatchKind::prefix)});
  EXPECT_TRUE(admits(root_prefix, "/x/y"));
}

TEST(HttpResourcePolicy, DeniesByDefault) {
  const ResourcePolicy empty({});
  const Decision nothing = empty.check("GET", "/x", false);
  EXPECT_FALSE(nothing.allowed);
  EXPECT_EQ(nothing.resource, nullptr);
  EXPECT_EQ(nothing.reason, "no resource matches /x");

  const ResourcePolicy policy({resource("/api"), resource("/static/", MatchKind::prefix)});
  const Decision other = policy.check("GET", "/secret", false);
  EXPECT_FALSE(other.allowed);
  EXPECT_EQ(other.resource, nullptr);
  EXPECT_EQ(other.reason, "no resource matches /secret");
  // The path appears in its canonical encoding: safe for a log line.
  EXPECT_EQ(policy.check("GET", "/caf\xC3\xA9 x\"", false).reason, "no resource matches /caf%C3%A9%20x%22");
}

TEST(HttpResourcePolicy, AllowedDecisionNamesTheResource) {
  const ResourcePolicy policy({resource("/static"), resource("/api")});
  const Decision decision = policy.check("GET", "/api/users", false);
  EXPECT_TRUE(decision.allowed);
  EXPECT_EQ(decision.resource, &policy.resources()[1]);
  EXPECT_EQ(decision.reason, "");
}

TEST(HttpResourcePolicy, MethodListsAreExactAndCaseSensitive) {
  const ResourcePolicy policy({resource("/api", MatchKind::path_prefix, {"GET", "POST"})});
  EXPECT_TRUE(policy.check("GET", "/api/x", false).allowed);
  EXPECT_TRUE(policy.check("POST", "/api", false).allowed);

  const Decision del = policy.check("DELETE", "/api/x", false);
  EXPECT_FALSE(del.allowed);
  EXPECT_EQ(del.resource, &policy.resources()[0]);
  EXPECT_EQ(del.reason, "method DELETE not allowed on /api");
  // No implicit HEAD for GET.
  EXPECT_EQ(policy.check("HEAD", "/api", false).reason, "method HEAD not allowed on /api");
  EXPECT_EQ(policy.check("get", "/api", false).reason, "method get not allowed on /api");
  EXPECT_EQ(policy.check("", "/api", false).reason, "method  not allowed on /api");
  EXPECT_EQ(policy.check("GET ", "/api", false).reason, "method GET\\x20 not allowed on /api");
  EXPECT_EQ(policy.check("G\r\nX", "/api", false).reason, "method G\\x0D\\x0AX not allowed on /api");

  const ResourcePolicy with_head({resource("/api", MatchKind::path_prefix, {"GET", "HEAD"})});
  EXPECT_TRUE(with_head.check("HEAD", "/api", false).allowed);

  const ResourcePolicy any({resource("/api")});
  for (const char* method : {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND", "X-Y"}) {
    EXPECT_TRUE(any.check(method, "/api", false).allowed) << method;
  }
}

TEST(HttpResourcePolicy, SuspendedResourcesMatchAndDeny) {
  Resource suspended = resource("/api");
  suspended.enabled = false;
  const ResourcePolicy policy({suspended});
  const Decision decision = policy.check("GET", "/api/x", false);
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.resource, &policy.resources()[0]);
  EXPECT_EQ(decision.reason, "resource /api is suspended");

  // A suspended resource decides when it is the most specific match...
  Resource admin = resource("/api/admin");
  admin.enabled = false;
  const ResourcePolicy nested({resource("/api"), admin});
  EXPECT_EQ(nested.check("GET", "/api/admin/users", false).reason, "resource /api/admin is suspended");
  EXPECT_TRUE(nested.check("GET", "/api/administrator", false).allowed);
  EXPECT_TRUE(nested.check("GET", "/api/users", false).allowed);

  // ...and not when a more specific enabled one matches.
  Resource outer = resource("/api");
  outer.enabled = false;
  const ResourcePolicy inner_enabled({outer, resource("/api/public")});
  EXPECT_TRUE(inner_enabled.check("GET", "/api/public/x", false).allowed);
  EXPECT_EQ(inner_enabled.check("GET", "/api/x", false).reason, "resource /api is suspended");

  // Suspension is reported before a method or WebSocket problem.
  Resource strict = resource("/s", MatchKind::path_prefix, {"GET"});
  strict.enabled = false;
  const ResourcePolicy strict_policy({strict});
  EXPECT_EQ(strict_policy.check("POST", "/s", true).reason, "resource /s is suspended");
}

TEST(HttpResourcePolicy, WebSocketUpgradeNeedsTheFlag) {
  Resource ws = resource("/ws", MatchKind::path_prefix, {"GET"});
  ws.websocket = true;
  const ResourcePolicy policy({resource("/api"), ws});

  const Decision denied = policy.check("GET", "/api/stream", true);
  EXPECT_FALSE(denied.allowed);
  EXPECT_EQ(denied.resource, &policy.resources()[0]);
  EXPECT_EQ(denied.reason, "WebSocket upgrade not allowed on /api");
  EXPECT_TRUE(policy.check("GET", "/api/stream", false).allowed);

  EXPECT_TRUE(policy.check("GET", "/ws/chat", true).allowed);
  EXPECT_TRUE(policy.check("GET", "/ws/chat", false).allowed);
  // The method list still applies, and is reported first.
  EXPECT_EQ(policy.check("POST", "/ws/chat", true).reason, "method POST not allowed on /ws");
}

TEST(HttpResourcePolicy, MostSpecificResourceDecides) {
  const ResourcePolicy policy({
      resource("/", MatchKind::path_prefix, {"GET"}),
      resource("/api", MatchKind::path_prefix, {"GET", "POST"}),
      resource("/api/admin", MatchKind::path_prefix, {"DELETE"}),
      resource("/api/admin/", MatchKind::prefix, {"PUT"}),
  });
  const auto& r = policy.resources();
  EXPECT_EQ(policy.check("GET", "/index.html", false).resource, &r[0]);
  EXPECT_EQ(policy.check("POST", "/index.html", false).reason, "method POST not allowed on /");
  EXPECT_EQ(policy.check("POST", "/api/x", false).resource, &r[1]);
  EXPECT_TRUE(policy.check("POST", "/api/x", false).allowed);
  EXPECT_EQ(policy.check("POST", "/api/adminx", false).resource, &r[1]);  // not below /api/admin
  EXPECT_EQ(policy.check("GET", "/api/admin", false).resource, &r[2]);
  EXPECT_EQ(policy.check("GET", "/api/admin", false).reason, "method GET not allowed on /api/admin");
  EXPECT_TRUE(policy.check("DELETE", "/api/admin", false).allowed);
  EXPECT_EQ(policy.check("PUT", "/api/admin/x", false).resource, &r[3]);
  EXPECT_TRUE(policy.check("PUT", "/api/admin/x", false).allowed);
  EXPECT_FALSE(policy.check("DELETE", "/api/admin/x", false).allowed);

  // The order of configuration does not matter when the lengths differ.
  const ResourcePolicy reversed({
      resource("/api/admin", MatchKind::path_prefix, {"DELETE"}),
      resource("/api", MatchKind::path_prefix, {"GET", "POST"}),
  });
  EXPECT_EQ(reversed.check("GET", "/api/admin/x", false).resource, &reversed.resources()[0]);
  EXPECT_EQ(reversed.check("GET", "/api/x", false).resource, &reversed.resources()[1]);
}

TEST(HttpResourcePolicy, ExactBeatsPrefixOfTheSameLength) {
  for (const bool exact_first : {true, false}) {
    SCOPED_TRACE(exact_first ? "exact first" : "exact last");
    std::vector<Resource> resources{resource("/a", MatchKind::prefix, {"POST"}),
                                    resource("/a", MatchKind::path_prefix, {"PUT"}),
                                    resource("/a", MatchKind::exact, {"GET"})};
    if (exact_first) std::swap(resources.front(), resources.back());
    const ResourcePolicy policy(resources);
    const auto decides = [&](std::string_view path) { return policy.check("GET", path, false).resource; };
    ASSERT_NE(decides("/a"), nullptr);
    EXPECT_EQ(decides("/a")->match, MatchKind::exact);
    ASSERT_NE(decides("/a/x"), nullptr);
    EXPECT_EQ(decides("/a/x")->match, MatchKind::path_prefix);  // segment-aware beats plain prefix
    ASSERT_NE(decides("/ab"), nullptr);
    EXPECT_EQ(decides("/ab")->match, MatchKind::prefix);
    EXPECT_TRUE(policy.check("GET", "/a", false).allowed);
    EXPECT_FALSE(policy.check("POST", "/a", false).allowed);
    EXPECT_TRUE(policy.check("POST", "/ab", false).allowed);
  }
  // Identical resources: the earlier one decides.
  const ResourcePolicy twins({resource("/t", MatchKind::exact, {"GET"}), resource("/t", MatchKind::exact)});
  EXPECT_EQ(twins.check("GET", "/t", false).resource, &twins.resources()[0]);
}

TEST(HttpResourcePolicy, ResourcePathsAreNormalised) {
  const ResourcePolicy policy({
      resource("/a/./b//c/"),
      resource("/%7Euser/x/../y", MatchKind::exact),
      resource("/caf%c3%a9"),
      resource("/sp%20ace"),
  });
  const auto& r = policy.resources();
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].path, "/a/b/c/");
  EXPECT_EQ(r[1].path, "/~user/y");
  EXPECT_EQ(r[2].path, "/caf\xC3\xA9");
  EXPECT_EQ(r[3].path, "/sp ace");
  EXPECT_TRUE(admits(policy, normalize("/~user/y")->path));
  EXPECT_TRUE(admits(policy, normalize("/caf%C3%A9/menu")->path));
  EXPECT_TRUE(admits(policy, normalize("/sp%20ace/x")->path));
  EXPECT_EQ(policy.check("GET", "/sp ace/x", true).reason, "WebSocket upgrade not allowed on /sp%20ace");
}

TEST(HttpResourcePolicy, InvalidResourcesAreRejectedWithTheirIndex) {
  EXPECT_EQ(construction_error({resource("/ok"), resource("")}),
            "resource 1: invalid path: empty request-target");
  EXPECT_EQ(construction_error({resource("api")}),
            "resource 0: invalid path: request-target is not in origin-form (must start with '/')");
  EXPECT_EQ(construction_error({resource("/a/../..")}),
            "resource 0: invalid path: path climbs above the root");
  EXPECT_EQ(construction_error({resource("/a%2fb")}),
            "resource 0: invalid path: ambiguous encoding %2f in path");
  EXPECT_EQ(construction_error({resource("/a b")}),
            "resource 0: invalid path: invalid character 0x20 in path");
  EXPECT_EQ(construction_error({resource("/a\\b")}), "resource 0: invalid path: backslash in path");
  EXPECT_EQ(construction_error({resource("/a#b")}),
            "resource 0: invalid path: fragment ('#') in request-target");
  EXPECT_EQ(construction_error({resource("/a?b")}), "resource 0: invalid path: a query is not allowed");
  EXPECT_EQ(construction_error({resource("/a?")}), "resource 0: invalid path: a query is not allowed");
  EXPECT_EQ(
      construction_error({resource("/a"), resource("/b"), resource("/c", MatchKind::exact, {"GET", "GE T"})}),
      "resource 2: method \"GE\\x20T\" is not a token (RFC 9110)");
  EXPECT_EQ(construction_error({resource("/c", MatchKind::exact, {""})}),
            "resource 0: method \"\" is not a token (RFC 9110)");
  EXPECT_EQ(construction_error({resource("/c", MatchKind::exact, {"GET\r\n"})}),
            "resource 0: method \"GET\\x0D\\x0A\" is not a token (RFC 9110)");
  EXPECT_EQ(construction_error({resource("/c", MatchKind::exact, {"G(T"})}),
            "resource 0: method \"G\\x28T\" is not a token (RFC 9110)");
  EXPECT_EQ(
      construction_error({resource("/c", MatchKind::exact, {"M-SEARCH", "X_Y", "!#$%&'*+-.^_`|~09az"})}), "");
}

TEST(HttpResourcePolicy, PathsNotInNormalFormAreDenied) {
  const ResourcePolicy policy({resource("/allowed"), resource("/", MatchKind::exact)});
  EXPECT_EQ(policy.check("GET", "/allowed/../secret", false).reason,
            "path /allowed/../secret is not normalised");
  EXPECT_EQ(policy.check("GET", "/allowed/./x", false).reason, "path /allowed/./x is not normalised");
  EXPECT_EQ(policy.check("GET", "/allowed//x", false).reason, "path /allowed//x is not normalised");
  EXPECT_EQ(policy.check("GET", "/allowed/..", false).reason, "path /allowed/.. is not normalised");
  EXPECT_EQ(policy.check("GET", "", false).reason, "path  is not normalised");
  EXPECT_EQ(policy.check("GET", "allowed", false).reason, "path allowed is not normalised");
  EXPECT_EQ(policy.check("GET", "/allowed\\..\\x", false).reason, "path /allowed%5C..%5Cx is not normalised");
  EXPECT_EQ(policy.check("GET", "/allowed/\nx", false).reason, "path /allowed/%0Ax is not normalised");
  EXPECT_EQ(policy.check("GET", "/allowed\0"s, false).reason, "path /allowed%00 is not normalised");
  EXPECT_EQ(policy.check("GET", "/allowed/x", false).resource, &policy.resources()[0]);
  EXPECT_TRUE(policy.check("GET", "/", false).allowed);
}

// ---- normalisation and policy together ----

// What the connector does with a request-target: normalise, then check. Returns true only if the
// request would be forwarded.
bool forwarded(const ResourcePolicy& policy, std::string_view target) {
  std::string error;
  const auto normalized = normalize_target(target, error);
  if (!normalized) return false;
  return policy.check("GET", normalized->path, false).allowed;
}

TEST(HttpResourcePolicy, NoSpellingReachesASecretOutsideTheAllowedPrefix) {
  const ResourcePolicy policy({resource("/allowed")});
  const std::vector<std::string> attacks = {
      "/allowed/../secret",
      "/allowed/%2e%2e/secret",
      "/allowed/%2E%2E%2Fsecret",
      "/allowed/%2e%2e%2fsecret",
      "/allowed//..//secret",
      "/allowed/.%2e/secret",
      "/allowed/%2e./secret",
      "/allowed\\..\\secret",
      "/allowed/..\\secret",
      "/allowed/%5c..%5csecret",
      "/allowed;/../secret",
      "/allowed/..;/secret",
      "/allowed/..%3b/secret",
      "/allowed/%c0%ae%c0%ae/secret",
      "/allowed/%c0%ae%c0%ae%c0%afsecret",
      "/allowed/%e0%80%ae%e0%80%ae/secret",
      "/allowed/..%c0%afsecret",
      "/allowed/..%00/secret",
      "/allowed/..%20/secret",
      "/allowed/.../secret",
      "/allowed/../../secret",
      "/allowed/x/../../secret",
      "/allowed%2f..%2fsecret",
      "/allowedsecret",
      "/allowed.secret",
      "/allowed;x",
      "/allowed%3Bx",
      "/Allowed",
      "/allowed#/../../secret",
      "//allowed/../secret",
      "/./allowed/../secret",
      "/secret?/allowed",
      "/secret%3F/allowed",
      "/secret#/allowed",
      "http://internal/allowed",
      "/allowed/..?x",
  };
  for (const std::string& attack : attacks) {
    EXPECT_FALSE(forwarded(policy, attack)) << visible(attack);
  }
  for (const char* legitimate :
       {"/allowed", "/allowed/", "/allowed/x", "/allowed/./x", "/allowed//x", "/allowed/x/../y",
        "/allowed?q=/../secret", "/allowed/%252e%252e/secret", "/./allowed", "/secret/../allowed/x"}) {
    EXPECT_TRUE(forwarded(policy, legitimate)) << legitimate;
  }
}

// ---- randomised: hostile bytes never crash, accepted targets are fixed points ----

// Invariants of every accepted result: the path is in normal form, the forwarded target is plain
// visible ASCII, and normalising it gives the same result (idempotence).
void check_accepted(std::string_view target, const NormalizedTarget& result) {
  SCOPED_TRACE("target: " + visible(target));
  ASSERT_FALSE(result.path.empty());
  ASSERT_EQ(result.path.front(), '/');
  EXPECT_EQ(result.path.find("//"), std::string::npos);
  EXPECT_EQ(result.path.find('\\'), std::string::npos);
  std::size_t pos = 1;
  while (pos < result.path.size()) {
    const std::size_t end = std::min(result.path.find('/', pos), result.path.size());
    const std::string_view segment = std::string_view(result.path).substr(pos, end - pos);
    EXPECT_NE(segment, ".");
    EXPECT_NE(segment, "..");
    // Nor does a backend that drops ";parameters" or trims dots and spaces see a dot segment.
    const std::string_view head = segment.substr(0, segment.find(';'));
    EXPECT_FALSE(head.find('.') != std::string_view::npos &&
                 head.find_first_not_of(". ") == std::string_view::npos)
        << visible(segment);
    pos = end + 1;
  }
  const std::string forward = result.forward_target();
  EXPECT_LE(forward.size(), kMaxTargetLength);
  for (unsigned char c : forward) {
    EXPECT_TRUE(c > 0x20 && c < 0x7f && c != '#') << visible(forward);
  }
  std::string error;
  const auto again = normalize_target(forward, error);
  ASSERT_TRUE(again.has_value()) << error << " for forwarded " << visible(forward);
  EXPECT_EQ(*again, result);
  EXPECT_EQ(again->forward_target(), forward);
}

void check_rejected(std::string_view target, const std::string& error) {
  SCOPED_TRACE("target: " + visible(target));
  EXPECT_FALSE(error.empty());
  // Error texts are safe to log and to send back: visible ASCII only.
  for (unsigned char c : error) {
    EXPECT_TRUE(c >= 0x20 && c < 0x7f) << visible(error);
  }
}

struct RandomRun {
  std::size_t accepted = 0;
  std::size_t rejected = 0;
};

void run_one(const ResourcePolicy& policy, std::string_view target, RandomRun& run) {
  std::string error;
  const auto result = normalize_target(target, error);
  if (!result) {
    ++run.rejected;
    check_rejected(target, error);
    return;
  }
  ++run.accepted;
  check_accepted(target, *result);
  // The segment-aware prefix admits exactly the paths at or below /allowed.
  const bool below = result->path == "/allowed" || result->path.starts_with("/allowed/");
  EXPECT_EQ(policy.check("GET", result->path, false).allowed, below) << visible(target);
}

TEST(HttpPathNormalizeRandom, RandomBytesNeverCrashAndAcceptedTargetsAreFixedPoints) {
  std::mt19937 rng(20240611);
  const ResourcePolicy policy({resource("/allowed")});
  // Bytes weighted towards the ones that matter, then any byte at all.
  const std::string interesting = "/./%2e%2E5cCfF0aA?#;\\ ";
  RandomRun run;
  for (int i = 0; i < 40'000; ++i) {
    const std::size_t length = std::uniform_int_distribution<std::size_t>(0, 48)(rng);
    std::string target;
    if (rng() % 8 != 0) target += '/';
    while (target.size() < length) {
      if (rng() % 3 == 0) {
        target += static_cast<char>(rng() & 0xFF);
      } else {
        target += interesting[rng() % interesting.size()];
      }
    }
    run_one(policy, target, run);
    if (HasFatalFailure() || HasFailure()) return;
  }
  EXPECT_GT(run.accepted, 1000u);
  EXPECT_GT(run.rejected, 1000u);
}

TEST(HttpPathNormalizeRandom, RandomTraversalTokensNeverCrashAndAcceptedTargetsAreFixedPoints) {
  std::mt19937 rng(8192);
  const ResourcePolicy policy({resource("/allowed")});
  // Tokens that keep a target acceptable unless it climbs above the root...
  const std::vector<std::string> benign = {
      "/",        "//", ".",   "..",  "%2e", "%2E", "%25", "%252e", "a",   "allowed", "secret", ";",
      "%3b",      "?",  "%20", "x=1", "&",   "\"",  "%22", "~",     "%7e", "%c3%a9",  "/../",   "/./",
      "/%2e%2e/", "@",  ":",   "[",   "]",   "+",   "=",   "%3F",   "%23", "%41",     "..a",    ".b",
  };
  // ...and tokens that make it an error wherever they stand.
  const std::vector<std::string> hostile = {
      "%2f", "%2F", "%5c",    "%5C",    "%",      "%4",  "%zz",  "#",    "\\",  " ",
      "%00", "%0a", "%c0%ae", "%c0%af", "%e2%82", "%ff", "\xc3", "\x7f", "..;", "...",
  };
  RandomRun run;
  for (int i = 0; i < 60'000; ++i) {
    const std::size_t count = std::uniform_int_distribution<std::size_t>(0, 24)(rng);
    const bool with_hostile = rng() % 2 == 0;
    std::string target;
    if (rng() % 16 != 0) target += (rng() % 2 == 0) ? "/allowed/" : "/";
    for (std::size_t k = 0; k < count; ++k) {
      if (with_hostile && rng() % 8 == 0) {
        target += hostile[rng() % hostile.size()];
      } else {
        target += benign[rng() % benign.size()];
      }
    }
    run_one(policy, target, run);
    if (HasFatalFailure() || HasFailure()) return;
  }
  EXPECT_GT(run.accepted, 1000u);
  EXPECT_GT(run.rejected, 1000u);
}

TEST(HttpPathNormalizeRandom, LongRandomTargetsStayWithinTheLimits) {
  std::mt19937 rng(4096);
  const ResourcePolicy policy({resource("/allowed")});
  const std::vector<std::string> tokens = {"/", "a", "..", ".", "%2e", "\"", "%c3%a9", "bb", "?", "%41"};
  RandomRun run;
  for (int i = 0; i < 400; ++i) {
    const std::size_t length = std::uniform_int_distribution<std::size_t>(7000, 9000)(rng);
    std::string target = "/allowed";
    while (target.size() < length) target += tokens[rng() % tokens.size()];
    run_one(policy, target, run);
    if (HasFatalFailure() || HasFailure()) return;
  }
  EXPECT_GT(run.rejected, 0u);
}

}  // namespace
