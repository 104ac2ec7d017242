#include "tunnel/tunnel_tls.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <ctime>
#include <stdexcept>

#include "tunnel/certificates.hpp"

namespace gw::tunnel {
namespace {

// Chains are edge/connector certificate -> (intermediates) -> CA.
constexpr int kVerifyDepth = 4;
constexpr unsigned char kSessionContext[] = "gatewayd-tunnel";
constexpr char kCipherSuites[] = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

// One of the source's three items: its text and how to name it in errors.
struct Item {
  std::string text;
  std::string what;  // "ca_file certs/ca.pem" or "ca_pem"
};

Item load(const std::string& pem, const std::string& file, const char* pem_name, const char* file_name) {
  if (!pem.empty()) return {pem, pem_name};
  if (file.empty()) throw std::runtime_error(std::string(file_name) + " is required");
  std::string what = std::string(file_name) + " " + file;
  return {read_text_file(file, what), what};
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + openssl_error_reason());
}

std::string without_brackets(const std::string& name) {
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') return name.substr(1, name.size() - 2);
  return name;
}

bool is_ip_address(const std::string& name) {
  boost::system::error_code not_ip;
  boost::asio::ip::make_address(name, not_ip);
  return !not_ip;
}

// The name the edge's certificate must carry: a DNS name (no partial wildcards) or an IP address.
bool expect_name(X509_VERIFY_PARAM* param, const std::string& name) {
  if (is_ip_address(name)) return X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) == 1;
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0) == 1;
}

std::string subject_of(X509* cert) {
  char text[256];
  X509_NAME_oneline(X509_get_subject_name(cert), text, sizeof text);
  return text;
}

// Puts the CRLs in `store` and has its verifications check them. Each must be signed by one of the
// trusted CAs and current, and every trusted CA must have one: OpenSSL would otherwise refuse every
// certificate of that CA ("unable to get certificate CRL") at each handshake, not here.
void add_crls(X509_STORE* store, const std::vector<X509CrlPtr>& crls, const std::vector<X509Ptr>& ca_certs,
              const std::string& crl_what, const std::string& ca_what) {
  std::vector<bool> covered(ca_certs.size(), false);
  for (std::size_t n = 0; n < crls.size(); ++n) {
    X509_CRL* crl = crls[n].get();
    const std::string which = crl_what + ": CRL " + std::to_string(n + 1);
    std::size_t issuer = 0;
    while (issuer < ca_certs.size() &&
           !(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca_certs[issuer].get())) == 0 &&
             X509_CRL_verify(crl, X509_get0_pubkey(ca_certs[issuer].get())) == 1)) {
      ++issuer;
    }
    ERR_clear_error();
    if (issuer == ca_certs.size()) throw std::runtime_error(which + " is not signed by a CA of " + ca_what);
    const ASN1_TIME* next_update = X509_CRL_get0_nextUpdate(crl);
    if (next_update == nullptr || X509_cmp_current_time(next_update) <= 0) {
      throw std::runtime_error(which + " (of " + subject_of(ca_certs[issuer].get()) +
                               ") is out of date: issue a new one (gatewayd certs revoke)");
    }
    covered[issuer] = true;
    if (X509_STORE_add_crl(store, crl) != 1) fail("cannot use " + crl_what);
  }
  for (std::size_t i = 0; i < ca_certs.size(); ++i) {
    if (!covered[i]) {
      throw std::runtime_error(crl_what + " has no CRL of " + subject_of(ca_certs[i].get()) + " (" + ca_what +
                               "): with a crl_file, every trusted CA needs one");
    }
  }
  X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
}

net::SslCtxPtr make_context(const TunnelTlsSource& source, bool server) {
  // Everything is read and checked before the context exists, so errors name the input at fault.
  const Item ca = load(source.ca_pem, source.ca_file, "ca_pem", "ca_file");
  const Item cert = load(source.cert_pem, source.cert_file, "cert_pem", "cert_file");
  const Item key = load(source.key_pem, source.key_file, "key_pem", "key_file");
  auto ca_certs = parse_certificates(ca.text, ca.what);
  auto chain = parse_certificates(cert.text, cert.what);
  EvpPkeyPtr private_key = parse_private_key(key.text, key.what);
  if (X509_check_private_key(chain.front().get(), private_key.get()) != 1) {
    ERR_clear_error();
    throw std::runtime_error(cert.what + " and " + key.what + " do not match");
  }

  ERR_clear_error();
  net::SslCtxPtr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()), net::SslCtxDeleter{});
  if (!ctx) fail("cannot create a TLS context");
  SSL_CTX* c = ctx.get();
  if (SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) != 1) {
    fail("cannot restrict the TLS context to TLS 1.3");
  }
  // AES-128-GCM first: 128-bit security, and about 13% less CPU per byte than AES-256-GCM with
  // AES-NI, which is the tunnel's largest cost after the kernel's. Both sides ask for it, so it is
  // chosen whichever side decides.
  if (SSL_CTX_set_ciphersuites(c, kCipherSuites) != 1) fail("cannot set the TLS 1.3 cipher suites");
  if (server) SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);

  if (SSL_CTX_use_certificate(c, chain.front().get()) != 1) fail("cannot use " + cert.what);
  for (std::size_t i = 1; i < chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(c, chain[i].get()) != 1) fail("cannot use " + cert.what);
  }
  if (SSL_CTX_use_PrivateKey(c, private_key.get()) != 1) fail("cannot use " + key.what);

  // Our own store, so that only the configured CA is trusted.
  X509_STORE* store = X509_STORE_new();
  if (store == nullptr) fail("cannot create a certificate store");
  SSL_CTX_set_cert_store(c, store);  // the context owns it from here
  for (const auto& ca_cert : ca_certs) {
    if (X509_STORE_add_cert(store, ca_cert.get()) != 1) fail("cannot use " + ca.what);
    // Tells the connector which CA's certificate to present.
    if (server && SSL_CTX_add_client_CA(c, ca_cert.get()) != 1) fail("cannot use " + ca.what);
  }
  if (!source.crl_pem.empty() || !source.crl_file.empty()) {
    const Item crl = load(source.crl_pem, source.crl_file, "crl_pem", "crl_file");
    add_crls(store, parse_crls(crl.text, crl.what), ca_certs, crl.what, ca.what);
  }
  SSL_CTX_set_verify_depth(c, kVerifyDepth);
  SSL_CTX_set_verify(c, server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER,
                     nullptr);

  // No resumption: a resumed session would skip the certificate check that admits a connector.
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  if (server) {
    SSL_CTX_set_num_tickets(c, 0);
    SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_id_context(c, kSessionContext, sizeof kSessionContext - 1);
  }
  return ctx;
}

}  // namespace

