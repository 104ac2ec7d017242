// H2Connection: one HTTP/2 connection (nghttp2) carrying tunnel streams between an edge and a connector.
//
// Roles are reversed with respect to the TCP/TLS connection: the connector dials the edge, but the edge
// is the HTTP/2 *client* (it opens a stream per client connection, a plain CONNECT, see
// tunnel_request.hpp) and the connector is the HTTP/2 *server* on the connection it dialled.
//
// Threading. All connection state lives on the transport's executor, which must run its handlers on
// one thread (one io_context per worker thread). Streams and open() may be used from coroutines on any
// other executor: an operation started elsewhere hops to the connection's executor (co_spawn) and its
// result comes back on the caller's executor; on the connection's own thread it runs directly.
// accepting_streams(), active_streams() and id() are atomic snapshots readable from anywhere.
//
// Writing. One writer per connection gathers every frame nghttp2 has ready into one TLS write, at the
// end of an event loop pass or, in a burst, every early_flush_after stream operations.
//
// Flow control is the backpressure. Received DATA is acknowledged (WINDOW_UPDATE) only after the
// stream's reader took the bytes, so a stream buffers at most its window (stream_window) and the
// connection at most connection_window. A write completes when nghttp2 took all its bytes, which it
// does only as the peer's window allows.
//
// Liveness. A PING goes out when nothing was received for ping_interval; if nothing at all arrives
// within ping_timeout after it, the connection closes ("ping timeout").
//
// Failure. When the connection ends (peer closed, transport error, protocol error, ping timeout,
// close()), every stream's pending and later operations fail with TunnelErrc::tunnel_lost, except
// that data already received is still delivered first. A stream the peer resets fails with
// asio::error::connection_reset; a stream closed locally with asio::error::operation_aborted.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "gateway/plugin/host.hpp"
#include "gateway/plugin/stream.hpp"
#include "gateway/plugin/tunnel.hpp"
#include "tunnel/tunnel_request.hpp"

namespace gw::tunnel {

struct H2Options {
  std::uint32_t max_concurrent_streams = 8192;  // SETTINGS_MAX_CONCURRENT_STREAMS we advertise
  std::uint32_t stream_window = 1 << 20;        // SETTINGS_INITIAL_WINDOW_SIZE we advertise
  std::uint32_t connection_window = 16 << 20;   // our connection-level receive window
  // SETTINGS_MAX_FRAME_SIZE we advertise (clamped to 16 KiB..16 MiB), and the largest DATA frame we
  // send when the peer allows it: 64 KiB frames cost a quarter of the per-frame work of the 16 KiB
  // default.
  std::uint32_t max_frame_size = 64 << 10;
  std::chrono::milliseconds ping_interval{10000};  // PING after this long without receiving; 0: never
  std::chrono::milliseconds ping_timeout{5000};    // nothing received this long after a PING: dead peer
  std::chrono::milliseconds open_timeout{10000};   // client: wait for the response headers
  // The writer gathers the frames queued during one pass of the event loop into one transport write.
  // Once this many stream operations (opens, answers, writes) have queued frames since the last
  // write, the one that queued the last writes them at once, so that the peer starts on the first
  // requests of a burst while this side is still reading the rest: the processes on both ends of the
  // tunnel work in parallel instead of in turn. 0: only at the end of the pass.
  std::uint32_t early_flush_after = 8;
  // Server: counts the DATA bytes that arrive with a request, before it is answered (early data).
  Counter* early_data_bytes = nullptr;
};

namespace detail {
class Session;
struct StreamState;
}  // namespace detail

// A stream of an H2Connection (either side). read_some/write/shutdown_write/close as gw::Stream
// describes: shutdown_write sends END_STREAM (and waits until it was handed to the connection), close
// sends RST_STREAM(CANCEL). Destroying the stream closes it. info().peer is
// "tunnel:<connection id>/<stream id>"; info().metadata holds route_type, destination, request_id and
// principal where set.
class H2Stream : public Stream {
 public:
  ~H2Stream() override;

  // The connection's executor for a server stream; for a client stream, the executor of the coroutine
  // that opened it.
  asio::any_io_executor executor() const override { return executor_; }
  asio::awaitable<IoResult> read_some(asio::mutable_buffer buffer) override;
  asio::awaitable<IoResult> write(asio::const_buffer buffer) override;
  asio::awaitable<error_code> shutdown_write() override;
  void close() noexcept override;

 protected:
  friend class detail::Session;
  H2Stream(std::shared_ptr<detail::Session> session, std::shared_ptr<detail::StreamState> state,
           asio::any_io_executor executor, const TunnelRequest& request);

