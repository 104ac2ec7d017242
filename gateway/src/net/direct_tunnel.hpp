// The direct tunnel: TCP (optionally TLS) straight from this process to the target.
// Used for `internet` destinations on the edge and for internal systems on the connector.
#pragma once

#include "gateway/plugin/tunnel.hpp"
#include "net/socket_stream.hpp"
#include "net/tls_context.hpp"

namespace gw::net {

class DirectTunnel final : public Tunnel {
 public:
  explicit DirectTunnel(TlsClientContexts& tls) : tls_(tls) {}
  asio::awaitable<OpenResult> open(const OpenRequest& request) override;
  // Upgrades a TcpStream this tunnel opened; any other stream is refused.
  asio::awaitable<OpenResult> start_tls(std::unique_ptr<Stream> plain, const OpenRequest& request) override;

 private:
  // The client handshake on a connected socket, allowed request.connect_timeout.
  asio::awaitable<OpenResult> handshake(tcp::socket socket, const OpenRequest& request);
  // Writes request.early_data to a stream just opened (or upgraded); a failed write fails the open.
  asio::awaitable<OpenResult> with_early_data(OpenResult opened, const OpenRequest& request);

  TlsClientContexts& tls_;
};

}  // namespace gw::net
