// Watchdog: runs an action once when what it watches has made no progress for a while — a connection
// idle for its idle timeout, a read that waits longer than its read timeout.
//
// Progress costs no timer operation: touch() only stores the time. One timer sleeps until the earliest
// moment the timeout could have passed, checks, and sleeps again until the latest progress plus the
// timeout, so a busy connection wakes it about once per timeout instead of re-arming it per read.
// While paused it does not expire (a reader between two messages); resume() counts from then.
//
// Destruction disarms it: a coroutine can keep it on its frame and let `on_expiry` refer to the frame,
// since the timer's handler only touches shared state. For executors that run handlers on one thread
// (one io_context per worker), like Deadline.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>

namespace gw {

class Watchdog {
 public:
  using Clock = std::chrono::steady_clock;

  // A timeout of zero or less: never expires (and costs no timer).
  Watchdog(boost::asio::any_io_executor executor, std::chrono::milliseconds timeout,
           std::function<void()> on_expiry, bool watching = true) {
    if (timeout.count() <= 0) return;
    state_ = std::make_shared<State>(std::move(executor), timeout, std::move(on_expiry));
    state_->watching = watching;
    arm(state_, state_->last_progress + timeout);
  }
  ~Watchdog() { stop(); }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Progress: the timeout counts from now.
  void touch() noexcept {
    if (state_) state_->last_progress = Clock::now();
  }
  // Starts watching again, counting from now.
  void resume() noexcept {
    if (!state_) return;
    state_->watching = true;
    state_->last_progress = Clock::now();
  }
  // Stops counting until resume().
  void pause() noexcept {
    if (state_) state_->watching = false;
  }
  // A new timeout, counting from the latest progress; a shorter one takes effect at once. Only on a
  // watchdog built with a timeout.
  void shorten(std::chrono::milliseconds timeout) {
    if (!state_ || state_->stopped || timeout >= state_->timeout || timeout.count() <= 0) return;
    state_->timeout = timeout;
    state_->timer.cancel();  // its handler re-arms for the new deadline
  }
  // Disarms it for good.
  void stop() noexcept {
    if (!state_ || state_->stopped) return;
    state_->stopped = true;
    state_->timer.cancel();
  }
  bool expired() const noexcept { return state_ && state_->expired; }

 private:
  struct State {
    State(boost::asio::any_io_executor executor, std::chrono::milliseconds after, std::function<void()> f)
        : timer(std::move(executor)), timeout(after), on_expiry(std::move(f)) {}
    boost::asio::steady_timer timer;
    std::chrono::milliseconds timeout;
    std::function<void()> on_expiry;
    Clock::time_point last_progress = Clock::now();
    bool watching = true;
    bool stopped = false;
    bool expired = false;
  };

  static void arm(const std::shared_ptr<State>& state, Clock::time_point at) {
    state->timer.expires_at(at);
    state->timer.async_wait([state](const boost::system::error_code&) {
      if (state->stopped) return;
      const auto now = Clock::now();
      if (state->watching && now >= state->last_progress + state->timeout) {
        state->stopped = state->expired = true;
        state->on_expiry();
        return;
      }
      arm(state, (state->watching ? state->last_progress : now) + state->timeout);
    });
  }

  std::shared_ptr<State> state_;
};

}  // namespace gw
