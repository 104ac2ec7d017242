#include "runtime/edge_tunnel.hpp"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "gateway/plugin/deadline.hpp"
#include "net/socket_stream.hpp"

namespace gw::runtime {

namespace {
constexpr std::chrono::milliseconds kHandshakeTimeout{10000};
// TLS records gathered per send() and read per recv() on a tunnel connection (see TlsStream::coalesce_io).
constexpr std::size_t kTunnelIoBuffer = 128 * 1024;
// What tells two connectors of one tenant and location apart: the host they dial from and the
// certificate they present (replicas may share either, rarely both).
std::string connector_instance(const std::string& address, X509* certificate) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  std::string out = address;
  if (certificate && X509_digest(certificate, EVP_sha256(), digest, &size) == 1) {
    out += ' ';
    out.append(reinterpret_cast<const char*>(digest), size);
  }
  return out;
}
}  // namespace

void TunnelListener::refuse(const std::string& peer, const std::string& reason) {
  log_.log(LogLevel::warn, "connector_refused", {{"peer", peer}, {"reason", reason}});
  if (host_.audit().enabled(AuditClass::security)) {
    host_.audit().record({AuditClass::security,
                          "tunnel.connector",
                          {{"peer", peer}, {"outcome", std::string("refused")}, {"reason", reason}}});
  }
}

void TunnelListener::set_tls(net::SslCtxPtr tls) {
  auto in_force = std::make_shared<const net::SslCtxPtr>(std::move(tls));
  tls_.set(in_force);
  recheck(*in_force);
}

void TunnelListener::recheck(const net::SslCtxPtr& in_force) {
  std::vector<std::pair<Established, tunnel::PeerCertificates::Verdict>> untrusted;
  {
    std::lock_guard lock(established_mutex_);
    for (auto it = established_.begin(); it != established_.end();) {
      auto verdict = it->second.certificates.verify(in_force.get(), "ssl_client");
      if (verdict.problem.empty()) {
        ++it;
        continue;
      }
      untrusted.emplace_back(std::move(it->second), std::move(verdict));
      it = established_.erase(it);  // leaving: a later reload need not check it again
    }
  }
  for (const auto& [up, verdict] : untrusted) {
    auto connection = up.connection.lock();
    if (!connection) continue;
    // Shut down, it leaves the pool when its last stream has ended.
    verdict.revoked ? connection->close() : connection->shutdown();
    const std::string why = verdict.reason();
    log_.log(LogLevel::warn, "connector_untrusted",
             {{"tenant", up.who.tenant}, {"location", up.who.location}, {"peer", up.peer}, {"reason", why}});
    if (host_.audit().enabled(AuditClass::security)) {
      host_.audit().record({AuditClass::security,
                            "tunnel.connector",
                            {{"tenant", up.who.tenant},
                             {"location", up.who.location},
                             {"peer", up.peer},
                             {"outcome", std::string("untrusted")},
                             {"reason", why}}});
    }
  }
}

boost::asio::awaitable<void> TunnelListener::accept(boost::asio::ip::tcp::socket socket) {
  boost::system::error_code ec;
  std::string peer;
  std::string socket_address;
  if (auto remote = socket.remote_endpoint(ec); !ec) {
    peer = net::endpoint_string(remote);
    socket_address = remote.address().to_string();
  }
  socket.set_option(boost::asio::ip::tcp::no_delay(true), ec);
  const std::shared_ptr<const net::SslCtxPtr> context = tls_.get();
  net::SslPtr ssl(SSL_new(context->get()));
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
  const tunnel::ConnectorIdentity who = *identity;
  tunnel::PeerCertificates certificates(*stream);
  const std::string instance = connector_instance(socket_address, stream->peer_certificate());
  std::unique_lock placement(placement_);
  auto& current = static_cast<boost::asio::io_context&>(
      boost::asio::query(stream->executor(), boost::asio::execution::context));
  auto& home = pool_.place(who, instance, workers_, current);
  if (&home != &current && !stream->move_to(home)) {
    refuse(peer, "cannot move the connection to another worker");
    co_return;
  }
  std::size_t worker = 0;
  while (worker < workers_.size() && workers_[worker] != &home) ++worker;
  auto connection =
      tunnel::H2Connection::create(std::move(stream), tunnel::H2Connection::Side::client, options_);
  connection->on_closed([this, who, peer, raw = connection.get()](const std::string& why) {
    pool_.remove(who, raw);
    {
      std::lock_guard lock(established_mutex_);
      established_.erase(raw);
    }
    // A connector that drains (GOAWAY) or is stopped leaving is routine; anything else deserves a warning.
    const bool clean = why == "peer going away" || why == "shutdown";
    log_.log(clean ? LogLevel::info : LogLevel::warn, "connector_disconnected",
             {{"tenant", who.tenant}, {"location", who.location}, {"peer", peer}, {"reason", why}});
  });
  // Added before start(): a close cannot be reported before the connection is in the pool.
  pool_.add(who, connection, instance);
  {
    std::lock_guard lock(established_mutex_);
    established_.emplace(connection.get(), Established{connection, std::move(certificates), who, peer});
  }
  // A reload during the handshake checked the connections up before this one joined them.
  if (auto now = tls_.get(); now != context) recheck(*now);
  placement.unlock();
  connection->start();
  log_.log(LogLevel::info, "connector_connected",
           {{"tenant", who.tenant},
            {"location", who.location},
            {"peer", peer},
            {"worker", std::to_string(worker)}});
}

}  // namespace gw::runtime
