// HTTP/1.1 message I/O over a gw::Stream, for the `http` route type on both sides of the tunnel.
//
// Parsing is Boost.Beast's (http::parser with a buffer_body, fed with put()), so bodies stream through a
// fixed buffer and are never held whole. Beast already refuses Content-Length together with chunked,
// Content-Length values that differ, and bad chunk sizes; MessageReader adds what it lets through or
// cannot limit, each a way to smuggle a request past a proxy: obs-fold (RFC 9112 §5.2), bare CR or LF
// in the header block, repeated Content-Length even with equal values, Transfer-Encoding other than a
// single `chunked` (RFC 9112 §6.3: the end of the body cannot be found) or in an HTTP/1.0 message, a
// request-line limit separate from the header limit, and a header limit that counts the start line
// however the bytes arrive. Bodies are re-framed on the way out: a
// Content-Length body is sent with that length, any other body is sent chunked, so what the next hop
// parses is exactly what we parsed.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/plugin_api.hpp"

namespace gw::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

using RequestParser = bhttp::request_parser<bhttp::buffer_body>;
using ResponseParser = bhttp::response_parser<bhttp::buffer_body>;
using RequestHeader = bhttp::request_header<>;
using ResponseHeader = bhttp::response_header<>;

struct MessageLimits {
  std::size_t max_request_line = 8 * 1024;  // request line or status line
  std::size_t max_header = 64 * 1024;       // the whole header block, start line included
  std::chrono::milliseconds read_timeout{30000};
};

// Why reading a message failed; status_for() maps a request-side failure to the answer.
enum class ReadFailure {
  none,
  closed,         // the peer closed before the first byte of a message (normal end of keep-alive)
  io,             // transport error or the peer closed mid-message
  timeout,        // nothing arrived within read_timeout
  line_too_long,  // start line over max_request_line
  header_too_large,
  malformed,  // Beast's parse error or one of our checks; `detail` says which
};

struct ReadError {
  ReadFailure failure = ReadFailure::none;
  std::string detail;
  explicit operator bool() const noexcept { return failure != ReadFailure::none; }
};

// 400, 414, 431 or 408 for a request that could not be read; 0 when no answer should be sent.
int status_for(const ReadError& error);

// Reads messages from one stream: the read buffer survives between messages (keep-alive, pipelining).
class MessageReader {
 public:
  MessageReader(Stream& stream, const MessageLimits& limits);

  // Reads up to the end of the header into `parser` (set up by the caller: skip() for a response to
  // HEAD). On return with no error, parser.get() holds the header.
  template <bool IsRequest>
  asio::awaitable<ReadError> read_header(bhttp::parser<IsRequest, bhttp::buffer_body>& parser);

  // Reads the next piece of the body into `out` (at most out.size() bytes). Returns the bytes placed;
  // 0 with no error means the body is complete (parser.is_done()).
  template <bool IsRequest>
  asio::awaitable<std::size_t> read_body(bhttp::parser<IsRequest, bhttp::buffer_body>& parser,
                                         asio::mutable_buffer out, ReadError& error);

  Stream& stream() noexcept { return stream_; }
  // Bytes read past the current message (the next pipelined message, or tunnelled bytes after a
  // successful upgrade).
  beast::flat_buffer& buffer() noexcept { return buffer_; }

 private:
  // One read_some into the buffer, bounded by read_timeout.
  asio::awaitable<ReadError> fill(bool at_message_start);
  // Our checks on the unparsed header bytes, `consumed` bytes of the header already taken by the
  // parser; the start-line limit applies while it is still unparsed. `checked` is how far the bytes
  // were checked already (the same header, more bytes arrived).
  ReadError check_header_block(std::size_t consumed, std::size_t& checked) const;

  Stream& stream_;
  MessageLimits limits_;
  beast::flat_buffer buffer_;
  // The read timeout: watches only while a read is pending, and closes the stream when it expires,
  // which fails that read.
  Watchdog read_watch_;
};

// Writes `text` whole.
asio::awaitable<error_code> write_all(Stream& stream, std::string_view text);

// Serialises a request or response header ("METHOD target HTTP/1.1", fields, blank line).
std::string serialize(const RequestHeader& header);
std::string serialize(const ResponseHeader& header);

// A request's header as it goes to the next hop.
struct OutgoingRequest {
  std::string head;  // serialised
  bool has_body = false;
  bool sent_with_open = false;  // the head travelled as early data of the open
};

// Serialises `upstream_header` (already rewritten for the next hop, hop-by-hop fields removed), with
// chunked framing when the client's body is chunked; BodyRelay then re-frames the body to match.
OutgoingRequest prepare_request(const RequestParser& request, RequestHeader& upstream_header);

// Frames a final response (status 200 and up) for the client, its hop-by-hop fields already removed:
// a body whose length the header does not give (chunked, or delimited by the end of the connection)
// goes out chunked, and `close` adds Connection: close. Returns whether the body is to be chunked
// (BodyRelay's `chunked`). A response to HEAD, 204 and 304 have no body.
bool frame_response(const ResponseParser& response, ResponseHeader& header, bool head_request, bool close);

// Scratch space for relaying bodies: one per connection, allocated (uninitialised) on first use, so
// a keep-alive connection does not allocate per message.
class RelayBuffer {
 public:
  explicit RelayBuffer(std::size_t body_chunk) : chunk_(body_chunk) {}
  std::size_t chunk() const noexcept { return chunk_; }
  // chunk() bytes of body room, with room for chunk framing before and after it.
  char* body();

 private:
  std::size_t chunk_;
  std::unique_ptr<char[]> storage_;
};

// Copies the body that `parser` is reading from `reader` to `to`. With `chunked`, the body goes out
// in chunked encoding (sizes of what was read) and ends with the last chunk; otherwise bytes go as
// they are (a Content-Length body of the same length).
template <bool IsRequest>
class BodyRelay {
 public:
  BodyRelay(MessageReader& reader, bhttp::parser<IsRequest, bhttp::buffer_body>& parser, bool chunked,
            RelayBuffer& buffer);

  // Reads the first piece of the body without sending it, so that a body that is malformed from its
  // first bytes (a bad chunk size) is refused before anything reaches the next hop. Optional.
  asio::awaitable<ReadError> read_first();
  // Sends `head` (the message's serialised header) together with the first piece of the body, so that
  // a small message leaves in one write (a separate header write would wait for the peer's delayed
  // ACK), then relays the rest. Returns the body bytes relayed.
  asio::awaitable<std::uint64_t> relay(Stream& to, std::string_view head, ReadError& read_error,
                                       error_code& write_error);

 private:
  MessageReader& reader_;
  bhttp::parser<IsRequest, bhttp::buffer_body>& parser_;
  bool chunked_;
  RelayBuffer& buffer_;
  std::size_t pending_ = 0;  // bytes read by read_first() and not sent yet
  bool read_first_done_ = false;
};

// Ends a connection after an error answer without losing the answer: sends `response`, half-closes,
// and discards what the peer still sends (at most 1 MiB, for at most a second), because closing a
// socket with unread input makes the kernel send a reset that can destroy the answer in flight.
asio::awaitable<void> answer_and_close(MessageReader& reader, std::string_view response);

// Fields that concern one connection only (RFC 9110 §7.6.1), plus those named in Connection.
// Removes them from `fields`. Keeps Upgrade when `keep_upgrade`.
void remove_hop_by_hop(bhttp::fields& fields, bool keep_upgrade = false);

// A complete small response with `x-error-message` and `x-request-id`, closing the connection.
std::string error_response(int status, std::string_view message, std::string_view request_id);

}  // namespace gw::http
