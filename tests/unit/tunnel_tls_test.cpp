// The tunnel's mutual TLS on real loopback connections: TlsStream's client and server handshakes with
// contexts from the tunnel builders, the identity read from the connector's certificate, and every
// way a peer is refused (another CA, the wrong name, the wrong certificate purpose, no certificate,
// TLS 1.2), and an established peer's certificates checked again with a new context. Also the builders'
// errors for bad inputs.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

#include "net/socket_stream.hpp"
#include "support/temp_dir.hpp"
#include "tunnel/certificates.hpp"
#include "tunnel/identity.hpp"
#include "tunnel/tunnel_tls.hpp"

using namespace gw;
using tcp = boost::asio::ip::tcp;

namespace {

// What one side of a connection saw.
struct Side {
  error_code handshake;
  std::string reason;
  std::string received;  // what it read after the handshake
  error_code read_error;
  std::unique_ptr<net::TlsStream> stream;
};

// One CA with an edge certificate for edge.test and 127.0.0.1 and a connector certificate for
// acme/berlin: the setup of a working tunnel.
struct Pki {
  tunnel::Pem ca = tunnel::make_ca("tunnel test CA", 1);
  tunnel::Pem edge = tunnel::make_edge_cert(ca, {"edge.test"}, {"127.0.0.1"}, 1);
  tunnel::Pem connector = tunnel::make_connector_cert(ca, {"acme", "berlin"}, 1);

  tunnel::TunnelTlsSource edge_source() const {
    return {.ca_pem = ca.cert, .cert_pem = edge.cert, .key_pem = edge.key};
  }
  tunnel::TunnelTlsSource connector_source() const {
    return {.ca_pem = ca.cert, .cert_pem = connector.cert, .key_pem = connector.key};
  }
};

class TunnelTls : public ::testing::Test {
 protected:
  // Connects a client with `client_ssl` to a server session of `server_ctx` over loopback and runs
  // both handshakes. After a successful handshake the client sends "ping" and the server answers
  // "pong"; a client whose handshake succeeded but whose certificate the server refused learns
  // about it on that read.
  void connect(SSL_CTX* server_ctx, net::SslPtr client_ssl) {
    tcp::acceptor acceptor(context_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket client_socket(context_);
    client_socket.connect(acceptor.local_endpoint());
    tcp::socket server_socket = acceptor.accept();
    client_.stream = std::make_unique<net::TlsStream>(std::move(client_socket), std::move(client_ssl));
    server_.stream =
        std::make_unique<net::TlsStream>(std::move(server_socket), net::SslPtr(SSL_new(server_ctx)));

    asio::co_spawn(context_, run_server(), [](std::exception_ptr e) { ASSERT_FALSE(e); });
    asio::co_spawn(context_, run_client(), [](std::exception_ptr e) { ASSERT_FALSE(e); });
    context_.run();
  }

  asio::awaitable<void> run_server() {
    server_.handshake = co_await server_.stream->handshake_server(server_.reason);
    if (server_.handshake) co_return;
    co_await exchange(server_, nullptr);
    co_await server_.stream->write(asio::buffer(std::string_view("pong")));
  }

  asio::awaitable<void> run_client() {
    client_.handshake = co_await client_.stream->handshake_client(client_.reason);
    if (client_.handshake) co_return;
    co_await exchange(client_, "ping");
  }

  static asio::awaitable<void> exchange(Side& side, const char* send) {
    if (send) co_await side.stream->write(asio::buffer(std::string_view(send)));
    char buffer[64];
    auto result = co_await side.stream->read_some(asio::buffer(buffer));
    side.received.assign(buffer, result.bytes);
    side.read_error = result.error;
  }

  static net::SslCtxPtr server_context(const tunnel::TunnelTlsSource& source) {
    return tunnel::make_edge_server_context(source);
  }

  std::optional<tunnel::ConnectorIdentity> server_sees() {
    std::string error;
    auto identity = tunnel::identity_from_certificate(server_.stream->peer_certificate(), error);
    EXPECT_TRUE(identity) << error;
    return identity;
  }

  asio::io_context context_;
  Side client_;
  Side server_;
};

// A TLS context from PEM text without the tunnel builders' restrictions, for misbehaving peers.
net::SslCtxPtr plain_context(bool server, const tunnel::Pem* identity, int max_version) {
  net::SslCtxPtr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()), net::SslCtxDeleter{});
  SSL_CTX_set_max_proto_version(ctx.get(), max_version);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  if (identity) {
    auto certs = tunnel::parse_certificates(identity->cert, "cert");
    auto key = tunnel::parse_private_key(identity->key, "key");
    EXPECT_EQ(SSL_CTX_use_certificate(ctx.get(), certs.front().get()), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey(ctx.get(), key.get()), 1);
  }
  return ctx;
}

