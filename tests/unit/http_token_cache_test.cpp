// OAuth2 client credentials for HTTP destinations: the token request (form encoding, both client
// authentication styles), the token response (every success, error and malformed case), and the token
// cache (freshness, renewal inside the margin, expiry, failures, invalidation, single flight across
// threads).
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "token_cache.hpp"

using namespace gw;
using namespace gw::http;
using namespace std::chrono_literals;

namespace {

const Clock::time_point kNow{std::chrono::hours(1000)};

// --- token request ---------------------------------------------------------------------------------

TEST(TokenRequest, BasicWithoutScope) {
  const TokenRequest request = make_client_credentials_request("abc", "def", "", ClientAuth::basic);
  EXPECT_EQ(request.body, "grant_type=client_credentials");
  EXPECT_EQ(request.authorization, "Basic YWJjOmRlZg==");  // base64("abc:def")
}

TEST(TokenRequest, BasicEncodesIdAndSecretBeforeBase64) {
  const TokenRequest request =
      make_client_credentials_request("my client", "p@ss:w/rd+&=%\xC3\xA9~", "read write", ClientAuth::basic);
  EXPECT_EQ(request.body, "grant_type=client_credentials&scope=read+write");
  // base64("my+client:p%40ss%3Aw%2Frd%2B%26%3D%25%C3%A9%7E")
  EXPECT_EQ(request.authorization, "Basic bXkrY2xpZW50OnAlNDBzcyUzQXclMkZyZCUyQiUyNiUzRCUyNSVDMyVBOSU3RQ==");
}

TEST(TokenRequest, BasicBase64Padding) {
  EXPECT_EQ(make_client_credentials_request("a", "b", "", ClientAuth::basic).authorization, "Basic YTpi");
  EXPECT_EQ(make_client_credentials_request("ab", "c", "", ClientAuth::basic).authorization,
            "Basic YWI6Yw==");
  EXPECT_EQ(make_client_credentials_request("ab", "cd", "", ClientAuth::basic).authorization,
            "Basic YWI6Y2Q=");
  EXPECT_EQ(make_client_credentials_request("", "", "", ClientAuth::basic).authorization, "Basic Og==");
}

TEST(TokenRequest, PostPutsCredentialsInTheBody) {
  const TokenRequest request = make_client_credentials_request("my client", "p@ss:w/rd+&=%\xC3\xA9~",
                                                               "api://x/.default", ClientAuth::post);
  EXPECT_EQ(request.body,
            "grant_type=client_credentials&scope=api%3A%2F%2Fx%2F.default&client_id=my+client"
            "&client_secret=p%40ss%3Aw%2Frd%2B%26%3D%25%C3%A9%7E");
  EXPECT_EQ(request.authorization, "");
}

TEST(TokenRequest, PostWithoutScope) {
  const TokenRequest request = make_client_credentials_request("id", "secret", "", ClientAuth::post);
  EXPECT_EQ(request.body, "grant_type=client_credentials&client_id=id&client_secret=secret");
  EXPECT_EQ(request.authorization, "");
}

TEST(TokenRequest, FormEncoding) {
  // The example of RFC 6749 Appendix B, and the characters left as they are.
  EXPECT_EQ(
      make_client_credentials_request(" %&+\xC2\xA3\xE2\x82\xAC", "AZaz09*-._", "", ClientAuth::post).body,
      "grant_type=client_credentials&client_id=+%25%26%2B%C2%A3%E2%82%AC&client_secret=AZaz09*-._");
  EXPECT_EQ(make_client_credentials_request("a", "b", std::string("x\0y\r\n=\x7F", 7), ClientAuth::post).body,
            "grant_type=client_credentials&scope=x%00y%0D%0A%3D%7F&client_id=a&client_secret=b");
}

// --- token response: success -----------------------------------------------------------------------

TokenResult parse(std::string_view body, int status = 200) {
  return parse_token_response(status, body, kNow);
}

TEST(TokenResponse, MinimalAnswerGetsDefaults) {
  const TokenResult result = parse(R"({"access_token":"abc"})");
  ASSERT_TRUE(result.token) << result.error;
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(result.token->value, "abc");
  EXPECT_EQ(result.token->type, "Bearer");
  EXPECT_EQ(result.token->lifetime, 3600s);
  EXPECT_EQ(result.token->expires_at, kNow + 3600s);
}

TEST(TokenResponse, FullAnswer) {
  const TokenResult result =
      parse(R"({"access_token":"eyJhbGciOi.x-y_z~+/=","token_type":"Bearer","expires_in":120,"scope":"a b",)"
            R"("refresh_token":"r","extra":{"nested":[1,2]}})");
  ASSERT_TRUE(result.token) << result.error;
  EXPECT_EQ(result.token->value, "eyJhbGciOi.x-y_z~+/=");
  EXPECT_EQ(result.token->type, "Bearer");
  EXPECT_EQ(result.token->lifetime, 120s);
  EXPECT_EQ(result.token->expires_at, kNow + 120s);
}

TEST(TokenResponse, TokenTypeBearerInAnyCase) {
  for (const char* type : {"\"bearer\"", "\"BEARER\"", "\"BeArEr\"", "\"Bearer\"", "null"}) {
    const TokenResult result = parse(std::string(R"({"access_token":"abc","token_type":)") + type + "}");
    ASSERT_TRUE(result.token) << type << ": " << result.error;
    EXPECT_EQ(result.token->type, "Bearer") << type;
  }
}

TEST(TokenResponse, ExpiresInForms) {
  const std::chrono::seconds year{365 * 24 * 3600};
  const std::vector<std::pair<std::string, std::chrono::seconds>> cases = {
      {"1", 1s},
      {"3600", 3600s},
      {"\"3600\"", 3600s},
      {"\"0003600\"", 3600s},
      {"\"1\"", 1s},
      {"59.9", 59s},
      {"1.0", 1s},
      {"1e3", 1000s},
      {"null", 3600s},
      {"31536000", year},
      {"31536001", year},
      {"9223372036854775807", year},
      {"18446744073709551615", year},
      {"123456789012345678901234567890", year},
      {"1e300", year},
      {"\"99999999999999999999999999999999999999999999\"", year},
  };
  for (const auto& [expires_in, lifetime] : cases) {
    const TokenResult result = parse(R"({"access_token":"abc","expires_in":)" + expires_in + "}");
    ASSERT_TRUE(result.token) << expires_in << ": " << result.error;
    EXPECT_EQ(result.token->lifetime, lifetime) << expires_in;
    EXPECT_EQ(result.token->expires_at, kNow + lifetime) << expires_in;
  }
}

TEST(TokenResponse, ExactlyTheSizeLimitIsAccepted) {
  std::string body = R"({"access_token":"abc")";
  body += std::string(kMaxTokenResponseSize - body.size() - 1, ' ') + "}";
  ASSERT_EQ(body.size(), kMaxTokenResponseSize);
  EXPECT_TRUE(parse(body).token);
}

// --- token response: errors ------------------------------------------------------------------------

// Expects an error that contains `expected` and never the token.
void expect_error(const TokenResult& result, std::string_view expected, std::string_view input) {
  EXPECT_FALSE(result.token) << input;
  EXPECT_NE(result.error.find(expected), std::string::npos) << input << " -> " << result.error;
  EXPECT_EQ(result.error.find("SECRET"), std::string::npos) << input << " -> " << result.error;
}

TEST(TokenResponse, InvalidExpiresIn) {
  for (const char* expires_in : {"0",
                                 "-1",
                                 "-9223372036854775808",
                                 "-1e300",
                                 "0.5",
                                 "0.0",
                                 "-0.0",
                                 "\"0\"",
                                 "\"-5\"",
                                 "\"\"",
                                 "\" 60\"",
                                 "\"60 \"",
                                 "\"6e1\"",
                                 "\"1.5\"",
                                 "\"+60\"",
                                 "true",
                                 "[]",
                                 "{}",
                                 "[60]",
                                 "{\"value\":60}"}) {
    const std::string body = std::string(R"({"access_token":"SECRET","expires_in":)") + expires_in + "}";
    expect_error(parse(body), "expires_in", body);
  }
}

TEST(TokenResponse, InvalidAccessToken) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({})", "no access_token"},
      {R"({"token_type":"Bearer","expires_in":60})", "no access_token"},
      {R"({"access_token":null})", "no access_token"},
      {R"({"access_token":""})", "empty"},
      {R"({"access_token":123})", "not a string"},
      {R"({"access_token":true})", "not a string"},
      {R"({"access_token":["SECRET"]})", "not a string"},
      {R"({"access_token":{"value":"SECRET"}})", "not a string"},
      {R"({"access_token":"SECRET with space"})", "not allowed in an HTTP header"},
      {R"({"access_token":"SECRET\r\nX-Injected: 1"})", "not allowed in an HTTP header"},
      {R"({"access_token":"SECRET\u0000"})", "not allowed in an HTTP header"},
      {R"({"access_token":"SECRET\u007f"})", "not allowed in an HTTP header"},
      {R"({"access_token":"SECRET\u00e9"})", "not allowed in an HTTP header"},
  };
  for (const auto& [body, expected] : cases) {
    const TokenResult result = parse(body);
    expect_error(result, expected, body);
    EXPECT_EQ(result.error.find("Injected"), std::string::npos) << result.error;
  }
}

