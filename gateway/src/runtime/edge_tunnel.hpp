// The edge's tunnel listener: a connector dials in, proves its identity with a client certificate
// from the configured CA (TLS 1.3, mutual), and its connection joins the connector pool under the
// tenant and location its certificate names. A handshake that fails, or a certificate without a valid
// identity, is refused, logged and audited as a security event.
//
// A reload that changes the CAs checks the certificates of the connections up again: a connector that
// would now be refused gets GOAWAY: it takes no new streams, and the ones it carries finish.
//
// An established connection moves to the worker ConnectorPool::place() picks, so that every worker
// holds a share of every connector's connections (the pool prefers a connection on the client's own
// worker).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "gateway/plugin/host.hpp"
#include "host/logger.hpp"
#include "net/tls_context.hpp"
#include "runtime/in_force.hpp"
#include "tunnel/connector_pool.hpp"
#include "tunnel/tunnel_tls.hpp"

namespace gw::runtime {

class TunnelListener {
 public:
  TunnelListener(net::SslCtxPtr tls, tunnel::ConnectorPool& pool, tunnel::H2Options options, Host& host,
                 host::LogSink& log)
      : tls_(std::make_shared<const net::SslCtxPtr>(std::move(tls))),
        pool_(pool),
        options_(options),
        host_(host),
        log_(log) {}

  // Puts a new TLS context (the edge's certificate and the CA it trusts connectors from) in force for
  // the connections that dial in afterwards (a reload). An established connection keeps its session
  // while its connector's certificate still verifies with the new context; one that does not is shut
  // down gracefully, logged as `connector_untrusted` and audited. Any thread.
  void set_tls(net::SslCtxPtr tls);

  // The workers' io_contexts that connections are spread over; without them a connection stays on the
  // worker that accepted it. Before the first accept().
  void set_workers(std::vector<boost::asio::io_context*> workers) { workers_ = std::move(workers); }

  // Serves one accepted connection until it is established in the pool (or refused).
  boost::asio::awaitable<void> accept(boost::asio::ip::tcp::socket socket);

 private:
  void refuse(const std::string& peer, const std::string& reason);
  // Shuts down the connections whose connector's certificate does not verify with `context`.
  void recheck(const net::SslCtxPtr& context);
  // The connector's side of a connection up, for set_tls to check again.
  struct Established {
    std::weak_ptr<tunnel::H2Connection> connection;
    tunnel::PeerCertificates certificates;
    tunnel::ConnectorIdentity who;
    std::string peer;
  };

  runtime::InForce<net::SslCtxPtr> tls_;
  tunnel::ConnectorPool& pool_;
  tunnel::H2Options options_;
  Host& host_;
  host::LogSink& log_;
  std::vector<boost::asio::io_context*> workers_;
  std::mutex placement_;  // place() and add() of one connection, not interleaved with another's
  std::mutex established_mutex_;
  std::unordered_map<const tunnel::H2Connection*, Established> established_;
};

}  // namespace gw::runtime
