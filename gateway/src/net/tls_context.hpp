// Client TLS contexts for connections to targets, one per distinct TlsClientOptions, built when the
// configuration is loaded so that a missing CA file or a bad key is a start-up error, not a runtime one.
#pragma once

#include <openssl/ssl.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "gateway/plugin/tunnel.hpp"
#include "net/socket_stream.hpp"

namespace gw::net {

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const noexcept { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::shared_ptr<SSL_CTX>;

class TlsClientContexts {
 public:
  // Returns the context for `options`, creating it on first use. Throws std::runtime_error with a
  // description when a file cannot be loaded.
  SslCtxPtr get(const TlsClientOptions& options);

  // A new SSL for one connection to `host`: SNI and host name (or IP address) verification set from
  // options.server_name, falling back to `host`.
  static SslPtr new_session(SSL_CTX* ctx, const TlsClientOptions& options, const std::string& host);

 private:
  std::mutex mutex_;
  std::map<std::string, SslCtxPtr> contexts_;
};

}  // namespace gw::net