TEST(TokenResponse, UnsupportedTokenType) {
  for (const char* type : {"\"mac\"", "\"DPoP\"", "\"N_A\"", "\"\"", "\"bearer \"", "\"bearerx\""}) {
    const std::string body = std::string(R"({"access_token":"SECRET","token_type":)") + type + "}";
    expect_error(parse(body), "is not supported (only Bearer)", body);
  }
  EXPECT_EQ(parse(R"({"access_token":"SECRET","token_type":"mac"})").error,
            "token_type \"mac\" is not supported (only Bearer)");
  for (const char* type : {"1", "true", "[]", "{}"}) {
    const std::string body = std::string(R"({"access_token":"SECRET","token_type":)") + type + "}";
    expect_error(parse(body), "token_type in the token response is not a string", body);
  }
}

TEST(TokenResponse, MalformedBodies) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not valid JSON"},
      {"<html>Service Unavailable</html>", "not valid JSON"},
      {R"({"access_token":"SECRET")", "not valid JSON"},
      {R"({"access_token":"SECRET"} trailing)", "not valid JSON"},
      {R"({"access_token":"SECRET",})", "not valid JSON"},
      {"{\"access_token\":\"SECRET\xFF\"}", "not valid JSON"},  // invalid UTF-8
      {"[]", "not a JSON object"},
      {R"(["SECRET"])", "not a JSON object"},
      {"null", "not a JSON object"},
      {"42", "not a JSON object"},
      {R"("SECRET")", "not a JSON object"},
  };
  for (const auto& [body, expected] : cases) expect_error(parse(body), expected, body);
}

