#include "runtime/edge_tunnel.hpp"

#include "gateway/plugin/deadline.hpp"
#include "net/socket_stream.hpp"

namespace gw::runtime {

namespace {
constexpr std::chrono::milliseconds kHandshakeTimeout{10000};
// TLS records gathered per send() and read per recv() on a tunnel connection (see TlsStream::coalesce_io).
constexpr std::size_t kTunnelIoBuffer = 128 * 1024;
}  // namespace

void TunnelListener::refuse(const std::string& peer, const std::string& reason) {
  log_.log(LogLevel::warn, "connector_refused", {{"peer", peer}, {"reason", reason}});
  if (host_.audit().enabled(AuditClass::security)) {
    host_.audit().record({AuditClass::security,
                          "tunnel.connector",
                          {{"peer", peer}, {"outcome", std::string("refused")}, {"reason", reason}}});
  }
}

boost::asio::awaitable<void> TunnelListener::accept(boost::asio::ip::tcp::socket socket) {
  boost::system::error_code ec;
  std::string peer;
  if (auto remote = socket.remote_endpoint(ec); !ec) peer = net::endpoint_string(remote);
  socket.set_option(boost::asio::ip::tcp::no_delay(true), ec);
  net::SslPtr ssl(SSL_new(tls_.get()));
  if (!ssl) {
    refuse(peer, "cannot create a TLS session");
    co_return;
  }
  auto stream = std::make_unique<net::TlsStream>(std::move(socket), std::move(ssl));
  stream->coalesce_io(kTunnelIoBuffer);
  std::string reason;
  {
    Deadline deadline(stream->executor(), kHandshakeTimeout, [&stream] { stream->close(); });
    ec = co_await stream->handshake_server(reason);
    if (deadline.expired()) reason = "TLS handshake timed out";
  }
  if (ec) {
    refuse(peer, reason.empty() ? ec.message() : reason);
    co_return;
  }
  std::string error;
  auto identity = tunnel::identity_from_certificate(stream->peer_certificate(), error);
  if (!identity) {
    refuse(peer, "connector certificate: " + error);
    co_return;
  }
  auto connection =
      tunnel::H2Connection::create(std::move(stream), tunnel::H2Connection::Side::client, options_);
  const tunnel::ConnectorIdentity who = *identity;
  connection->on_closed([this, who, peer, raw = connection.get()](const std::string& why) {
    pool_.remove(who, raw);
    // A connector that drains (GOAWAY) or is stopped leaving is routine; anything else deserves a warning.
    const bool clean = why == "peer going away" || why == "shutdown";
    log_.log(clean ? LogLevel::info : LogLevel::warn, "connector_disconnected",
             {{"tenant", who.tenant}, {"location", who.location}, {"peer", peer}, {"reason", why}});
  });
  // Added before start() on this thread: a close cannot be reported before the connection is in the pool.
  pool_.add(who, connection);
  connection->start();
  log_.log(LogLevel::info, "connector_connected",
           {{"tenant", who.tenant}, {"location", who.location}, {"peer", peer}});
}

}  // namespace gw::runtime
