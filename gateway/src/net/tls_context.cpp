#include "net/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <stdexcept>

namespace gw::net {
namespace {

std::string openssl_error() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

std::string key_of(const TlsClientOptions& o) {
  return (o.verify ? "v1|" : "v0|") + o.ca_file + "|" + o.cert_file + "|" + o.key_file;
}

}  // namespace

SslCtxPtr TlsClientContexts::get(const TlsClientOptions& options) {
  std::lock_guard lock(mutex_);
  auto key = key_of(options);
  if (auto it = contexts_.find(key); it != contexts_.end()) return it->second;

  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()), SslCtxDeleter{});
  if (!ctx) throw std::runtime_error("cannot create TLS context: " + openssl_error());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  if (options.verify) {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    if (options.ca_file.empty()) {
      if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
        throw std::runtime_error("cannot load the system trust store: " + openssl_error());
      }
    } else if (SSL_CTX_load_verify_locations(ctx.get(), options.ca_file.c_str(), nullptr) != 1) {
      throw std::runtime_error("cannot load CA file " + options.ca_file + ": " + openssl_error());
    }
  } else {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  }
  if (!options.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), options.cert_file.c_str()) != 1) {
      throw std::runtime_error("cannot load certificate " + options.cert_file + ": " + openssl_error());
    }
    const auto& key_file = options.key_file.empty() ? options.cert_file : options.key_file;
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      throw std::runtime_error("cannot load private key " + key_file + ": " + openssl_error());
    }
    if (SSL_CTX_check_private_key(ctx.get()) != 1) {
      throw std::runtime_error("private key " + key_file + " does not match certificate " +
                               options.cert_file);
    }
  }
  contexts_.emplace(key, ctx);
  return ctx;
}

SslPtr TlsClientContexts::new_session(SSL_CTX* ctx, const TlsClientOptions& options,
                                      const std::string& host) {
  SslPtr ssl(SSL_new(ctx));
  if (!ssl) throw std::runtime_error("cannot create TLS session: " + openssl_error());
  const std::string& name = options.server_name.empty() ? host : options.server_name;
  boost::system::error_code not_ip;
  boost::asio::ip::make_address(name, not_ip);
  if (not_ip) {
    SSL_set_tlsext_host_name(ssl.get(), name.c_str());
    if (options.verify) SSL_set1_host(ssl.get(), name.c_str());
  } else if (options.verify) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), name.c_str());
  }
  return ssl;
}

}  // namespace gw::net
