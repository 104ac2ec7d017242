#include "token_cache.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdint>
#include <exception>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <utility>
#include <vector>

namespace gw::http {

namespace detail {

// One caller waiting for a key's fetch. The timer never expires: the fetch's completion cancels it,
// from a handler posted to the timer's own executor, after storing the result.
struct TokenWaiter {
  explicit TokenWaiter(const asio::any_io_executor& executor)
      : timer(executor, asio::steady_timer::time_point::max()) {}
  asio::steady_timer timer;
  std::shared_ptr<const TokenResult> result;
};

struct TokenEntry {
  std::optional<AccessToken> token;
  bool fetching = false;
  // Weak: a caller destroyed while waiting (its io_context went away) simply drops out. Not empty only
  // while fetching.
  std::vector<std::weak_ptr<TokenWaiter>> waiters;
};

struct TokenCacheState {
  std::function<Clock::time_point()> now;
  std::size_t max_waiters_per_key = 0;
  mutable std::mutex mutex;
  std::unordered_map<std::string, TokenEntry> entries;
  std::size_t sweep_threshold = 0;  // entries.size() at which expired tokens are swept next
};

}  // namespace detail

namespace {

using Json = nlohmann::json;
using detail::TokenCacheState;
using detail::TokenEntry;
using detail::TokenWaiter;

constexpr std::size_t kMaxErrorTextChars = 200;
constexpr std::size_t kMinSweepThreshold = 1024;

// --- token request ---------------------------------------------------------------------------------

// application/x-www-form-urlencoded byte serializer (WHATWG URL §5.2, the encoding RFC 6749 Appendix B
// refers to).
void append_form_encoded(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool kept = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
                      (byte >= '0' && byte <= '9') || byte == '*' || byte == '-' || byte == '.' ||
                      byte == '_';
    if (kept) {
      out += c;
    } else if (byte == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0F];
    }
  }
}

std::string form_encoded(std::string_view text) {
  std::string out;
  append_form_encoded(out, text);
  return out;
}

// --- token response --------------------------------------------------------------------------------

TokenResult failure(std::string error) {
  TokenResult result;
  result.error = std::move(error);
  return result;
}

// Characters that could forge or garble a log line: C0 and C1 controls, DEL, line and paragraph
// separators, bidirectional overrides.
bool unprintable(char32_t code_point) {
  return code_point < 0x20 || (code_point >= 0x7F && code_point <= 0x9F) || code_point == 0x2028 ||
         code_point == 0x2029 || (code_point >= 0x202A && code_point <= 0x202E) ||
         (code_point >= 0x2066 && code_point <= 0x2069);
}

// Up to kMaxErrorTextChars characters of `text` for an error message: unprintable characters and
// invalid UTF-8 become '?', and "..." marks a cut.
std::string printable(std::string_view text) {
  std::string out;
  std::size_t chars = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    if (chars == kMaxErrorTextChars) {
      out += "...";
      break;
    }
    ++chars;
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    char32_t code_point = 0;
    if (lead < 0x80) {
      length = 1;
      code_point = lead;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code_point = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code_point = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      code_point = lead & 0x07;
    }
    bool valid = length != 0 && i + length <= text.size();
    for (std::size_t k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      valid = (next & 0xC0) == 0x80;
      code_point = code_point << 6 | (next & 0x3F);
    }
    static constexpr char32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};  // shortest form per length
    valid = valid && code_point >= kSmallest[length] && code_point <= 0x10FFFF &&
            !(code_point >= 0xD800 && code_point <= 0xDFFF);
    if (!valid) {
      out += '?';
      ++i;
      continue;
    }
    if (unprintable(code_point)) {
      out += '?';
    } else {
      out.append(text.substr(i, length));
    }
    i += length;
  }
  return out;
}

// "invalid_client (Client authentication failed)" from the string members of an RFC 6749 §5.2 error
// object; empty when there are none.
std::string error_details(const Json& object) {
  std::string details;
  const auto error = object.find("error");
  if (error != object.end() && error->is_string()) details = printable(error->get_ref<const std::string&>());
  const auto description = object.find("error_description");
  if (description != object.end() && description->is_string()) {
    if (!details.empty()) details += ' ';
    details += '(' + printable(description->get_ref<const std::string&>()) + ')';
  }
  return details;
}

TokenResult error_status(int status, std::string_view body) {
  std::string error = "token endpoint answered HTTP " + std::to_string(status);
  if (body.size() > kMaxTokenResponseSize) {
    error += " (body of " + std::to_string(body.size()) + " bytes not read)";
    return failure(std::move(error));
  }
  const Json json = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_object()) {
    const std::string details = error_details(json);
    if (!details.empty()) error += ": " + details;
  }
  return failure(std::move(error));
}

