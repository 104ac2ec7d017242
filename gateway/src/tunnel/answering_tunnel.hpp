// A Tunnel that reports the outcome of the first open() to whoever waits on it, then behaves like
// the tunnel it wraps. Entry points and the connector answer their peer only once the route
// handler has tried its target: a SOCKS5 client gets its CONNECT reply, the edge its stream's
// response status, with the real outcome (success, denied, unreachable, ...).
#pragma once

#include <functional>
#include <utility>

#include "gateway/plugin/tunnel.hpp"

namespace gw::tunnel {

class AnsweringTunnel final : public Tunnel {
 public:
  using Answer = std::function<asio::awaitable<void>(const OpenResult&)>;

  AnsweringTunnel(Tunnel& inner, Answer answer) : inner_(inner), answer_(std::move(answer)) {}

  asio::awaitable<OpenResult> open(const OpenRequest& request) override {
    OpenResult result = co_await inner_.open(request);
    if (!answered_) {
      answered_ = true;
      co_await answer_(result);
    }
    co_return result;
  }
  // False when the handler ended without opening anything: the caller answers for it.
  bool answered() const noexcept { return answered_; }

 private:
  Tunnel& inner_;
  Answer answer_;
  bool answered_ = false;
};

}  // namespace gw::tunnel
