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
  // Called once: with no error for success, else with the failure and its reason.
  using Answer = std::function<asio::awaitable<void>(const error_code& error, const std::string& reason)>;

  AnsweringTunnel(Tunnel& inner, Answer answer) : inner_(inner), answer_(std::move(answer)) {}

  asio::awaitable<OpenResult> open(const OpenRequest& request) override {
    OpenResult result = co_await inner_.open(request);
    if (!answered_) {
      answered_ = true;
      co_await answer_(result.error, result.reason);
    }
    co_return result;
  }
  asio::awaitable<OpenResult> start_tls(std::unique_ptr<Stream> plain, const OpenRequest& request) override {
    return inner_.start_tls(std::move(plain), request);
  }
  // Answers success before any open(), for a handler that reads from its peer before it knows what
  // to open (EdgeRouteHandler/ConnectorRouteHandler::reads_before_open) and reports failures in its
  // own protocol.
  asio::awaitable<void> answer_success() {
    if (answered_) co_return;
    answered_ = true;
    const error_code none;
    const std::string no_reason;
    co_await answer_(none, no_reason);
  }
  // False when the handler ended without opening anything: the caller answers for it.
  bool answered() const noexcept { return answered_; }

 private:
  Tunnel& inner_;
  Answer answer_;
  bool answered_ = false;
};

}  // namespace gw::tunnel
