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

// Why the tunnel could not open a stream or lost it. Values are stable: they travel in logs and
// metrics, and entry points map them to their protocol's replies (SOCKS5 REP codes, HTTP statuses).
enum class TunnelErrc {
  no_connector = 1,  // no connector of the destination's tenant and location is connected
  unknown_location,  // no connector has ever served this tenant and location
  denied,            // the connector's allowlist does not permit the virtual host:port
  unreachable,       // the connector could not connect to the internal system
  timed_out,         // connecting to the internal system timed out
  busy,              // every tunnel connection is at its concurrent-stream limit
  tunnel_lost,       // the tunnel connection carrying the stream failed
  refused,           // the connector refused the stream for another reason (see the reason text)
};

// boost::system::error_category's destructor is protected and non-virtual by design (categories are
// static objects never deleted through a base pointer).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class TunnelCategory final : public boost::system::error_category {
 public:
  // A fixed id makes every copy of this category (the core's and each plugin's) compare equal.
  constexpr TunnelCategory() : error_category(0x67772d74756e6e6cULL) {}
  const char* name() const noexcept override { return "tunnel"; }
  std::string message(int value) const override {
    switch (static_cast<TunnelErrc>(value)) {
      case TunnelErrc::no_connector:
        return "no connector connected for this location";
      case TunnelErrc::unknown_location:
        return "unknown location";
      case TunnelErrc::denied:
        return "denied by the connector's allowlist";
      case TunnelErrc::unreachable:
        return "internal system unreachable";
      case TunnelErrc::timed_out:
        return "connect to internal system timed out";
      case TunnelErrc::busy:
        return "tunnel at its concurrent-stream limit";
      case TunnelErrc::tunnel_lost:
        return "tunnel connection lost";
      case TunnelErrc::refused:
        return "refused by the connector";
    }
    return "tunnel error";
  }
};
#pragma GCC diagnostic pop

inline const boost::system::error_category& tunnel_category() noexcept {
  static const TunnelCategory category;
  return category;
}

inline error_code make_error_code(TunnelErrc e) noexcept {
  return error_code(static_cast<int>(e), tunnel_category());
}

// The HTTP status that reports a failed Tunnel::open() to an HTTP client: 403 denied by the
// connector's allowlist; 503 no connector, unknown location or busy; 504 timed out; 502 otherwise.
inline int http_status_for(const error_code& open_error) noexcept {
  if (open_error.category() == tunnel_category()) {
    switch (static_cast<TunnelErrc>(open_error.value())) {
      case TunnelErrc::denied:
        return 403;
      case TunnelErrc::no_connector:
      case TunnelErrc::unknown_location:
      case TunnelErrc::busy:
        return 503;
      case TunnelErrc::timed_out:
        return 504;
      case TunnelErrc::unreachable:
      case TunnelErrc::tunnel_lost:
      case TunnelErrc::refused:
        return 502;
    }
  }
  return open_error == boost::system::errc::timed_out ? 504 : 502;
}

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
  // Bytes the client already sent (Stream::read_available), delivered to the target as soon as it is
  // reached: through a connector they travel with the request that opens the stream, which saves the
  // round trip of waiting for the answer before sending them; a direct connection writes them right
  // after connecting. When open() succeeds they have been handed over; when it fails they were not
  // delivered. Not copied: the bytes must stay valid until open() completes.
  asio::const_buffer early_data;
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

  // Starts TLS on `plain`, a stream this tunnel opened without TLS, once the protocol's own upgrade
  // exchange (LDAP StartTLS, SMTP STARTTLS) has succeeded and no bytes of the peer are left unread: a
  // client handshake per request.tls (verification, server name, client certificate; `enabled` is not
  // looked at), allowed request.connect_timeout; then request.early_data, if any, is written, as open()
  // does once connected. Only direct connections can be upgraded: a stream
  // through a connector fails with operation_not_supported (the connector's system decides whether it
  // speaks TLS to the internal host). `plain` is consumed either way; on failure it has been closed.
  virtual asio::awaitable<OpenResult> start_tls(std::unique_ptr<Stream> plain, const OpenRequest& request) {
    plain->close();
    OpenResult result;
    result.error = boost::system::errc::make_error_code(boost::system::errc::operation_not_supported);
    result.reason = "this tunnel cannot start TLS on an open stream";
    co_return result;
  }
};

}  // namespace gw

template <>
struct boost::system::is_error_code_enum<gw::TunnelErrc> : std::true_type {};
