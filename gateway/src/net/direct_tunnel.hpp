// The direct tunnel: TCP (optionally TLS) straight from this process to the target.
// Used for `internet` destinations on the edge and for internal systems on the connector.
#pragma once

#include "gateway/plugin/tunnel.hpp"
#include "net/tls_context.hpp"

namespace gw::net {

class DirectTunnel final : public Tunnel {
 public:
  explicit DirectTunnel(TlsClientContexts& tls) : tls_(tls) {}
  asio::awaitable<OpenResult> open(const OpenRequest& request) override;

 private:
  TlsClientContexts& tls_;
};

}  // namespace gw::net
