// Tunnel: the one way a plugin reaches a target.
//
// A plugin asks the tunnel to open a stream to a target; whether that is a direct TCP/TLS connection
// (proxy type `internet`) or a stream through a connector (`on_premise`) is the core's business. Plugins
// never open sockets of their own, so limits, metrics and audit apply to every protocol alike.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "gateway/plugin/stream.hpp"

namespace gw {

enum class ProxyType { internet, on_premise };

// TLS towards the target. Verification is on by default; `server_name` defaults to the target host
// and is used both for SNI and for certificate name checking.
struct TlsClientOptions {
  bool enabled = false;
  bool verify = true;
  std::string server_name;
  std::string ca_file;    // empty: the system trust store
  std::string cert_file;  // client certificate (optional)
  std::string key_file;
};

struct OpenRequest {
  std::string host;
  std::uint16_t port = 0;
  ProxyType proxy_type = ProxyType::internet;
  std::string location_id;  // which connector serves an on_premise target
  TlsClientOptions tls;
  std::chrono::milliseconds connect_timeout{5000};
  bool no_delay = true;
  // Metadata that travels with the stream (and is audited on the far side).
  std::string route_type;
  std::string destination;
  std::string request_id;
  std::string principal;
};

struct OpenResult {
  std::unique_ptr<Stream> stream;  // set on success
  error_code error;                // set on failure
  std::string reason;              // human-readable cause, e.g. "connect to 10.0.0.5:443 timed out"
  explicit operator bool() const noexcept { return stream != nullptr; }
};

class GW_PLUGIN_VISIBLE Tunnel {
 public:
  virtual ~Tunnel() = default;
  // Opens a stream to request.host:request.port. Never throws for network failures: they come back
  // in the result. The returned stream runs on the calling coroutine's executor.
  virtual asio::awaitable<OpenResult> open(const OpenRequest& request) = 0;
};

}  // namespace gw