TEST(TokenResponse, DeepNestingIsHarmless) {
  const std::string nested = std::string(30000, '[') + std::string(30000, ']');
  expect_error(parse(nested), "not a JSON object", "deep array");
  EXPECT_EQ(parse(nested, 400).error, "token endpoint answered HTTP 400");
  const std::string nested_member = R"({"access_token":"SECRET","x":)" + nested + "}";
  EXPECT_TRUE(parse(nested_member).token);
}

TEST(TokenResponse, LargerThanTheLimitIsRefused) {
  std::string body = R"({"access_token":"SECRET")";
  body += std::string(kMaxTokenResponseSize - body.size(), ' ') + "}";
  ASSERT_EQ(body.size(), kMaxTokenResponseSize + 1);
  const TokenResult result = parse(body);
  expect_error(result, "too large", "64 KiB + 1");
  EXPECT_EQ(result.error, "token response too large (65537 bytes, limit 65536)");
}

TEST(TokenResponse, SuccessStatusWithAnErrorObject) {
  EXPECT_EQ(parse(R"({"error":"invalid_client","error_description":"Bad secret"})").error,
            "token response has no access_token: invalid_client (Bad secret)");
}

TEST(TokenResponse, ErrorStatusWithRfc6749ErrorObject) {
  EXPECT_EQ(parse(R"({"error":"invalid_scope","error_description":"Scope x is unknown"})", 400).error,
            "token endpoint answered HTTP 400: invalid_scope (Scope x is unknown)");
  EXPECT_EQ(parse(R"({"error":"invalid_client"})", 401).error,
            "token endpoint answered HTTP 401: invalid_client");
  EXPECT_EQ(parse(R"({"error_description":"no"})", 400).error, "token endpoint answered HTTP 400: (no)");
  EXPECT_FALSE(parse(R"({"error":"invalid_client"})", 401).token);
}

