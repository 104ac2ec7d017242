#include "net/splice.hpp"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <memory>

#include "gateway/plugin/watchdog.hpp"

namespace gw::net {
namespace {

// Shared by the two directions and the idle watchdog; they all run on one executor (a worker thread),
// so no synchronisation is needed.
struct SpliceState {
  SpliceState(Stream& first, Stream& second, asio::any_io_executor executor, const SpliceOptions& options)
      : a(first),
        b(second),
        half_close_timeout(options.half_close_timeout),
        activity(std::move(executor), watched_for(options), [this] {
          this->idle = true;
          fail(asio::error::timed_out, false);
        }) {}
  Stream& a;
  Stream& b;
  std::chrono::milliseconds half_close_timeout;
  Watchdog activity;  // reads that bring bytes touch() it
  bool failed = false;
  bool idle = false;
  bool half_closed = false;  // one direction ended: half_close_timeout is in force
  SpliceResult result;

  // Without an idle timeout the watchdog still exists when a half-close timeout may shorten it.
  static std::chrono::milliseconds watched_for(const SpliceOptions& options) {
    if (options.idle_timeout.count() > 0 || options.half_close_timeout.count() <= 0)
      return options.idle_timeout;
    return std::chrono::hours(24 * 365);
  }

  // One direction ended cleanly; the other may go on, but not silently for longer than
  // half_close_timeout.
  void direction_ended() {
    if (half_closed || half_close_timeout.count() <= 0) return;
    half_closed = true;
    activity.touch();
    activity.shorten(half_close_timeout);
  }

  void fail(error_code ec, bool by_a) {
    if (failed) return;
    failed = true;
    result.error = ec;
    result.aborted_by_a = by_a;
    a.close();
    b.close();
  }
};

// A direction's buffer starts at this size and grows to the configured one when a read fills it, so
// the many short exchanges (a request and its answer) never take a large buffer, which also costs
// the allocator more, while bulk transfers have the full size from their second read on.
constexpr std::size_t kFirstBufferSize = 4 * 1024;

// Copies from -> to until eof (then half-closes `to`) or an error. One buffer: the next read is issued
// only after the previous write completed, which is what propagates backpressure.
asio::awaitable<void> pump(SpliceState& state, Stream& from, Stream& to, bool from_is_a,
                           std::size_t buffer_size, Counter* counter, std::uint64_t& total) {
  std::size_t size = std::min(buffer_size, kFirstBufferSize);
  std::unique_ptr<char[]> buffer(new char[size]);
  for (;;) {
    IoResult r = co_await from.read_some(asio::buffer(buffer.get(), size));
    if (r.bytes > 0) {
      state.activity.touch();
      IoResult w = co_await to.write(asio::buffer(buffer.get(), r.bytes));
      total += w.bytes;
      if (counter) counter->add(w.bytes);
      if (w.error) {
        if (!state.failed) state.fail(w.error, !from_is_a);
        co_return;
      }
      if (r.bytes == size && size < buffer_size) {
        size = buffer_size;
        buffer.reset(new char[size]);
      }
    }
    if (r.error == asio::error::eof) {
      if (auto ec = co_await to.shutdown_write(); ec && !state.failed) state.fail(ec, !from_is_a);
      if (!state.failed) state.direction_ended();
      co_return;
    }
    if (r.error) {
      if (!state.failed) state.fail(r.error, from_is_a);
      co_return;
    }
  }
}

}  // namespace

asio::awaitable<SpliceResult> splice(Stream& a, Stream& b, SpliceOptions options) {
  auto executor = co_await asio::this_coro::executor;
  SpliceState state(a, b, executor, options);

  // The two directions run as their own coroutines on this executor; `all_done` is cancelled when the
  // second of them ends, which is what this coroutine waits for.
  int pending = 2;
  asio::steady_timer all_done(executor);
  auto direction_done = [&](std::exception_ptr error) {
    if (error) state.fail(asio::error::fault, false);
    if (--pending == 0) {
      state.activity.stop();  // an idle verdict after both directions ended would be wrong
      all_done.cancel();
    }
  };
  asio::co_spawn(
      executor,
      pump(state, b, a, false, options.buffer_size, options.bytes_b_to_a, state.result.bytes_b_to_a),
      direction_done);
  asio::co_spawn(
      executor, pump(state, a, b, true, options.buffer_size, options.bytes_a_to_b, state.result.bytes_a_to_b),
      direction_done);

  while (pending > 0) {
    all_done.expires_at(asio::steady_timer::time_point::max());
    error_code ignored;
    co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
  state.result.idle_timeout = state.idle;
  state.result.half_close_timeout = state.idle && state.half_closed;
  co_return state.result;
}

}  // namespace gw::net