bool is_bearer(std::string_view type) {
  static constexpr std::string_view kBearer = "bearer";
  return type.size() == kBearer.size() &&
         std::equal(type.begin(), type.end(), kBearer.begin(), [](char a, char b) {
           return (a >= 'A' && a <= 'Z' ? static_cast<char>(a - 'A' + 'a') : a) == b;
         });
}

// The token goes into an Authorization header: visible ASCII only, so that it can neither split the
// header nor smuggle another one.
bool usable_in_header(std::string_view token) {
  return std::all_of(token.begin(), token.end(), [](char c) { return c >= 0x21 && c <= 0x7E; });
}

// expires_in as a lifetime, or nullopt with `error` set.
std::optional<std::chrono::seconds> lifetime_of(const Json& object, std::string& error) {
  const auto member = object.find("expires_in");
  if (member == object.end() || member->is_null()) return kDefaultTokenLifetime;
  const auto cap = static_cast<std::uint64_t>(kMaxTokenLifetime.count());
  std::uint64_t seconds = 0;
  if (member->is_number_unsigned()) {
    seconds = std::min(member->get<std::uint64_t>(), cap);
  } else if (member->is_number_integer()) {
    const auto value = member->get<std::int64_t>();
    seconds = value <= 0 ? 0 : std::min(static_cast<std::uint64_t>(value), cap);
  } else if (member->is_number_float()) {
    const auto value = member->get<double>();
    if (value >= static_cast<double>(cap)) {
      seconds = cap;
    } else if (value >= 1.0) {
      seconds = static_cast<std::uint64_t>(value);  // a fraction of a second is cut off
    }
  } else if (member->is_string()) {
    const auto& text = member->get_ref<const std::string&>();
    if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      error = "expires_in is neither a number nor a string of digits";
      return std::nullopt;
    }
    for (const char digit : text) {
      if (seconds > cap) break;  // stays above the cap: no overflow, whatever the length
      seconds = seconds * 10 + static_cast<std::uint64_t>(digit - '0');
    }
    seconds = std::min(seconds, cap);
  } else {
    error = "expires_in is neither a number nor a string of digits";
    return std::nullopt;
  }
  if (seconds == 0) {
    error = "expires_in is not a positive number of seconds";
    return std::nullopt;
  }
  return std::chrono::seconds(static_cast<std::chrono::seconds::rep>(seconds));
}

TokenResult parse_success(std::string_view body, Clock::time_point now) {
  if (body.size() > kMaxTokenResponseSize) {
    return failure("token response too large (" + std::to_string(body.size()) + " bytes, limit " +
                   std::to_string(kMaxTokenResponseSize) + ")");
  }
  const Json json = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return failure("token response is not valid JSON");
  if (!json.is_object()) return failure("token response is not a JSON object");

  const auto access_token = json.find("access_token");
  if (access_token == json.end() || access_token->is_null()) {
    std::string error = "token response has no access_token";
    const std::string details = error_details(json);
    if (!details.empty()) error += ": " + details;
    return failure(std::move(error));
  }
  if (!access_token->is_string()) return failure("access_token in the token response is not a string");
  const auto& value = access_token->get_ref<const std::string&>();
  if (value.empty()) return failure("access_token in the token response is empty");
  if (!usable_in_header(value)) {
    return failure("access_token in the token response has characters not allowed in an HTTP header");
  }

  const auto token_type = json.find("token_type");
  if (token_type != json.end() && !token_type->is_null()) {
    if (!token_type->is_string()) return failure("token_type in the token response is not a string");
    const auto& type = token_type->get_ref<const std::string&>();
    if (!is_bearer(type)) {
      return failure("token_type \"" + printable(type) + "\" is not supported (only Bearer)");
    }
  }

  std::string error;
  const std::optional<std::chrono::seconds> lifetime = lifetime_of(json, error);
  if (!lifetime) return failure(std::move(error));

  AccessToken token;
  token.value = value;
  token.type = "Bearer";
  token.lifetime = *lifetime;
  token.expires_at = now + *lifetime;
  TokenResult result;
  result.token = std::move(token);
  return result;
}

// --- cache -----------------------------------------------------------------------------------------

// When a token stops being fresh: `margin` before it expires, margin = min(60 s, lifetime / 10).
Clock::time_point renewal_time(const AccessToken& token) {
  const Clock::duration tenth = std::max(Clock::duration::zero(), Clock::duration(token.lifetime) / 10);
  return token.expires_at - std::min<Clock::duration>(std::chrono::seconds(60), tenth);
}