TEST(TokenResponse, ErrorStatusWithoutUsableErrorObject) {
  const std::vector<std::pair<int, std::string>> cases = {
      {401, "<html>Unauthorized</html>"},
      {500, ""},
      {503, "[1,2]"},
      {400, "\"invalid_client\""},
      {400, R"({"error":{"code":"invalid_client","message":"bad"}})"},  // nested error object
      {400, R"({"error":["invalid_client"],"error_description":{"text":"bad"}})"},
      {400, R"({"error":5,"error_description":null})"},
      {400, R"({"error":"invalid_client")"},  // truncated JSON
  };
  for (const auto& [status, body] : cases) {
    const TokenResult result = parse(body, status);
    EXPECT_FALSE(result.token) << body;
    EXPECT_EQ(result.error, "token endpoint answered HTTP " + std::to_string(status)) << body;
  }
}

TEST(TokenResponse, OnlyStatus200IsSuccess) {
  for (const int status : {201, 204, 302, 0, -1, 999}) {
    const TokenResult result = parse(R"({"access_token":"SECRET","expires_in":60})", status);
    expect_error(result, "token endpoint answered HTTP " + std::to_string(status), "status");
  }
}

TEST(TokenResponse, ErrorTextIsMadePrintable) {
  // \n, \t, NUL, DEL, U+0085 (C1), U+202E (right-to-left override), U+2028 (line separator).
  const TokenResult result =
      parse(R"({"error":"a\nb\tc\u0000d\u007fe\u0085f\u202eg\u2028h","error_description":"caf\u00e9"})", 400);
  EXPECT_EQ(result.error, "token endpoint answered HTTP 400: a?b?c?d?e?f?g?h (caf\xC3\xA9)");
}

TEST(TokenResponse, ErrorTextIsCut) {
  const std::string x200(200, 'x');
  EXPECT_EQ(parse(R"({"error":")" + x200 + R"("})", 400).error, "token endpoint answered HTTP 400: " + x200);
  EXPECT_EQ(parse(R"({"error":"e","error_description":")" + std::string(1000, 'x') + R"("})", 400).error,
            "token endpoint answered HTTP 400: e (" + x200 + "...)");
  // Characters, not bytes: 300 two-byte characters are cut to 200.
  std::string accents;
  for (int i = 0; i < 300; ++i) accents += "\xC3\xA9";
  EXPECT_EQ(parse(R"({"error":")" + accents + R"("})", 400).error,
            "token endpoint answered HTTP 400: " + accents.substr(0, 400) + "...");
}

TEST(TokenResponse, ErrorBodyLargerThanTheLimitIsNotRead) {
  const std::string body = R"({"error":"SECRET")" + std::string(70000, ' ') + "}";
  EXPECT_EQ(parse(body, 502).error,
            "token endpoint answered HTTP 502 (body of " + std::to_string(body.size()) + " bytes not read)");
}

// --- token cache -----------------------------------------------------------------------------------

// A clock the test moves by hand; safe to read from any thread.
class FakeClock {
 public:
  Clock::time_point now() const { return Clock::time_point(Clock::duration(ticks_.load())); }
  void advance(Clock::duration by) { ticks_ += by.count(); }
  std::function<Clock::time_point()> function() {
    return [this] { return now(); };
  }

 private:
  std::atomic<Clock::rep> ticks_{Clock::duration(std::chrono::hours(1000)).count()};
};