  std::shared_ptr<detail::Session> session_;
  std::shared_ptr<detail::StreamState> state_;
  asio::any_io_executor executor_;
};

// The server (connector) side of a stream: the validated request, and the answer to it.
// Until respond(200) was called, read_some, write and shutdown_write fail with
// asio::error::not_connected, and keep failing so after a refusal (unless the stream already ended
// otherwise: connection_reset when the client reset it, tunnel_lost when the connection is gone).
class IncomingStream final : public H2Stream {
 public:
  const TunnelRequest& request() const noexcept { return request_; }

  // Sends the response headers. 200 accepts: data then flows both ways. Any other status ends the
  // stream (END_STREAM) with `reason` in gateway-reason (see sanitize_reason); a status other than 200
  // outside 300..599 is sent as 500. Only the first call counts; later calls, and calls after the
  // stream or the connection ended, do nothing. Completes once the headers are queued on the
  // connection.
  asio::awaitable<void> respond(int status, std::string_view reason = {});

 private:
  friend class detail::Session;
  IncomingStream(std::shared_ptr<detail::Session> session, std::shared_ptr<detail::StreamState> state,
                 asio::any_io_executor executor, TunnelRequest request);

  TunnelRequest request_;
};

class H2Connection : public std::enable_shared_from_this<H2Connection> {
 public:
  // client: the edge, which opens streams. server: the connector (which dialled the TCP/TLS connection).
  enum class Side { client, server };
  // Server: called once per valid CONNECT, on the connection's executor; the handler typically
  // co_spawns a coroutine that calls respond(). Invalid requests are answered (400) or reset without
  // reaching it.
  using StreamHandler = std::function<void(std::unique_ptr<IncomingStream>)>;

  static std::shared_ptr<H2Connection> create(std::unique_ptr<Stream> transport, Side side, H2Options options,
                                              StreamHandler handler = {});
  // Closes the connection if it is still running: whoever holds the H2Connection keeps it open.
  // Streams handed out stay valid objects; their operations then fail with tunnel_lost.
  ~H2Connection();
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  // Sends our SETTINGS and starts the read loop, the write loop and the keepalive on the transport's
  // executor. Any thread; once.
  void start();
  asio::any_io_executor executor() const;

  // Client side, any thread: sends the CONNECT request and waits for the response headers.
  // 200: a stream. Another status: error = errc_for_status(status), reason = gateway-reason.
  // Connection closed or going away: tunnel_lost. At the peer's concurrent-stream limit: busy (at once).
  // Reset by the peer before answering: busy for REFUSED_STREAM, refused otherwise. No answer within
  // open_timeout: timed_out. A request that parse_request would refuse: errc::invalid_argument.
  //
  // `early_data` (not copied; valid until open() completes) is sent as DATA right behind the request,
  // without waiting for the answer; the server's stream delivers it first once accepted, and drops it
  // with a refusal. On success all of it has been handed to the connection.
  //
  // On failure, `unprocessed` (when given) says whether the server certainly did not act on the request
  // (it never left, was refused with REFUSED_STREAM, or lay above the server's GOAWAY): only then may
  // a request with early data be sent again elsewhere without the server perhaps seeing it twice.
  asio::awaitable<OpenResult> open(const TunnelRequest& request, asio::const_buffer early_data = {},
                                   bool* unprocessed = nullptr);

  // Any thread. Graceful: no new streams; GOAWAY (a server first sends a shutdown notice, then the final
  // GOAWAY after one round trip, RFC 9113 §6.8); the connection closes when its last stream ends.
  // A client connection also does this by itself when it runs out of stream ids.
  void shutdown();
  // Any thread. Aborts now: every stream fails with tunnel_lost.
  void close();

  // Alive, neither side sent GOAWAY, and (client) below the peer's concurrent-stream limit.
  bool accepting_streams() const noexcept;
  // Streams open in the HTTP/2 sense (including ones still waiting for a response).
  std::size_t active_streams() const noexcept;
  // True on the thread that runs the connection's executor: a stream used from here needs no hop.
  bool runs_on_this_thread() const noexcept;
  // Set before start(). Called once, on the executor, when the connection is finished, with a reason
  // such as "peer closed the connection", "ping timeout", "protocol error: ...", "closed" (close()),
  // "shutdown" or "peer going away" (graceful ends).
  void on_closed(std::function<void(const std::string& reason)> callback);
  // Set before start(). Called once, on the executor, when the peer's first SETTINGS frame arrives:
  // the peer speaks HTTP/2 to us. With TLS 1.3 a client's handshake completes before the server has
  // checked the client's certificate, so this (not the handshake) is when a connector knows the edge
  // accepted it.
  void on_established(std::function<void()> callback);
  // Process-unique, for logs.
  std::uint64_t id() const noexcept;

 private:
  explicit H2Connection(std::shared_ptr<detail::Session> session);
  std::shared_ptr<detail::Session> session_;
};

}  // namespace gw::tunnel