// A connector certificate (PEM) checked with an edge context as after a reload.
std::string verify_pem(const std::string& cert_pem, SSL_CTX* edge_ctx) {
  auto certs = tunnel::parse_certificates(cert_pem, "certificate");
  return tunnel::PeerCertificates(certs.front().get(), nullptr).verify(edge_ctx, "ssl_client").problem;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_F(TunnelTls, MutualHandshakeSucceedsAndTheServerReadsTheIdentity) {
  const Pki pki;
  auto server_ctx = server_context(pki.edge_source());
  auto client_ctx = tunnel::make_connector_client_context(pki.connector_source());
  connect(server_ctx.get(), tunnel::new_connector_session(client_ctx.get(), "edge.test"));

  ASSERT_FALSE(server_.handshake) << server_.reason;
  ASSERT_FALSE(client_.handshake) << client_.reason;
  EXPECT_EQ(server_.received, "ping");
  EXPECT_EQ(client_.received, "pong");
  auto identity = server_sees();
  ASSERT_TRUE(identity);
  EXPECT_EQ(*identity, (tunnel::ConnectorIdentity{"acme", "berlin"}));
  // The connector sees the edge's certificate, which carries no identity.
  ASSERT_NE(client_.stream->peer_certificate(), nullptr);
  std::string error;
  EXPECT_FALSE(tunnel::identity_from_certificate(client_.stream->peer_certificate(), error));
}

// What a reload does with the connections up: the certificates each side saw in the handshake are
// checked again with the new context's CAs, purpose and (connector) the edge's name.
TEST_F(TunnelTls, TheCertificatesOfAnEstablishedPeerAreCheckedAgainWithANewContext) {
  const Pki pki;
  const tunnel::Pem other_ca = tunnel::make_ca("another CA", 1);
  auto server_ctx = server_context(pki.edge_source());
  auto client_ctx = tunnel::make_connector_client_context(pki.connector_source());
  connect(server_ctx.get(), tunnel::new_connector_session(client_ctx.get(), "edge.test"));
  ASSERT_FALSE(server_.handshake) << server_.reason;
  ASSERT_FALSE(client_.handshake) << client_.reason;
  const tunnel::PeerCertificates connector_seen(*server_.stream);
  const tunnel::PeerCertificates edge_seen(*client_.stream);

  // The edge's side: the connector's certificate against the CAs an edge reload may put in force.
  const auto edge_with_ca = [&](const std::string& ca) {
    return tunnel::make_edge_server_context(
        {.ca_pem = ca, .cert_pem = pki.edge.cert, .key_pem = pki.edge.key});
  };
  EXPECT_EQ(connector_seen.verify(edge_with_ca(pki.ca.cert).get(), "ssl_client").problem, "");
  EXPECT_EQ(connector_seen.verify(edge_with_ca(other_ca.cert + pki.ca.cert).get(), "ssl_client").problem, "");
  // The peer sent its CA with its certificate: a root the new context does not trust.
  EXPECT_EQ(connector_seen.verify(edge_with_ca(other_ca.cert).get(), "ssl_client").problem,
            "self-signed certificate in certificate chain");
  EXPECT_EQ(connector_seen.verify(edge_with_ca(pki.ca.cert).get(), "ssl_server").problem,
            "unsuitable certificate purpose");

  // The connector's side: the edge's certificate, its name included.
  const auto connector_with_ca = [&](const std::string& ca) {
    return tunnel::make_connector_client_context(
        {.ca_pem = ca, .cert_pem = pki.connector.cert, .key_pem = pki.connector.key});
  };
  EXPECT_EQ(edge_seen.verify(client_ctx.get(), "ssl_server", "edge.test").problem, "");
  EXPECT_EQ(edge_seen.verify(client_ctx.get(), "ssl_server", "127.0.0.1").problem, "");
  EXPECT_EQ(edge_seen.verify(client_ctx.get(), "ssl_server", "other.test").problem, "hostname mismatch");
  EXPECT_EQ(edge_seen.verify(client_ctx.get(), "ssl_server", "127.0.0.2").problem, "IP address mismatch");
  EXPECT_EQ(edge_seen.verify(connector_with_ca(other_ca.cert).get(), "ssl_server", "edge.test").problem,
            "self-signed certificate in certificate chain");

  EXPECT_EQ(tunnel::PeerCertificates().verify(client_ctx.get(), "ssl_server").problem, "no certificate");
}

TEST_F(TunnelTls, EdgeRefusesARevokedConnectorCertificate) {
  const Pki pki;
  const tunnel::Pem other = tunnel::make_connector_cert(pki.ca, {"acme", "berlin"}, 1);
  tunnel::TunnelTlsSource edge = pki.edge_source();
  edge.crl_pem = tunnel::make_crl(pki.ca, {}, {{"connector", pki.connector.cert}}, 1);
  auto server_ctx = server_context(edge);
  auto client_ctx = tunnel::make_connector_client_context(pki.connector_source());
  connect(server_ctx.get(), tunnel::new_connector_session(client_ctx.get(), "edge.test"));

  ASSERT_TRUE(server_.handshake);
  EXPECT_EQ(server_.reason, "TLS certificate verification failed: certificate revoked");
  // Checked again after a reload, as an established connection's certificate is.
  const tunnel::Pem& revoked = pki.connector;
  auto untouched = tunnel::make_edge_server_context(pki.edge_source());
  EXPECT_EQ(verify_pem(revoked.cert, untouched.get()), "");
  EXPECT_EQ(verify_pem(revoked.cert, server_ctx.get()), "certificate revoked");
  auto revoked_certs = tunnel::parse_certificates(revoked.cert, "certificate");
  EXPECT_TRUE(tunnel::PeerCertificates(revoked_certs.front().get(), nullptr)
                  .verify(server_ctx.get(), "ssl_client")
                  .revoked);
  EXPECT_FALSE(tunnel::PeerCertificates(revoked_certs.front().get(), nullptr)
                   .verify(untouched.get(), "ssl_client")
                   .revoked);
  EXPECT_EQ(verify_pem(other.cert, server_ctx.get()), "");
}

TEST_F(TunnelTls, BothSidesChooseAes128GcmEvenIfTheConnectorPrefersAnother) {
  const Pki pki;
  auto server_ctx = server_context(pki.edge_source());
  auto client_ctx = tunnel::make_connector_client_context(pki.connector_source());
  auto client_ssl = tunnel::new_connector_session(client_ctx.get(), "edge.test");
  ASSERT_EQ(SSL_set_ciphersuites(client_ssl.get(), "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"), 1);
  connect(server_ctx.get(), std::move(client_ssl));

  ASSERT_FALSE(server_.handshake) << server_.reason;
  ASSERT_FALSE(client_.handshake) << client_.reason;
  EXPECT_EQ(server_.stream->cipher_suite(), "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(client_.stream->cipher_suite(), "TLS_AES_128_GCM_SHA256");
}

TEST_F(TunnelTls, ContextsFromFilesAndAnIpAddressAsServerName) {
  const Pki pki;
  gw::testing::TempDir dir;
  tunnel::TunnelTlsSource edge{.ca_file = dir.write("ca.pem", pki.ca.cert).string(),
                               .cert_file = dir.write("edge.pem", pki.edge.cert).string(),
                               .key_file = dir.write("edge.key", pki.edge.key).string()};
  tunnel::TunnelTlsSource connector{.ca_file = edge.ca_file,
                                    .cert_file = dir.write("connector.pem", pki.connector.cert).string(),
                                    .key_file = dir.write("connector.key", pki.connector.key).string()};
  auto server_ctx = server_context(edge);
  auto client_ctx = tunnel::make_connector_client_context(connector);
  connect(server_ctx.get(), tunnel::new_connector_session(client_ctx.get(), "127.0.0.1"));

  ASSERT_FALSE(server_.handshake) << server_.reason;
  ASSERT_FALSE(client_.handshake) << client_.reason;
  EXPECT_EQ(client_.received, "pong");
  auto identity = server_sees();
  ASSERT_TRUE(identity);
  EXPECT_EQ(identity->str(), "acme/berlin");
}

TEST_F(TunnelTls, EdgeRefusesAConnectorCertificateFromAnotherCa) {
  const Pki pki;
  const tunnel::Pem other_ca = tunnel::make_ca("another CA", 1);
  const tunnel::Pem stranger = tunnel::make_connector_cert(other_ca, {"acme", "berlin"}, 1);
  auto server_ctx = server_context(pki.edge_source());
  // The stranger trusts the edge; the edge must not trust the stranger.
  auto client_ctx = tunnel::make_connector_client_context(
      {.ca_pem = pki.ca.cert, .cert_pem = stranger.cert, .key_pem = stranger.key});
  connect(server_ctx.get(), tunnel::new_connector_session(client_ctx.get(), "edge.test"));

  ASSERT_TRUE(server_.handshake);
  EXPECT_TRUE(
      contains(server_.reason, "TLS certificate verification failed: unable to get local issuer certificate"))
      << server_.reason;
  // In TLS 1.3 the client's handshake ends before the server has checked its certificate: the
  // refusal arrives as an alert on the client's first read.
  EXPECT_FALSE(client_.handshake) << client_.reason;
  EXPECT_EQ(client_.read_error.message(), "tlsv1 alert unknown ca");
  EXPECT_TRUE(client_.received.empty());
}

TEST_F(TunnelTls, EdgeRefusesAConnectorWithoutCertificate) {
  const Pki pki;
  auto server_ctx = server_context(pki.edge_source());
  auto client_ctx = plain_context(false, nullptr, TLS1_3_VERSION);
  connect(server_ctx.get(), net::SslPtr(SSL_new(client_ctx.get())));

  ASSERT_TRUE(server_.handshake);
  EXPECT_EQ(server_.reason, "TLS handshake failed: peer did not return a certificate");
  EXPECT_EQ(client_.read_error.message(), "tlsv13 alert certificate required");
}

TEST_F(TunnelTls, EdgeRefusesAServerCertificateUsedAsAClientCertificate) {
  const Pki pki;
  auto server_ctx = server_context(pki.edge_source());
  // Signed by the right CA, but for serverAuth only.
  auto client_ctx = tunnel::make_connector_client_context(
      {.ca_pem = pki.ca.cert, .cert_pem = pki.edge.cert, .key_pem = pki.edge.key});
  connect(server_ctx.get(), tunnel::new_connector_session(client_ctx.get(), "edge.test"));

  ASSERT_TRUE(server_.handshake);
  EXPECT_EQ(server_.reason, "TLS certificate verification failed: unsuitable certificate purpose");
}

TEST_F(TunnelTls, ConnectorRefusesAnEdgeCertificateForAnotherName) {
  const Pki pki;
  auto server_ctx = server_context(pki.edge_source());
  auto client_ctx = tunnel::make_connector_client_context(pki.connector_source());
  connect(server_ctx.get(), tunnel::new_connector_session(client_ctx.get(), "other.test"));

  ASSERT_TRUE(client_.handshake);
  EXPECT_EQ(client_.reason, "TLS certificate verification failed: hostname mismatch");
  // The edge learns why from the connector's alert.
  ASSERT_TRUE(server_.handshake);
  EXPECT_EQ(server_.reason, "TLS handshake failed: sslv3 alert bad certificate");
}

TEST_F(TunnelTls, ConnectorRefusesAnEdgeCertificateForAnotherAddress) {
  const Pki pki;
  auto server_ctx = server_context(pki.edge_source());
  auto client_ctx = tunnel::make_connector_client_context(pki.connector_source());
  connect(server_ctx.get(), tunnel::new_connector_session(client_ctx.get(), "127.0.0.2"));

  ASSERT_TRUE(client_.handshake);
  EXPECT_EQ(client_.reason, "TLS certificate verification failed: IP address mismatch");
}

TEST_F(TunnelTls, ConnectorRefusesAnEdgeCertificateFromAnotherCa) {
  const Pki pki;
  const tunnel::Pem other_ca = tunnel::make_ca("another CA", 1);
  const tunnel::Pem impostor = tunnel::make_edge_cert(other_ca, {"edge.test"}, {}, 1);
  auto server_ctx =
      server_context({.ca_pem = pki.ca.cert, .cert_pem = impostor.cert, .key_pem = impostor.key});
  auto client_ctx = tunnel::make_connector_client_context(pki.connector_source());
  connect(server_ctx.get(), tunnel::new_connector_session(client_ctx.get(), "edge.test"));

  ASSERT_TRUE(client_.handshake);
  EXPECT_EQ(client_.reason, "TLS certificate verification failed: unable to get local issuer certificate");
}

TEST_F(TunnelTls, ConnectorRefusesAConnectorCertificateAsTheEdgeCertificate) {
  const Pki pki;
  // Right CA, clientAuth only, and no DNS name: a connector must not accept it from an edge.
  auto server_ctx =
      server_context({.ca_pem = pki.ca.cert, .cert_pem = pki.connector.cert, .key_pem = pki.connector.key});
  auto client_ctx = tunnel::make_connector_client_context(pki.connector_source());
  connect(server_ctx.get(), tunnel::new_connector_session(client_ctx.get(), "edge.test"));

  ASSERT_TRUE(client_.handshake);
  EXPECT_EQ(client_.reason, "TLS certificate verification failed: unsuitable certificate purpose");
}

TEST_F(TunnelTls, EdgeRefusesATls12OnlyClient) {
  const Pki pki;
  auto server_ctx = server_context(pki.edge_source());
  auto client_ctx = plain_context(false, &pki.connector, TLS1_2_VERSION);
  connect(server_ctx.get(), net::SslPtr(SSL_new(client_ctx.get())));

  ASSERT_TRUE(server_.handshake);
  EXPECT_EQ(server_.reason, "TLS handshake failed: unsupported protocol");
  ASSERT_TRUE(client_.handshake);
  EXPECT_EQ(client_.reason, "TLS handshake failed: tlsv1 alert protocol version");
}

TEST_F(TunnelTls, ConnectorRefusesATls12OnlyServer) {
  const Pki pki;
  auto server_ctx = plain_context(true, &pki.edge, TLS1_2_VERSION);
  auto client_ctx = tunnel::make_connector_client_context(pki.connector_source());
  connect(server_ctx.get(), tunnel::new_connector_session(client_ctx.get(), "edge.test"));

  ASSERT_TRUE(client_.handshake);
  EXPECT_TRUE(server_.handshake);
  EXPECT_EQ(client_.reason, "TLS handshake failed: tlsv1 alert protocol version");
}

// ---- builder errors ---------------------------------------------------------------------------------

namespace {

std::string build_error(const tunnel::TunnelTlsSource& source, bool server = true) {
  try {
    if (server) {
      tunnel::make_edge_server_context(source);
    } else {
      tunnel::make_connector_client_context(source);
    }
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

}  // namespace

TEST(TunnelTlsBuilders, NameTheFileAndTheReason) {
  const Pki pki;
  gw::testing::TempDir dir;
  const std::string ca = dir.write("ca.pem", pki.ca.cert).string();
  const std::string cert = dir.write("edge.pem", pki.edge.cert).string();
  const std::string key = dir.write("edge.key", pki.edge.key).string();
  const std::string other_key = dir.write("other.key", pki.connector.key).string();
  const std::string garbage =
      dir.write("garbage.pem", "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n")
          .string();
  const std::string empty = dir.write("empty.pem", "").string();
  const std::string missing = (dir.path() / "missing.key").string();

  EXPECT_EQ(build_error({.ca_file = ca, .cert_file = cert, .key_file = missing}),
            "cannot read key_file " + missing + ": No such file or directory");
  EXPECT_EQ(build_error({.ca_file = ca, .cert_file = cert, .key_file = other_key}, false),
            "cert_file " + cert + " and key_file " + other_key + " do not match");
  EXPECT_EQ(build_error({.ca_file = empty, .cert_file = cert, .key_file = key}),
            "cannot read ca_file " + empty + ": no certificate found (expected -----BEGIN CERTIFICATE-----)");
  EXPECT_TRUE(contains(build_error({.ca_file = ca, .cert_file = garbage, .key_file = key}),
                       "cannot read cert_file " + garbage + ": certificate 1 is malformed: "));
  EXPECT_EQ(build_error({.ca_file = ca, .cert_file = cert, .key_file = cert}),
            "cannot read key_file " + cert + ": no private key found (expected -----BEGIN PRIVATE KEY-----)");
  EXPECT_EQ(build_error({.cert_file = cert, .key_file = key}), "ca_file is required");
  EXPECT_EQ(build_error({.ca_pem = pki.ca.cert, .cert_pem = pki.edge.cert}), "key_file is required");
  EXPECT_EQ(build_error({.ca_pem = pki.ca.cert, .cert_pem = pki.edge.cert, .key_pem = "junk"}),
            "cannot read key_pem: no private key found (expected -----BEGIN PRIVATE KEY-----)");
  EXPECT_TRUE(contains(build_error({.ca_pem = pki.ca.cert,
                                    .cert_pem = pki.edge.cert,
                                    .key_pem = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n"
                                               "-----END ENCRYPTED PRIVATE KEY-----\n"}),
                       "encrypted"));
}

TEST(TunnelTlsBuilders, ACrlFileMustHoldACurrentCrlOfEveryTrustedCa) {
  const Pki pki;
  const tunnel::Pem other_ca = tunnel::make_ca("another CA", 1);
  tunnel::TunnelTlsSource source = pki.edge_source();
  source.crl_pem = tunnel::make_crl(other_ca, {}, {}, 1);
  EXPECT_EQ(build_error(source), "crl_pem: CRL 1 is not signed by a CA of ca_pem");
  // Two CAs trusted, a CRL of one of them only.
  source.ca_pem = pki.ca.cert + other_ca.cert;
  source.crl_pem = tunnel::make_crl(pki.ca, {}, {}, 1);
  EXPECT_EQ(build_error(source),
            "crl_pem has no CRL of /CN=another CA (ca_pem): with a crl_file, every "
            "trusted CA needs one");
  source.crl_pem += tunnel::make_crl(other_ca, {}, {}, 1);
  EXPECT_NO_THROW(tunnel::make_edge_server_context(source));
  source.crl_pem = "not a CRL";
  EXPECT_EQ(build_error(source), "cannot read crl_pem: no CRL found (expected -----BEGIN X509 CRL-----)");
  gw::testing::TempDir dir;
  const std::string missing = (dir.path() / "crl.pem").string();
  source.crl_pem.clear();
  source.crl_file = missing;
  EXPECT_EQ(build_error(source, false), "cannot read crl_file " + missing + ": No such file or directory");
}

TEST(TunnelTlsBuilders, ContextsAreTls13OnlyAndVerifyPeers) {
  const Pki pki;
  auto server = tunnel::make_edge_server_context(pki.edge_source());
  auto client = tunnel::make_connector_client_context(pki.connector_source());
  EXPECT_EQ(SSL_CTX_get_min_proto_version(server.get()), TLS1_3_VERSION);
  EXPECT_EQ(SSL_CTX_get_max_proto_version(server.get()), TLS1_3_VERSION);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(client.get()), TLS1_3_VERSION);
  EXPECT_EQ(SSL_CTX_get_max_proto_version(client.get()), TLS1_3_VERSION);
  EXPECT_EQ(SSL_CTX_get_verify_mode(server.get()), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
  EXPECT_EQ(SSL_CTX_get_verify_mode(client.get()), SSL_VERIFY_PEER);
}

TEST(TunnelTlsBuilders, ASessionNeedsAServerName) {
  const Pki pki;
  auto client = tunnel::make_connector_client_context(pki.connector_source());
  EXPECT_THROW(tunnel::new_connector_session(client.get(), ""), std::runtime_error);
  EXPECT_TRUE(tunnel::new_connector_session(client.get(), "[::1]"));
  EXPECT_TRUE(tunnel::new_connector_session(client.get(), "edge.example.com"));
}
