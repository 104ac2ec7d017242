#include "support/tls_peer.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <stdexcept>
#include <vector>

namespace gw::e2e {
namespace {

struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct CertDeleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using Cert = std::unique_ptr<X509, CertDeleter>;

void require(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test PKI: ") + what + " failed");
}

Key make_key() {
  Key key(EVP_EC_gen("P-256"));
  require(key != nullptr, "EVP_EC_gen");
  return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  require(extension != nullptr, "X509V3_EXT_conf_nid");
  bool added = X509_add_ext(cert, extension, -1) == 1;
  X509_EXTENSION_free(extension);
  require(added, "X509_add_ext");
}

// A certificate for `key` named `common_name`, signed by `issuer_key` (self-signed when issuer is null).
Cert make_cert(EVP_PKEY* key, const char* common_name, long serial, X509* issuer, EVP_PKEY* issuer_key,
               bool ca) {
  Cert cert(X509_new());
  require(cert != nullptr, "X509_new");
  X509* c = cert.get();
  require(X509_set_version(c, 2) == 1, "X509_set_version");
  require(ASN1_INTEGER_set(X509_get_serialNumber(c), serial) == 1, "serial");
  require(X509_gmtime_adj(X509_getm_notBefore(c), -3600) != nullptr, "notBefore");
  require(X509_gmtime_adj(X509_getm_notAfter(c), 7L * 24 * 3600) != nullptr, "notAfter");
  X509_NAME* name = X509_get_subject_name(c);
  require(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0) == 1,
          "subject");
  require(X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name) == 1, "issuer");
  require(X509_set_pubkey(c, key) == 1, "X509_set_pubkey");
  X509* signer = issuer ? issuer : c;
  if (ca) {
    add_extension(c, signer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(c, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_extension(c, signer, NID_subject_key_identifier, "hash");
  } else {
    add_extension(c, signer, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(c, signer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    add_extension(c, signer, NID_ext_key_usage, "serverAuth");
    add_extension(c, signer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    add_extension(c, signer, NID_authority_key_identifier, "keyid");
  }
  require(X509_sign(c, issuer_key ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
  return cert;
}

void write_pem(const std::filesystem::path& file, X509* cert, EVP_PKEY* key) {
  BIO* bio = BIO_new_file(file.c_str(), "w");
  require(bio != nullptr, "BIO_new_file");
  bool ok = cert ? PEM_write_bio_X509(bio, cert) == 1
                 : PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  BIO_free(bio);
  require(ok, "PEM write");
}

}  // namespace

TestPki::TestPki() {
  Key ca_key = make_key();
  Cert ca = make_cert(ca_key.get(), "gatewayd e2e test CA", 1, nullptr, nullptr, true);
  Key server_key = make_key();
  Cert server = make_cert(server_key.get(), "localhost", 2, ca.get(), ca_key.get(), false);
  write_pem(ca_file(), ca.get(), nullptr);
  write_pem(server_cert_file(), server.get(), nullptr);
  write_pem(server_key_file(), nullptr, server_key.get());
}

TlsEchoServer::TlsEchoServer(const TestPki& pki)
    : tls_(asio::ssl::context::tls_server),
      acceptor_(loop_.context(), tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
  tls_.use_certificate_chain_file(pki.server_cert_file().string());
  tls_.use_private_key_file(pki.server_key_file().string(), asio::ssl::context::pem);
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(loop_.context(), accept_loop(), asio::detached);
  loop_.start();
}

TlsEchoServer::~TlsEchoServer() {
  loop_.stop();
}

std::size_t TlsEchoServer::handshakes() const {
  std::lock_guard lock(mutex_);
  return handshakes_;
}

asio::awaitable<void> TlsEchoServer::accept_loop() {
  while (true) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      continue;
    }
    asio::co_spawn(acceptor_.get_executor(), serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> TlsEchoServer::serve(tcp::socket socket) {
  asio::ssl::stream<tcp::socket> stream(std::move(socket), tls_);
  boost::system::error_code ec;
  co_await stream.async_handshake(asio::ssl::stream_base::server,
                                  asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return;
  {
    std::lock_guard lock(mutex_);
    ++handshakes_;
  }
  std::vector<char> buffer(64 * 1024);
  while (true) {
    std::size_t n =
        co_await stream.async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    if (n > 0) {
      co_await asio::async_write(stream, asio::buffer(buffer.data(), n),
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec) break;
  }
  // The client's close_notify or a bare end of stream ends the session; answer with our own.
  co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
  stream.lowest_layer().close(ec);
}

}  // namespace gw::e2e
