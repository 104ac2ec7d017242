// TLS contexts for the tunnel between edge and connector: TLS 1.3 only, mutually authenticated,
// and trusting exactly one configured CA (never the system trust store).
//
// The edge is the TLS server: it requires a client certificate that chains to its CA and has the
// clientAuth purpose; which connector it is comes from the certificate afterwards
// (identity_from_certificate). The connector is the TLS client: it presents its certificate and
// checks that the edge's chains to its CA, has the serverAuth purpose and names the edge
// (new_connector_session).
//
// Sessions are not resumed: every connection proves its certificate afresh. A reload that changes the
// trusted CAs checks the certificates of established connections again (PeerCertificates).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>

#include "net/socket_stream.hpp"
#include "net/tls_context.hpp"

namespace gw::tunnel {

// Where one side's CA, certificate and key come from. Each of the three is taken from its *_pem
// text when that is not empty (standalone mode's in-memory certificates), otherwise from its *_file.
// The certificate may be followed by intermediate CA certificates (sent to the peer); the CA text
// may hold several certificates, all trusted. The CRLs (crl_pem, crl_file; both empty: none) are
// optional: given, they must hold a current CRL of every trusted CA, and a peer whose certificate one
// of them lists is refused. (The "{}" initializers let designated initializers
// name only some members without -Wmissing-field-initializers.)
struct TunnelTlsSource {
  std::string ca_pem{};
  std::string cert_pem{};
  std::string key_pem{};
  std::string ca_file{};
  std::string cert_file{};
  std::string key_file{};
  std::string crl_pem{};
  std::string crl_file{};
};

// Contexts for the two sides. Throw std::runtime_error naming the item and the reason, e.g.
// "cannot read key_file certs/edge.key: No such file or directory" or
// "cert_file certs/edge.pem and key_file certs/other.key do not match".
net::SslCtxPtr make_edge_server_context(const TunnelTlsSource& source);
net::SslCtxPtr make_connector_client_context(const TunnelTlsSource& source);

// A session for one connection from a connector to an edge: SNI and certificate name checking
// for `server_name`, a DNS name or an IP address literal (IPv6 with or without brackets); an IP
// address is matched against the certificate's IP SANs and sends no SNI. Throws
// std::runtime_error when `server_name` is empty.
net::SslPtr new_connector_session(SSL_CTX* ctx, const std::string& server_name);

// Until when the material of `contexts` (null ones skipped) is valid, in seconds since the epoch (0:
// there is none): the first to expire of the certificates they present (notAfter) and of the CAs they
// trust, and the first of their CRLs to need issuing again (nextUpdate).
struct TlsValidity {
  std::int64_t certificate = 0;
  std::int64_t trusted_ca = 0;
  std::int64_t crl = 0;
};
TlsValidity validity_of(std::initializer_list<SSL_CTX*> contexts);

// What a peer presented in its handshake, kept so that it can be checked again when the trust store
// changes (a reload): a tunnel connection whose peer would now be refused is shut down.
class PeerCertificates {
 public:
  PeerCertificates() = default;
  // A certificate and the chain sent with it (either may be null). Both are shared (reference
  // counts), not copied.
  PeerCertificates(X509* certificate, STACK_OF(X509) * chain);
  // Of an established session: its peer's certificate and the chain the peer sent.
  explicit PeerCertificates(const net::TlsStream& stream)
      : PeerCertificates(stream.peer_certificate(), stream.peer_chain()) {}

  struct Verdict {
    std::string problem;   // empty: trusted; otherwise OpenSSL's words ("certificate revoked")
    bool revoked = false;  // the problem is that one of the context's CRLs lists the certificate
    // What a connection sent away for it logs. A revoked certificate may be in the wrong hands: its
    // connection is closed and its streams cut. Any other (a CA dropped while its certificates are
    // being replaced, say) lets its streams finish.
    std::string reason() const {
      return "certificate no longer trusted: " + problem + (revoked ? "; its streams were cut" : "");
    }
  };
  // Checks them as a handshake with `ctx` would now: a chain to one of its trusted CAs, the dates, the
  // purpose ("ssl_client" for a connector's certificate, "ssl_server" for an edge's), its CRLs and,
  // when `server_name` is not empty, the name (as new_connector_session sets it).
  Verdict verify(SSL_CTX* ctx, const char* purpose, const std::string& server_name = {}) const;

 private:
  std::shared_ptr<X509> certificate_;
  std::shared_ptr<STACK_OF(X509)> chain_;
};

}  // namespace gw::tunnel