// Holds coroutines until opened, from any thread. Each waiter's timer is cancelled on its own executor.
class Gate {
 public:
  asio::awaitable<void> wait() {
    const asio::any_io_executor executor = co_await asio::this_coro::executor;
    const auto timer = std::make_shared<asio::steady_timer>(executor, asio::steady_timer::time_point::max());
    if (!enqueue(timer)) co_return;
    error_code ignored;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }

  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    for (const auto& weak : timers_) {
      if (auto timer = weak.lock()) {
        const asio::any_io_executor executor = timer->get_executor();
        asio::post(executor, [timer] { timer->cancel(); });
      }
    }
    timers_.clear();
  }

 private:
  bool enqueue(const std::shared_ptr<asio::steady_timer>& timer) {
    std::lock_guard lock(mutex_);
    if (open_) return false;
    timers_.push_back(timer);  // weak: a timer must not outlive its io_context
    return true;
  }

  std::mutex mutex_;
  bool open_ = false;
  std::vector<std::weak_ptr<asio::steady_timer>> timers_;
};

// A token endpoint: counts fetches, hands out "token-<n>", optionally fails, throws or waits at a gate.
class FakeTokenServer {
 public:
  explicit FakeTokenServer(FakeClock& clock) : clock_(clock) {}

  std::atomic<int> calls{0};
  std::chrono::seconds lifetime = 3600s;
  bool fail = false;
  bool throws = false;
  bool answers_nothing = false;
  Gate* gate = nullptr;
  const asio::execution_context* last_context = nullptr;  // where the latest fetch ran

  TokenFetch fetch() {
    return [this]() -> asio::awaitable<TokenResult> {
      const int call = ++calls;
      const asio::any_io_executor executor = co_await asio::this_coro::executor;
      last_context = &asio::query(executor, asio::execution::context);
      if (gate) co_await gate->wait();
      TokenResult result;
      if (throws) throw std::runtime_error("SECRET in an exception");
      if (answers_nothing) co_return result;
      if (fail) {
        result.error = "fetch " + std::to_string(call) + " failed";
        co_return result;
      }
      AccessToken token;
      token.value = "token-" + std::to_string(call);
      token.type = "Bearer";
      token.lifetime = lifetime;
      token.expires_at = clock_.now() + lifetime;
      result.token = token;
      co_return result;
    };
  }

 private:
  FakeClock& clock_;
};

// One get() started on `executor`; `result` is set once it has completed.
struct Call {
  std::optional<TokenResult> result;
};

std::shared_ptr<Call> start_get(const asio::any_io_executor& executor, TokenCache& cache,
                                const std::string& key, TokenFetch fetch) {
  auto call = std::make_shared<Call>();
  asio::co_spawn(
      executor,
      [call, &cache, key, fetch]() -> asio::awaitable<void> {
        call->result = co_await cache.get(key, fetch);
      },
      asio::detached);
  return call;
}

// The token value a completed call got, or "error: ..." / "pending".
std::string outcome(const Call& call) {
  if (!call.result) return "pending";
  if (!call.result->token) return "error: " + call.result->error;
  return call.result->token->value;
}

class TokenCacheTest : public ::testing::Test {
 protected:
  // Runs a get() on the test's io_context until nothing is ready to run any more.
  std::string get(const std::string& key = "dest/tenant") {
    const auto call = start_get(io.get_executor(), cache, key, server.fetch());
    io.poll();
    io.restart();
    return outcome(*call);
  }

  std::shared_ptr<Call> start(const std::string& key = "dest/tenant") {
    return start_get(io.get_executor(), cache, key, server.fetch());
  }

  void poll() {
    io.poll();
    io.restart();
  }

  // A caller that arrives now waits while the refresh held by `gate` runs, then gets the new token,
  // which was the second fetch.
  void expect_caller_waits_for_the_refresh(Gate& gate) {
    const auto waiter = start();
    poll();
    EXPECT_EQ(outcome(*waiter), "pending");
    gate.open();
    poll();
    EXPECT_EQ(outcome(*waiter), "token-2");
    EXPECT_EQ(server.calls, 2);
  }

  asio::io_context io;
  FakeClock clock;
  FakeTokenServer server{clock};
  TokenCache cache{clock.function()};
};

TEST_F(TokenCacheTest, FirstCallFetchesThenTheTokenIsReused) {
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(get(), "token-1");
  EXPECT_EQ(server.calls, 1);
  EXPECT_EQ(cache.size(), 1u);
  clock.advance(3000s);
  EXPECT_EQ(get(), "token-1");
  EXPECT_EQ(server.calls, 1);
}

