// TLS contexts for the tunnel between edge and connector: TLS 1.3 only, mutually authenticated,
// and trusting exactly one configured CA (never the system trust store).
//
// The edge is the TLS server: it requires a client certificate that chains to its CA and has the
// clientAuth purpose; which connector it is comes from the certificate afterwards
// (identity_from_certificate). The connector is the TLS client: it presents its certificate and
// checks that the edge's chains to its CA, has the serverAuth purpose and names the edge
// (new_connector_session).
//
// Sessions are not resumed: every connection proves its certificate afresh.
#pragma once

#include <string>

#include "net/socket_stream.hpp"
#include "net/tls_context.hpp"

namespace gw::tunnel {

// Where one side's CA, certificate and key come from. Each of the three is taken from its *_pem
// text when that is not empty (standalone mode's in-memory certificates), otherwise from its *_file.
// The certificate may be followed by intermediate CA certificates (sent to the peer); the CA text
// may hold several certificates, all trusted. (The "{}" initializers let designated initializers
// name only some members without -Wmissing-field-initializers.)
struct TunnelTlsSource {
  std::string ca_pem{};
  std::string cert_pem{};
  std::string key_pem{};
  std::string ca_file{};
  std::string cert_file{};
  std::string key_file{};
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

}  // namespace gw::tunnel