// Removes keys whose token has expired and that nobody is fetching or waiting for. Called when a key is
// added, and only once the map has doubled since the previous sweep, so it costs O(1) per get() on
// average and keeps keys that are no longer used from accumulating.
void sweep_if_due(TokenCacheState& state, Clock::time_point now) {
  if (state.entries.size() < state.sweep_threshold) return;
  std::erase_if(state.entries, [now](const auto& item) {
    const TokenEntry& entry = item.second;
    return !entry.fetching && entry.waiters.empty() && (!entry.token || now >= entry.token->expires_at);
  });
  state.sweep_threshold = std::max(kMinSweepThreshold, 2 * state.entries.size());
}

// Stores a fetch's outcome and hands it to everyone waiting for it.
void finish_fetch(TokenCacheState& state, const std::string& key, TokenResult result) {
  if (result.token) {
    result.error.clear();
  } else if (result.error.empty()) {
    result.error = "token fetch returned neither a token nor an error";
  }
  const auto outcome = std::make_shared<const TokenResult>(std::move(result));
  const Clock::time_point now = state.now();
  std::vector<std::weak_ptr<TokenWaiter>> waiters;
  {
    std::lock_guard lock(state.mutex);
    const auto found = state.entries.find(key);  // always there: a key is not removed while fetching
    if (found != state.entries.end()) {
      TokenEntry& entry = found->second;
      entry.fetching = false;
      waiters.swap(entry.waiters);
      if (outcome->token) {
        entry.token = outcome->token;
      } else if (entry.token && now >= entry.token->expires_at) {
        entry.token.reset();
      }
      if (!entry.token) state.entries.erase(found);
    }
  }
  for (const auto& weak : waiters) {
    std::shared_ptr<TokenWaiter> waiter = weak.lock();
    if (!waiter) continue;
    waiter->result = outcome;
    const asio::any_io_executor executor = waiter->timer.get_executor();
    // The timer belongs to the waiter's executor: cancel it there, never from this thread.
    asio::post(executor, [woken = std::move(waiter)] { woken->timer.cancel(); });
  }
}

// Finishes the fetch of one key exactly once: with the fetch's outcome, or, when it is destroyed first
// (the fetching coroutine was destroyed with its io_context, or never started), with an error, so that
// nobody waits forever and the key can be fetched again.
class FetchCompletion {
 public:
  FetchCompletion(std::shared_ptr<TokenCacheState> state, std::string key)
      : state_(std::move(state)), key_(std::move(key)) {}
  FetchCompletion(FetchCompletion&& other) noexcept
      : state_(std::move(other.state_)), key_(std::move(other.key_)) {}
  FetchCompletion& operator=(FetchCompletion&&) = delete;
  ~FetchCompletion() {
    if (!state_) return;
    try {
      finish_fetch(*state_, key_, failure("token fetch ended without a result"));
    } catch (...) {
      // Out of memory while failing: nothing more can be done here.
    }
  }

  void operator()(TokenResult result) {
    const std::shared_ptr<TokenCacheState> state = std::move(state_);
    finish_fetch(*state, key_, std::move(result));
  }

 private:
  std::shared_ptr<TokenCacheState> state_;
  std::string key_;
};

// The fetch, run detached: `completion` is a parameter so that the coroutine frame owns it from the
// start, even if the coroutine never runs.
asio::awaitable<void> run_fetch(FetchCompletion completion, TokenFetch fetch) {
  TokenResult result;
  if (!fetch) {
    result.error = "no token fetch function";
  } else {
    try {
      result = co_await fetch();
    } catch (...) {
      result = failure("token fetch failed with an exception");
    }
  }
  completion(std::move(result));
}

// What get() does for a key, decided under the lock.
struct Lookup {
  TokenResult answer;                   // given at once when there is no waiter
  std::shared_ptr<TokenWaiter> waiter;  // set when the caller has to wait for the fetch
  bool start_fetch = false;
};

Lookup look_up(TokenCacheState& state, const std::string& key, const asio::any_io_executor& executor) {
  Lookup lookup;
  const Clock::time_point now = state.now();
  std::lock_guard lock(state.mutex);
  if (!state.entries.contains(key)) sweep_if_due(state, now);
  TokenEntry& entry = state.entries[key];
  if (entry.token && now < entry.token->expires_at) {
    lookup.answer.token = entry.token;
    if (now >= renewal_time(*entry.token) && !entry.fetching) {
      entry.fetching = true;
      lookup.start_fetch = true;
    }
    return lookup;
  }
  entry.token.reset();
  if (entry.waiters.size() >= state.max_waiters_per_key) {
    std::erase_if(entry.waiters, [](const auto& waiter) { return waiter.expired(); });
    if (entry.waiters.size() >= state.max_waiters_per_key) {
      lookup.answer.error = "too many requests waiting for a token";
      return lookup;
    }
  }
  lookup.waiter = std::make_shared<TokenWaiter>(executor);
  entry.waiters.push_back(lookup.waiter);
  if (!entry.fetching) {
    entry.fetching = true;
    lookup.start_fetch = true;
  }
  return lookup;
}

}  // namespace

