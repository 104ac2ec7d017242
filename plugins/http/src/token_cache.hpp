// OAuth2 client credentials (RFC 6749 §4.4) for HTTP destinations: building the token request, reading
// the token endpoint's answer, and a cache that shares one access token per (destination, tenant) among
// all requests and all worker threads.
//
// The HTTP exchange with the token endpoint is not done here: the cache is handed a fetch function that
// performs it (typically make_client_credentials_request(), a POST, then parse_token_response()).
//
// Error texts are meant for the log: they never contain an access token, a client secret or a whole
// response body.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/plugin_api.hpp"

namespace gw::http {

using Clock = std::chrono::steady_clock;

struct AccessToken {
  std::string value;  // the access_token, to be sent as "Authorization: <type> <value>"
  std::string type;   // always "Bearer": parse_token_response() accepts no other token type
  Clock::time_point expires_at;
  std::chrono::seconds lifetime{0};  // expires_in as granted (after the limits below)
};

// Either a token, or `error` saying why there is none.
struct TokenResult {
  std::optional<AccessToken> token;
  std::string error;
};

// How the client authenticates to the token endpoint (RFC 6749 §2.3.1).
enum class ClientAuth {
  basic,  // client_secret_basic: an Authorization header
  post,   // client_secret_post: client_id and client_secret in the form body
};

// What to send to the token endpoint: POST, Content-Type: application/x-www-form-urlencoded.
struct TokenRequest {
  std::string body;
  std::string authorization;  // value of the Authorization header; empty for ClientAuth::post
};

// Standard Base64 (RFC 4648 §4), padded: what Basic credentials are written in.
std::string base64(std::string_view data);

// Builds a client credentials token request. The body is "grant_type=client_credentials", then
// "&scope=..." unless `scope` is empty, then for ClientAuth::post "&client_id=...&client_secret=...".
// Values are encoded as application/x-www-form-urlencoded (RFC 6749 Appendix B: bytes other than
// ALPHA / DIGIT / "*-._" become %XX, space becomes "+"). For ClientAuth::basic the authorization is
// "Basic " + base64(urlencode(client_id) ":" urlencode(client_secret)), as RFC 6749 §2.3.1 requires.
TokenRequest make_client_credentials_request(std::string_view client_id, std::string_view client_secret,
                                             std::string_view scope, ClientAuth auth);

// Larger token endpoint answers are refused without being parsed.
inline constexpr std::size_t kMaxTokenResponseSize = 64 * 1024;
// Lifetime assumed when the answer has no expires_in.
inline constexpr std::chrono::seconds kDefaultTokenLifetime{3600};
// Longer lifetimes are shortened to this.
inline constexpr std::chrono::seconds kMaxTokenLifetime{365 * 24 * 3600};

// Reads the token endpoint's answer, received at `now`. Never throws.
//
// Success (RFC 6749 §5.1) needs status 200 and a JSON object with
//   access_token  a non-empty string of visible ASCII characters (it goes into an HTTP header);
//   token_type    absent, null or case-insensitively "bearer" (anything else is an error: only Bearer
//                 tokens are injected);
//   expires_in    absent or null (-> kDefaultTokenLifetime), a JSON number, or a string of decimal
//                 digits as some servers send; a fraction is cut off; it must be at least 1 and is
//                 capped at kMaxTokenLifetime.
// Other members are ignored. Anything else yields an error naming the problem: a body over
// kMaxTokenResponseSize, not JSON, not an object, a member of the wrong type.
// For any other status the error names the status and, when the body is a JSON object (RFC 6749 §5.2),
// its string members `error` and `error_description`, each cut to 200 characters with control
// characters replaced by '?'.
TokenResult parse_token_response(int status, std::string_view body, Clock::time_point now);

// Obtains a fresh token (or an error). Called by the cache at most once at a time per key. It must end
// in bounded time (its own timeout), since every caller waiting for the key waits for it, and should
// report failures in TokenResult::error rather than throw (an exception becomes a generic error).
using TokenFetch = std::function<asio::awaitable<TokenResult>()>;

namespace detail {
struct TokenCacheState;
}

// Access tokens by key (the caller builds the key from destination name and tenant).
//
// Freshness: a token is used as is while now < expires_at - margin, margin = min(60 s, lifetime / 10).
// Inside the margin it is still handed out, and the first caller there starts a refresh in the
// background, so nobody waits for a renewal while a valid token exists. Once it has expired (or when
// there is none) callers wait for the fetch. Only one fetch runs per key at any time, whatever the number
// of callers and threads; everyone waiting on it gets its outcome. A failed fetch is not cached (the
// next caller fetches again), and it leaves a still-valid cached token in place.
//
// Threads: get() may be called concurrently from coroutines on different executors, each of which runs
// its handlers one at a time (an io_context per thread, or a strand). A waiting caller resumes on its
// own executor. The fetch runs as a detached coroutine on the executor of the caller that started it,
// independent of that caller, and it keeps the cache's state alive: the TokenCache object may be
// destroyed while fetches and waiting callers are still in progress. If the fetch is destroyed before it
// completes (its io_context is destroyed), its waiters get an error instead of waiting forever.
class TokenCache {
 public:
  // Callers beyond this many waiting for one key get an error rather than a place in the queue.
  static constexpr std::size_t kMaxWaitersPerKey = 10000;

  // `now` is the clock (replaceable in tests; it is called from any thread that calls get()).
  explicit TokenCache(std::function<Clock::time_point()> now = &Clock::now,
                      std::size_t max_waiters_per_key = kMaxWaitersPerKey);
  ~TokenCache();
  TokenCache(const TokenCache&) = delete;
  TokenCache& operator=(const TokenCache&) = delete;

  // Returns the token for `key`, fetching it with `fetch` when needed (see above). Errors: the fetch's
  // error, "too many requests waiting for a token", or a fetch that threw or was destroyed.
  asio::awaitable<TokenResult> get(std::string key, TokenFetch fetch);

  // Drops the token of `key` if its value is `token_value` (e.g. the target answered 401 to it), so the
  // next get() fetches. A different value means the token was already replaced: nothing happens then.
  void invalidate(const std::string& key, const std::string& token_value);

  // Number of keys holding a token (an expired one counts until the key is used again or swept).
  std::size_t size() const;

  // Number of callers currently waiting for `key`'s fetch.
  std::size_t waiting(const std::string& key) const;

 private:
  std::shared_ptr<detail::TokenCacheState> state_;
};

}  // namespace gw::http
