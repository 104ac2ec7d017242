// Deadline: runs an action if it is still armed when a duration elapses, for bounding operations
// that Asio 1.74 cannot time out by itself (connect, a handshake, a protocol's set-up exchange).
// Disarmed by destruction, so a coroutine can keep it on its frame: the timer's handler only touches
// shared state. For executors that run handlers on one thread (one io_context per worker).
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>

namespace gw {

class Deadline {
 public:
  Deadline(boost::asio::any_io_executor executor, std::chrono::milliseconds after,
           std::function<void()> on_expiry)
      : state_(std::make_shared<State>(std::move(on_expiry))), timer_(executor, after) {
    timer_.async_wait([state = state_](const boost::system::error_code& ec) {
      if (ec || !state->armed) return;
      state->armed = false;
      state->expired = true;
      state->on_expiry();
    });
  }
  ~Deadline() { disarm(); }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  void disarm() noexcept {
    if (!state_->armed) return;
    state_->armed = false;
    timer_.cancel();
  }
  bool expired() const noexcept { return state_->expired; }

 private:
  struct State {
    explicit State(std::function<void()> f) : on_expiry(std::move(f)) {}
    std::function<void()> on_expiry;
    bool armed = true;
    bool expired = false;
  };
  std::shared_ptr<State> state_;
  boost::asio::steady_timer timer_;
};

}  // namespace gw