std::string base64(std::string_view data) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  const auto byte = [&](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(data[i]));
  };
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const std::uint32_t group = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += kAlphabet[group >> 18];
    out += kAlphabet[(group >> 12) & 0x3F];
    out += kAlphabet[(group >> 6) & 0x3F];
    out += kAlphabet[group & 0x3F];
  }
  const std::size_t rest = data.size() - i;
  if (rest > 0) {
    const std::uint32_t group = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
    out += kAlphabet[group >> 18];
    out += kAlphabet[(group >> 12) & 0x3F];
    out += rest == 2 ? kAlphabet[(group >> 6) & 0x3F] : '=';
    out += '=';
  }
  return out;
}

TokenRequest make_client_credentials_request(std::string_view client_id, std::string_view client_secret,
                                             std::string_view scope, ClientAuth auth) {
  TokenRequest request;
  request.body = "grant_type=client_credentials";
  if (!scope.empty()) {
    request.body += "&scope=";
    append_form_encoded(request.body, scope);
  }
  if (auth == ClientAuth::post) {
    request.body += "&client_id=";
    append_form_encoded(request.body, client_id);
    request.body += "&client_secret=";
    append_form_encoded(request.body, client_secret);
  } else {
    request.authorization = "Basic " + base64(form_encoded(client_id) + ':' + form_encoded(client_secret));
  }
  return request;
}

TokenResult parse_token_response(int status, std::string_view body, Clock::time_point now) {
  try {
    if (status != 200) return error_status(status, body);
    return parse_success(body, now);
  } catch (const std::exception&) {
    // Only memory exhaustion can get here: every JSON access above checks the type first.
    return failure("token response could not be read");
  }
}

TokenCache::TokenCache(std::function<Clock::time_point()> now, std::size_t max_waiters_per_key)
    : state_(std::make_shared<detail::TokenCacheState>()) {
  state_->now = now ? std::move(now) : std::function<Clock::time_point()>(&Clock::now);
  state_->max_waiters_per_key = std::max<std::size_t>(1, max_waiters_per_key);
  state_->sweep_threshold = kMinSweepThreshold;
}

TokenCache::~TokenCache() = default;

asio::awaitable<TokenResult> TokenCache::get(std::string key, TokenFetch fetch) {
  // Only `state` is used after the first suspension: the cache object may be gone by then.
  const std::shared_ptr<TokenCacheState> state = state_;
  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  Lookup lookup = look_up(*state, key, executor);
  if (lookup.start_fetch) {
    asio::co_spawn(executor, run_fetch(FetchCompletion(state, key), std::move(fetch)), asio::detached);
  }
  if (!lookup.waiter) co_return std::move(lookup.answer);

  error_code woken;  // operation_aborted: the fetch has finished
  co_await lookup.waiter->timer.async_wait(asio::redirect_error(asio::use_awaitable, woken));
  TokenResult result;
  if (lookup.waiter->result) {
    result = *lookup.waiter->result;
  } else {
    result.error = "token wait ended without a result";
  }
  co_return result;
}

void TokenCache::invalidate(const std::string& key, const std::string& token_value) {
  std::lock_guard lock(state_->mutex);
  const auto found = state_->entries.find(key);
  if (found == state_->entries.end()) return;
  TokenEntry& entry = found->second;
  if (!entry.token || entry.token->value != token_value) return;
  entry.token.reset();
  if (!entry.fetching) state_->entries.erase(found);
}

std::size_t TokenCache::size() const {
  std::lock_guard lock(state_->mutex);
  return static_cast<std::size_t>(
      std::count_if(state_->entries.begin(), state_->entries.end(),
                    [](const auto& item) { return item.second.token.has_value(); }));
}

std::size_t TokenCache::waiting(const std::string& key) const {
  std::lock_guard lock(state_->mutex);
  const auto found = state_->entries.find(key);
  if (found == state_->entries.end()) return 0;
  return static_cast<std::size_t>(std::count_if(found->second.waiters.begin(), found->second.waiters.end(),
                                                [](const auto& waiter) { return !waiter.expired(); }));
}

}  // namespace gw::http