TEST_F(TokenCacheTest, GetReturnsTheWholeToken) {
  const auto call = start();
  poll();
  ASSERT_TRUE(call->result && call->result->token);
  EXPECT_EQ(call->result->error, "");
  EXPECT_EQ(call->result->token->type, "Bearer");
  EXPECT_EQ(call->result->token->lifetime, 3600s);
  EXPECT_EQ(call->result->token->expires_at, clock.now() + 3600s);
}

TEST_F(TokenCacheTest, KeysAreIndependent) {
  EXPECT_EQ(get("a/t1"), "token-1");
  EXPECT_EQ(get("a/t2"), "token-2");
  EXPECT_EQ(get("a/t1"), "token-1");
  EXPECT_EQ(get("a/t2"), "token-2");
  EXPECT_EQ(server.calls, 2);
  EXPECT_EQ(cache.size(), 2u);
}

TEST_F(TokenCacheTest, RenewalInsideTheMarginKeepsServingTheOldToken) {
  Gate gate;
  EXPECT_EQ(get(), "token-1");
  server.gate = &gate;

  clock.advance(3539s);  // 61 s before expiry: still fresh (margin = min(60 s, 3600 s / 10))
  EXPECT_EQ(get(), "token-1");
  EXPECT_EQ(server.calls, 1);

  clock.advance(1s);  // exactly at the margin: the first caller starts the one refresh
  EXPECT_EQ(get(), "token-1");
  EXPECT_EQ(server.calls, 2);
  clock.advance(30s);
  EXPECT_EQ(get(), "token-1");
  EXPECT_EQ(get(), "token-1");
  EXPECT_EQ(server.calls, 2);
  EXPECT_EQ(cache.waiting("dest/tenant"), 0u);

  gate.open();
  poll();
  EXPECT_EQ(get(), "token-2");
  EXPECT_EQ(server.calls, 2);
  EXPECT_EQ(cache.size(), 1u);
}

TEST_F(TokenCacheTest, MarginIsATenthOfAShortLifetime) {
  server.lifetime = 100s;
  EXPECT_EQ(get(), "token-1");
  clock.advance(89s);
  EXPECT_EQ(get(), "token-1");
  EXPECT_EQ(server.calls, 1);
  clock.advance(1s);            // 10 s before expiry
  EXPECT_EQ(get(), "token-1");  // the refresh (not gated) has completed by the end of the poll
  EXPECT_EQ(server.calls, 2);
  EXPECT_EQ(get(), "token-2");
}

TEST_F(TokenCacheTest, ExpiredTokenMakesCallersWaitForOneFetch) {
  Gate gate;
  EXPECT_EQ(get(), "token-1");
  server.gate = &gate;
  clock.advance(3600s);

  const auto first = start();
  const auto second = start();
  poll();
  EXPECT_EQ(outcome(*first), "pending");
  EXPECT_EQ(outcome(*second), "pending");
  EXPECT_EQ(server.calls, 2);
  EXPECT_EQ(cache.waiting("dest/tenant"), 2u);

  gate.open();
  poll();
  EXPECT_EQ(outcome(*first), "token-2");
  EXPECT_EQ(outcome(*second), "token-2");
  EXPECT_EQ(server.calls, 2);
  EXPECT_EQ(cache.waiting("dest/tenant"), 0u);
}

TEST_F(TokenCacheTest, RefreshStillRunningWhenTheTokenExpires) {
  Gate gate;
  EXPECT_EQ(get(), "token-1");
  server.gate = &gate;
  clock.advance(3590s);
  EXPECT_EQ(get(), "token-1");  // starts the refresh
  clock.advance(10s);           // expired while the refresh runs: wait for it, no second fetch
  expect_caller_waits_for_the_refresh(gate);
}

TEST_F(TokenCacheTest, FailureIsNotCached) {
  server.fail = true;
  EXPECT_EQ(get(), "error: fetch 1 failed");
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(get(), "error: fetch 2 failed");
  server.fail = false;
  EXPECT_EQ(get(), "token-3");
  EXPECT_EQ(get(), "token-3");
  EXPECT_EQ(server.calls, 3);
}