net::SslCtxPtr make_edge_server_context(const TunnelTlsSource& source) {
  return make_context(source, true);
}

net::SslCtxPtr make_connector_client_context(const TunnelTlsSource& source) {
  return make_context(source, false);
}

net::SslPtr new_connector_session(SSL_CTX* ctx, const std::string& server_name) {
  if (server_name.empty()) throw std::runtime_error("the edge's server name is empty");
  const std::string name = without_brackets(server_name);
  ERR_clear_error();
  net::SslPtr ssl(SSL_new(ctx));
  if (!ssl) fail("cannot create a TLS session");
  // An IP address is matched against the certificate's IP SANs and sends no SNI (RFC 6066).
  if (!is_ip_address(name) && SSL_set_tlsext_host_name(ssl.get(), name.c_str()) != 1)
    fail("invalid server name " + name);
  if (!expect_name(SSL_get0_param(ssl.get()), name)) fail("invalid server name " + name);
  return ssl;
}

namespace {

std::int64_t epoch_seconds(const ASN1_TIME* time) {
  std::tm parts{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) return 0;
  return static_cast<std::int64_t>(timegm(&parts));
}

// The earlier of two times, where 0 is "none".
std::int64_t earliest(std::int64_t a, std::int64_t b) {
  return a == 0 ? b : b == 0 ? a : std::min(a, b);
}

}  // namespace

TlsValidity validity_of(std::initializer_list<SSL_CTX*> contexts) {
  TlsValidity validity;
  for (SSL_CTX* ctx : contexts) {
    if (ctx == nullptr) continue;
    if (X509* own = SSL_CTX_get0_certificate(ctx))
      validity.certificate = earliest(validity.certificate, epoch_seconds(X509_get0_notAfter(own)));
    STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
    for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
      X509_OBJECT* object = sk_X509_OBJECT_value(objects, i);
      if (X509* ca = X509_OBJECT_get0_X509(object)) {
        validity.trusted_ca = earliest(validity.trusted_ca, epoch_seconds(X509_get0_notAfter(ca)));
      } else if (X509_CRL* crl = X509_OBJECT_get0_X509_CRL(object)) {
        validity.crl = earliest(validity.crl, epoch_seconds(X509_CRL_get0_nextUpdate(crl)));
      }
    }
  }
  return validity;
}

PeerCertificates::PeerCertificates(X509* certificate, STACK_OF(X509) * chain) {
  if (certificate && X509_up_ref(certificate) == 1) certificate_.reset(certificate, X509_free);
  if (STACK_OF(X509)* copy = chain ? X509_chain_up_ref(chain) : nullptr)
    chain_.reset(copy, [](STACK_OF(X509) * c) { sk_X509_pop_free(c, X509_free); });
}

PeerCertificates::Verdict PeerCertificates::verify(SSL_CTX* ctx, const char* purpose,
                                                   const std::string& server_name) const {
  if (!certificate_) return {"no certificate"};
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> check(X509_STORE_CTX_new(),
                                                                        X509_STORE_CTX_free);
  ERR_clear_error();
  if (!check ||
      X509_STORE_CTX_init(check.get(), SSL_CTX_get_cert_store(ctx), certificate_.get(), chain_.get()) != 1 ||
      X509_STORE_CTX_set_default(check.get(), purpose) != 1) {
    return {"cannot check the certificate: " + openssl_error_reason()};
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(check.get());
  X509_VERIFY_PARAM_set1(param, SSL_CTX_get0_param(ctx));  // the context's depth
  if (!server_name.empty() && !expect_name(param, without_brackets(server_name))) {
    return {"invalid server name " + server_name};
  }
  if (X509_verify_cert(check.get()) == 1) return {};
  ERR_clear_error();
  const int error = X509_STORE_CTX_get_error(check.get());
  return {X509_verify_cert_error_string(error), error == X509_V_ERR_CERT_REVOKED};
}

}  // namespace gw::tunnel