TEST_F(TokenCacheTest, FailedRefreshKeepsTheStillValidToken) {
  EXPECT_EQ(get(), "token-1");
  server.fail = true;
  clock.advance(3550s);
  EXPECT_EQ(get(), "token-1");  // its refresh fails in the background
  EXPECT_EQ(server.calls, 2);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(get(), "token-1");  // the failure was not cached: another refresh
  EXPECT_EQ(server.calls, 3);

  clock.advance(50s);  // expired now
  EXPECT_EQ(get(), "error: fetch 4 failed");
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(TokenCacheTest, InvalidateDropsTheToken) {
  EXPECT_EQ(get(), "token-1");
  cache.invalidate("dest/tenant", "token-1");
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(get(), "token-2");
  EXPECT_EQ(server.calls, 2);

  // A 401 to the previous token must not drop its successor.
  cache.invalidate("dest/tenant", "token-1");
  cache.invalidate("other", "token-2");
  EXPECT_EQ(get(), "token-2");
  EXPECT_EQ(server.calls, 2);
  EXPECT_EQ(cache.size(), 1u);
}

TEST_F(TokenCacheTest, InvalidateDuringARefreshMakesCallersWait) {
  Gate gate;
  EXPECT_EQ(get(), "token-1");
  server.gate = &gate;
  clock.advance(3590s);
  EXPECT_EQ(get(), "token-1");  // refresh running
  cache.invalidate("dest/tenant", "token-1");
  expect_caller_waits_for_the_refresh(gate);
}

TEST_F(TokenCacheTest, FetchThatThrowsBecomesAnError) {
  server.throws = true;
  EXPECT_EQ(get(), "error: token fetch failed with an exception");
  server.throws = false;
  EXPECT_EQ(get(), "token-2");
}

TEST_F(TokenCacheTest, FetchWithNeitherTokenNorError) {
  server.answers_nothing = true;
  EXPECT_EQ(get(), "error: token fetch returned neither a token nor an error");
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(TokenCacheTest, EmptyFetchFunction) {
  const auto call = start_get(io.get_executor(), cache, "dest/tenant", TokenFetch());
  poll();
  EXPECT_EQ(outcome(*call), "error: no token fetch function");
  EXPECT_EQ(get(), "token-1");
}

TEST_F(TokenCacheTest, FetchRunsOnTheStartingCallersExecutor) {
  asio::io_context other;
  const auto call = start_get(other.get_executor(), cache, "dest/tenant", server.fetch());
  other.run();
  EXPECT_EQ(outcome(*call), "token-1");
  EXPECT_EQ(server.last_context, &other);
}

TEST_F(TokenCacheTest, KeysWithExpiredTokensAreSweptAsKeysAreAdded) {
  server.lifetime = 10s;
  for (int i = 0; i < 1024; ++i) ASSERT_EQ(get("key-" + std::to_string(i)), "token-" + std::to_string(i + 1));
  EXPECT_EQ(cache.size(), 1024u);
  clock.advance(10s);
  EXPECT_EQ(get("another-key"), "token-1025");
  EXPECT_EQ(cache.size(), 1u);
}

TEST(TokenCache, WaitersBeyondTheLimitAreRefused) {
  asio::io_context io;
  FakeClock clock;
  FakeTokenServer server(clock);
  Gate gate;
  server.gate = &gate;
  TokenCache cache(clock.function(), 3);
  std::vector<std::shared_ptr<Call>> calls;
  for (int i = 0; i < 4; ++i) calls.push_back(start_get(io.get_executor(), cache, "k", server.fetch()));
  io.poll();
  io.restart();
  EXPECT_EQ(cache.waiting("k"), 3u);
  EXPECT_EQ(outcome(*calls[3]), "error: too many requests waiting for a token");
  gate.open();
  io.poll();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(outcome(*calls[i]), "token-1");
  EXPECT_EQ(server.calls, 1);
}

TEST(TokenCache, CacheMayBeDestroyedWhileAFetchRuns) {
  asio::io_context io;
  FakeClock clock;
  FakeTokenServer server(clock);
  Gate gate;
  server.gate = &gate;
  auto cache = std::make_unique<TokenCache>(clock.function());
  const auto call = start_get(io.get_executor(), *cache, "k", server.fetch());
  io.poll();
  io.restart();
  EXPECT_EQ(outcome(*call), "pending");
  cache.reset();
  gate.open();
  io.poll();
  EXPECT_EQ(outcome(*call), "token-1");
}

TEST(TokenCache, FetchDestroyedWithItsIoContextFailsItsWaiters) {
  FakeClock clock;
  FakeTokenServer server(clock);
  Gate gate;
  server.gate = &gate;
  TokenCache cache(clock.function());
  auto starter = std::make_unique<asio::io_context>();
  asio::io_context other;

  const auto first = start_get(starter->get_executor(), cache, "k", server.fetch());
  starter->poll();  // the fetch runs on `starter` and waits at the gate
  const auto second = start_get(other.get_executor(), cache, "k", server.fetch());
  other.poll();
  other.restart();
  EXPECT_EQ(cache.waiting("k"), 2u);

  starter.reset();  // destroys the fetch and the first caller
  other.poll();
  other.restart();
  EXPECT_EQ(outcome(*second), "error: token fetch ended without a result");
  EXPECT_EQ(cache.waiting("k"), 0u);

  server.gate = nullptr;  // the key can be fetched again
  const auto third = start_get(other.get_executor(), cache, "k", server.fetch());
  other.poll();
  EXPECT_EQ(outcome(*third), "token-2");
}

// 200 callers on two threads (one io_context each) ask for the same key while the fetch is held at a
// gate; returns what each got.
std::vector<std::string> get_concurrently(FakeTokenServer& server, TokenCache& cache, std::size_t& waiting) {
  constexpr int kCallers = 200;
  Gate gate;
  server.gate = &gate;
  asio::io_context contexts[2];
  // Strands: their handlers run in the order posted, so each marker below runs after its callers started.
  asio::strand<asio::io_context::executor_type> strands[2] = {asio::make_strand(contexts[0]),
                                                              asio::make_strand(contexts[1])};
  std::vector<std::shared_ptr<Call>> calls;
  for (int i = 0; i < kCallers; ++i) {
    calls.push_back(start_get(strands[i % 2], cache, "dest/tenant", server.fetch()));
  }
  std::promise<void> started[2];
  std::future<void> all_started[2] = {started[0].get_future(), started[1].get_future()};
  for (int i = 0; i < 2; ++i) asio::post(strands[i], [&started, i] { started[i].set_value(); });

  std::thread threads[2] = {std::thread([&] { contexts[0].run(); }), std::thread([&] { contexts[1].run(); })};
  for (auto& future : all_started) future.wait();
  waiting = cache.waiting("dest/tenant");
  gate.open();
  for (auto& thread : threads) thread.join();

  std::vector<std::string> outcomes;
  for (const auto& call : calls) outcomes.push_back(outcome(*call));
  return outcomes;
}

TEST(TokenCache, ConcurrentCallersShareOneFetch) {
  FakeClock clock;
  FakeTokenServer server(clock);
  TokenCache cache(clock.function());
  std::size_t waiting = 0;
  const std::vector<std::string> outcomes = get_concurrently(server, cache, waiting);
  EXPECT_EQ(waiting, 200u);
  EXPECT_EQ(server.calls, 1);
  ASSERT_EQ(outcomes.size(), 200u);
  for (const auto& outcome : outcomes) EXPECT_EQ(outcome, "token-1");
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.waiting("dest/tenant"), 0u);
}

TEST(TokenCache, ConcurrentCallersShareOneFailure) {
  FakeClock clock;
  FakeTokenServer server(clock);
  server.fail = true;
  TokenCache cache(clock.function());
  std::size_t waiting = 0;
  const std::vector<std::string> outcomes = get_concurrently(server, cache, waiting);
  EXPECT_EQ(waiting, 200u);
  EXPECT_EQ(server.calls, 1);
  ASSERT_EQ(outcomes.size(), 200u);
  for (const auto& outcome : outcomes) EXPECT_EQ(outcome, "error: fetch 1 failed");
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
