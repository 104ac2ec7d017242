// HTTP/1.1 message I/O (http1.hpp) over a stream that hands out bytes in given pieces: MessageReader
// (whole, byte by byte and pipelined messages; the request-line and header limits on both sides of
// their boundary; refusal of smuggling vectors, obs-fold, bare CR and LF and bad chunking; the peer
// closing or staying silent), status_for, BodyRelay's re-framing (Content-Length bodies as they are,
// chunked bodies chunked), serialize, remove_hop_by_hop, error_response, answer_and_close, and a seeded
// run of randomly damaged messages that must each end in a message or a refusal.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cctype>
#include <cstdint>
#include <deque>
#include <exception>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "http1.hpp"
#include "support/piece_stream.hpp"

namespace {

using namespace gw;
using namespace gw::http;
using gw::test::PieceStream;

// A peer that never sends anything: a read waits until close().
class SilentStream final : public Stream {
 public:
  explicit SilentStream(asio::io_context& context) : executor_(context.get_executor()), never_(context) {
    never_.expires_at(asio::steady_timer::time_point::max());
  }

  asio::any_io_executor executor() const override { return executor_; }
  asio::awaitable<IoResult> read_some(asio::mutable_buffer) override {
    error_code ec;
    co_await never_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_return IoResult{asio::error::operation_aborted, 0};
  }
  asio::awaitable<IoResult> write(asio::const_buffer buffer) override {
    co_return IoResult{{}, buffer.size()};
  }
  asio::awaitable<error_code> shutdown_write() override { co_return error_code{}; }
  void close() noexcept override {
    closed = true;
    never_.cancel();
  }

  bool closed = false;

 private:
  asio::any_io_executor executor_;
  asio::steady_timer never_;
};

// Runs `coroutine` to its end; an exception it throws fails the test.
template <class Coroutine>
void run(asio::io_context& context, Coroutine coroutine) {
  asio::co_spawn(context, std::move(coroutine), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  context.run();
}

// No read timeout: a unit test must not wait for one (and a timer would keep the context running).
MessageLimits limits(std::size_t max_request_line = 8 * 1024, std::size_t max_header = 64 * 1024) {
  MessageLimits out;
  out.max_request_line = max_request_line;
  out.max_header = max_header;
  out.read_timeout = std::chrono::milliseconds(0);
  return out;
}

std::vector<std::string> split(const std::string& bytes, std::size_t size) {
  std::vector<std::string> pieces;
  for (std::size_t at = 0; at < bytes.size(); at += size) pieces.push_back(bytes.substr(at, size));
  return pieces;
}

std::string failure_name(ReadFailure failure) {
  switch (failure) {
    case ReadFailure::none:
      return "none";
    case ReadFailure::closed:
      return "closed";
    case ReadFailure::io:
      return "io";
    case ReadFailure::timeout:
      return "timeout";
    case ReadFailure::line_too_long:
      return "line_too_long";
    case ReadFailure::header_too_large:
      return "header_too_large";
    case ReadFailure::malformed:
      return "malformed";
  }
  return "?";
}

using Fields = std::vector<std::pair<std::string, std::string>>;

template <class Header>
Fields fields_of(const Header& header) {
  Fields out;
  for (const auto& field : header) out.emplace_back(field.name_string(), field.value());
  return out;
}

// Messages that have no body whatever their Content-Length says.
bool bodiless(const RequestHeader&) {
  return false;
}
bool bodiless(const ResponseHeader& header) {
  const unsigned status = header.result_int();
  return status / 100 == 1 || status == 204 || status == 304;
}

template <bool IsRequest>
struct Message {
  ReadError error;  // of read_header, or else of read_body
  bool header_done = false;
  bool body_done = false;
  bhttp::header<IsRequest> header;
  std::optional<std::uint64_t> content_length;
  std::string body;
};

template <bool IsRequest>
struct Transcript {
  std::vector<Message<IsRequest>> messages;
  std::string rest;           // the reader's buffer after the last message read
  std::size_t input = 0;      // bytes given to the stream
  std::size_t delivered = 0;  // bytes the reader took from it
  std::size_t body_bytes = 0;
  bool runaway = false;  // read_body returned more pieces than there were bytes
};

struct ReadOptions {
  std::size_t max_messages = 8;
  std::size_t body_room = 4096;
  bool skip_body = false;  // a response to HEAD
};

// Reads messages until a failure (the end of the stream included) or max_messages, each header then its
// body, through MessageReader::read_header and read_body.
template <bool IsRequest>
Transcript<IsRequest> read_messages(std::vector<std::string> pieces, const MessageLimits& message_limits,
                                    const ReadOptions& options = {}) {
  asio::io_context context;
  Transcript<IsRequest> out;
  for (const auto& piece : pieces) out.input += piece.size();
  PieceStream stream(context, std::move(pieces));
  MessageReader reader(stream, message_limits);
  run(context, [&]() -> asio::awaitable<void> {
    std::vector<char> room(options.body_room);
    while (out.messages.size() < options.max_messages) {
      bhttp::parser<IsRequest, bhttp::buffer_body> parser;
      if (options.skip_body) parser.skip(true);
      Message<IsRequest> message;
      message.error = co_await reader.read_header(parser);
      if (!message.error) {
        message.header_done = true;
        message.header = parser.get().base();
        if (const auto length = parser.content_length()) message.content_length = *length;
        for (std::size_t calls = 0;; ++calls) {
          if (calls > out.input + 1) {
            out.runaway = true;
            break;
          }
          const std::size_t n = co_await reader.read_body(parser, asio::buffer(room), message.error);
          if (message.error) break;
          if (n == 0) {
            message.body_done = parser.is_done();
            break;
          }
          message.body.append(room.data(), n);
          out.body_bytes += n;
        }
      }
      const bool failed = static_cast<bool>(message.error) || out.runaway;
      out.messages.push_back(std::move(message));
      if (failed) break;
    }
    const auto data = reader.buffer().data();
    out.rest.assign(static_cast<const char*>(data.data()), data.size());
  });
  out.delivered = stream.delivered;
  return out;
}

Transcript<true> read_requests(std::vector<std::string> pieces,
                               const MessageLimits& message_limits = limits(),
                               const ReadOptions& options = {}) {
  return read_messages<true>(std::move(pieces), message_limits, options);
}

Transcript<false> read_responses(std::vector<std::string> pieces,
                                 const MessageLimits& message_limits = limits(),
                                 const ReadOptions& options = {}) {
  return read_messages<false>(std::move(pieces), message_limits, options);
}

// The ways the tests deliver one input: whole, and in pieces of 1, 2, 3 and 7 bytes.
std::vector<std::pair<std::string, std::vector<std::string>>> deliveries(const std::string& bytes) {
  return {{"whole", {bytes}},
          {"1-byte pieces", split(bytes, 1)},
          {"2-byte pieces", split(bytes, 2)},
          {"3-byte pieces", split(bytes, 3)},
          {"7-byte pieces", split(bytes, 7)}};
}

// The first request in `bytes`, however it is delivered, is refused with `failure` (in its header or
// its body), and status_for() answers `status`.
void expect_request_refused(const std::string& bytes, ReadFailure failure, int status,
                            const MessageLimits& message_limits = limits()) {
  SCOPED_TRACE(::testing::PrintToString(bytes));
  for (const auto& [how, pieces] : deliveries(bytes)) {
    SCOPED_TRACE(how);
    const auto t = read_requests(pieces, message_limits);
    // One message read, and it failed: no later message was read after it.
    EXPECT_EQ(t.messages.size(), 1u);
    const ReadError& error = t.messages[0].error;
    EXPECT_EQ(failure_name(error.failure), failure_name(failure)) << error.detail;
    EXPECT_FALSE(error.detail.empty());
    EXPECT_EQ(status_for(error), status);
  }
}

void expect_malformed(const std::string& bytes) {
  expect_request_refused(bytes, ReadFailure::malformed, 400);
}

// The first request in `bytes` is read whole (header and body), however it is delivered.
void expect_request_accepted(const std::string& bytes, const MessageLimits& message_limits = limits()) {
  SCOPED_TRACE(::testing::PrintToString(bytes));
  for (const auto& [how, pieces] : deliveries(bytes)) {
    SCOPED_TRACE(how);
    const auto t = read_requests(pieces, message_limits, {.max_messages = 1});
    ASSERT_EQ(t.messages.size(), 1u);
    EXPECT_FALSE(t.messages[0].error)
        << failure_name(t.messages[0].error.failure) << ": " << t.messages[0].error.detail;
    EXPECT_TRUE(t.messages[0].body_done);
  }
}

// Decodes a chunked body that must end exactly with the last chunk and the empty trailer.
std::optional<std::string> decode_chunked(std::string_view text) {
  std::string out;
  for (;;) {
    const std::size_t line_end = text.find("\r\n");
    if (line_end == std::string_view::npos || line_end == 0 || line_end > 16) return std::nullopt;
    std::size_t size = 0;
    for (char c : text.substr(0, line_end)) {
      const auto digit = std::string_view("0123456789abcdef").find(static_cast<char>(std::tolower(c)));
      if (digit == std::string_view::npos) return std::nullopt;
      size = size * 16 + digit;
    }
    text.remove_prefix(line_end + 2);
    if (size == 0) {
      if (text != "\r\n") return std::nullopt;
      return out;
    }
    if (text.size() < size + 2 || text.substr(size, 2) != "\r\n") return std::nullopt;
    out.append(text.substr(0, size));
    text.remove_prefix(size + 2);
  }
}

// Bytes of every value, CR, LF and NUL included.
std::string random_bytes(std::size_t size, std::uint32_t seed) {
  std::mt19937 random(seed);
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(random());
  return out;
}

struct Relayed {
  std::string head;  // serialize() of the header read
  std::uint64_t total = 0;
  ReadError header_error;
  ReadError first_error;  // of read_first(), when used
  ReadError read_error;
  error_code write_error;
  std::string written;
  std::size_t writes = 0;
};

// Reads one request header from `pieces` and relays its body to a second stream with BodyRelay.
Relayed relay_request(std::vector<std::string> pieces, bool chunked, std::size_t chunk,
                      bool use_read_first = false) {
  asio::io_context context;
  PieceStream from(context, std::move(pieces));
  PieceStream to(context, {});
  MessageReader reader(from, limits());
  RelayBuffer scratch(chunk);
  Relayed out;
  run(context, [&]() -> asio::awaitable<void> {
    RequestParser parser;
    out.header_error = co_await reader.read_header(parser);
    if (out.header_error) co_return;
    out.head = serialize(parser.get().base());
    BodyRelay<true> relay(reader, parser, chunked, scratch);
    if (use_read_first) {
      out.first_error = co_await relay.read_first();
      if (out.first_error) co_return;
    }
    out.total = co_await relay.relay(to, out.head, out.read_error, out.write_error);
  });
  out.written = to.written;
  out.writes = to.writes;
  return out;
}

const std::string kGet =
    "GET /index.html?q=1&r=%20 HTTP/1.1\r\n"
    "Host: example.com\r\n"
    "User-Agent: unit-test/1.0\r\n"
    "Accept: */*\r\n"
    "X-Empty:\r\n"
    "X-Padded: \t value with  inner space \t\r\n"
    "\r\n";

// ---- status_for ----

TEST(HttpStatusFor, MapsEachFailureToItsAnswer) {
  EXPECT_EQ(status_for({ReadFailure::none, ""}), 0);
  EXPECT_EQ(status_for({ReadFailure::closed, "connection closed"}), 0);
  EXPECT_EQ(status_for({ReadFailure::io, "connection reset"}), 0);
  EXPECT_EQ(status_for({ReadFailure::timeout, "no data"}), 408);
  EXPECT_EQ(status_for({ReadFailure::line_too_long, "long"}), 414);
  EXPECT_EQ(status_for({ReadFailure::header_too_large, "large"}), 431);
  EXPECT_EQ(status_for({ReadFailure::malformed, "bad"}), 400);
}

// ---- reading headers ----

TEST(HttpMessageReader, SimpleGetIsReadWhole) {
  const auto t = read_requests({kGet});
  ASSERT_EQ(t.messages.size(), 2u);
  const auto& get = t.messages[0];
  ASSERT_FALSE(get.error) << get.error.detail;
  EXPECT_TRUE(get.body_done);
  EXPECT_EQ(get.body, "");
  EXPECT_EQ(get.header.method(), bhttp::verb::get);
  EXPECT_EQ(get.header.method_string(), "GET");
  EXPECT_EQ(get.header.target(), "/index.html?q=1&r=%20");
  EXPECT_EQ(get.header.version(), 11);
  const Fields expected{{"Host", "example.com"},
                        {"User-Agent", "unit-test/1.0"},
                        {"Accept", "*/*"},
                        {"X-Empty", ""},
                        {"X-Padded", "value with  inner space"}};
  EXPECT_EQ(fields_of(get.header), expected);
  // Then the peer closed at a message boundary: the normal end of a keep-alive connection.
  EXPECT_EQ(failure_name(t.messages[1].error.failure), "closed");
  EXPECT_TRUE(t.rest.empty());
}

TEST(HttpMessageReader, ByteByByteDeliveryGivesTheSameHeader) {
  const auto whole = read_requests({kGet});
  ASSERT_FALSE(whole.messages[0].error);
  for (std::size_t size : {1u, 2u, 5u, 13u}) {
    SCOPED_TRACE(size);
    const auto pieces = read_requests(split(kGet, size));
    ASSERT_EQ(pieces.messages.size(), 2u);
    const auto& get = pieces.messages[0];
    ASSERT_FALSE(get.error) << get.error.detail;
    EXPECT_EQ(get.header.method(), bhttp::verb::get);
    EXPECT_EQ(get.header.target(), whole.messages[0].header.target());
    EXPECT_EQ(fields_of(get.header), fields_of(whole.messages[0].header));
    EXPECT_EQ(serialize(get.header), serialize(whole.messages[0].header));
    EXPECT_EQ(failure_name(pieces.messages[1].error.failure), "closed");
  }
}

TEST(HttpMessageReader, PipelinedRequestsComeOutOneAfterAnother) {
  const std::string first = "GET /first HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string second = "GET /second HTTP/1.1\r\nHost: b\r\nX-N: 2\r\n\r\n";

  // After the first message, the second one waits in buffer(), unparsed.
  const auto one = read_requests({first + second}, limits(), {.max_messages = 1});
  ASSERT_EQ(one.messages.size(), 1u);
  ASSERT_FALSE(one.messages[0].error);
  EXPECT_EQ(one.messages[0].header.target(), "/first");
  EXPECT_EQ(one.rest, second);

  const auto all = read_requests({first + second});
  ASSERT_EQ(all.messages.size(), 3u);
  ASSERT_FALSE(all.messages[0].error);
  ASSERT_FALSE(all.messages[1].error);
  EXPECT_EQ(all.messages[0].header.target(), "/first");
  EXPECT_EQ(all.messages[1].header.target(), "/second");
  EXPECT_EQ(all.messages[1].header["X-N"], "2");
  EXPECT_EQ(failure_name(all.messages[2].error.failure), "closed");
}

TEST(HttpMessageReader, PipelinedRequestAfterABodyStartsRightAfterIt) {
  const std::string post = "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello\r\nGET ";
  const std::string get = "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
  for (const auto& [how, pieces] : deliveries(post + get)) {
    SCOPED_TRACE(how);
    const auto t = read_requests(pieces);
    ASSERT_EQ(t.messages.size(), 3u);
    ASSERT_FALSE(t.messages[0].error) << t.messages[0].error.detail;
    EXPECT_EQ(t.messages[0].body, "hello\r\nGET ");
    ASSERT_FALSE(t.messages[1].error) << t.messages[1].error.detail;
    EXPECT_EQ(t.messages[1].header.target(), "/next");
    EXPECT_EQ(failure_name(t.messages[2].error.failure), "closed");
  }
}

// ---- limits ----

// "GET /aaa... HTTP/1.1" of exactly `length` bytes (CRLF not counted).
std::string request_line(std::size_t length) {
  const std::size_t fixed = std::string("GET / HTTP/1.1").size();
  return "GET /" + std::string(length - fixed, 'a') + " HTTP/1.1";
}

TEST(HttpMessageReader, RequestLineAtTheLimitIsAcceptedOneByteMoreIsRefusedWith414) {
  // The limit counts the request line without its CRLF.
  const auto line_limits = limits(64, 1024);
  const std::string at_limit = request_line(64) + "\r\nHost: a\r\n\r\n";
  const std::string over = request_line(65) + "\r\nHost: a\r\n\r\n";

  const auto accepted = read_requests({at_limit}, line_limits, {.max_messages = 1});
  ASSERT_EQ(accepted.messages.size(), 1u);
  EXPECT_FALSE(accepted.messages[0].error) << accepted.messages[0].error.detail;
  EXPECT_EQ(accepted.messages[0].header.target().size(), 64u - 13u);

  for (const auto& [how, pieces] : deliveries(over)) {
    SCOPED_TRACE(how);
    const auto refused = read_requests(pieces, line_limits);
    ASSERT_EQ(refused.messages.size(), 1u);
    EXPECT_EQ(failure_name(refused.messages[0].error.failure), "line_too_long");
    EXPECT_EQ(status_for(refused.messages[0].error), 414);
  }
  // The same line as a response's status line.
  const std::string status_over = "HTTP/1.1 200 " + std::string(64 - 12, 'r') + "\r\n\r\n";
  const auto response = read_responses({status_over}, line_limits);
  ASSERT_EQ(response.messages.size(), 1u);
  EXPECT_EQ(failure_name(response.messages[0].error.failure), "line_too_long");
}

TEST(HttpMessageReader, RequestLineAtTheLimitIsAcceptedHoweverItIsSplit) {
  // Whether a line of exactly max_request_line bytes passes must not depend on where the reads end.
  const auto line_limits = limits(64, 1024);
  const std::string at_limit = request_line(64) + "\r\nHost: a\r\n\r\n";
  for (const auto& [how, pieces] : deliveries(at_limit)) {
    SCOPED_TRACE(how);
    const auto t = read_requests(pieces, line_limits, {.max_messages = 1});
    ASSERT_EQ(t.messages.size(), 1u);
    EXPECT_FALSE(t.messages[0].error) << t.messages[0].error.detail;
  }
  SCOPED_TRACE("a read ending right after the CR");
  const auto t =
      read_requests({request_line(64) + "\r", "\nHost: a\r\n\r\n"}, line_limits, {.max_messages = 1});
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_FALSE(t.messages[0].error) << t.messages[0].error.detail;
}

TEST(HttpMessageReader, OverlongRequestLineIsRefusedBeforeItEnds) {
  // No CRLF ever arrives: the reader does not wait for one (nor for the end of the stream).
  const std::string endless = "GET /" + std::string(4000, 'a');
  const auto t = read_requests(split(endless, 100), limits(1024, 64 * 1024));
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_EQ(failure_name(t.messages[0].error.failure), "line_too_long");
  EXPECT_EQ(status_for(t.messages[0].error), 414);
}

// A request whose field block (the fields and the blank line ending the header) is `size` bytes.
std::string request_with_field_block(const std::string& line, std::size_t size) {
  const std::string prefix = "X-Fill: ";
  const std::size_t fill = size - prefix.size() - 4;  // its CRLF and the final CRLF
  return line + "\r\n" + prefix + std::string(fill, 'f') + "\r\n\r\n";
}

TEST(HttpMessageReader, HeaderBlockAtTheLimitIsAcceptedOneByteMoreIsRefusedWith431) {
  // max_header counts the request line, the fields and the blank line: exactly max_header bytes pass,
  // one more byte is refused.
  const auto header_limits = limits(64, 512);
  const std::string line = "GET /x HTTP/1.1";
  const std::size_t fields_at_limit = 512 - line.size() - 2;
  const auto accepted =
      read_requests({request_with_field_block(line, fields_at_limit)}, header_limits, {.max_messages = 1});
  ASSERT_EQ(accepted.messages.size(), 1u);
  EXPECT_FALSE(accepted.messages[0].error) << accepted.messages[0].error.detail;
  EXPECT_EQ(accepted.messages[0].header["X-Fill"].size(), fields_at_limit - 12u);

  for (const auto& [how, pieces] : deliveries(request_with_field_block(line, fields_at_limit + 1))) {
    SCOPED_TRACE(how);
    const auto refused = read_requests(pieces, header_limits);
    ASSERT_EQ(refused.messages.size(), 1u);
    EXPECT_EQ(failure_name(refused.messages[0].error.failure), "header_too_large")
        << refused.messages[0].error.detail;
    EXPECT_EQ(status_for(refused.messages[0].error), 431);
  }
  // A far larger header is refused as soon as the limit is passed, without reading all of it.
  const std::string huge = line + "\r\nX-Big: " + std::string(1 << 20, 'b') + "\r\n\r\n";
  const auto big = read_requests(split(huge, 1000), header_limits);
  ASSERT_EQ(big.messages.size(), 1u);
  EXPECT_EQ(failure_name(big.messages[0].error.failure), "header_too_large");
  EXPECT_LE(big.delivered, 512u + 16u * 1024u + 1000u);
}

TEST(HttpMessageReader, HeaderAtTheLimitWithItsRequestLineIsAcceptedHoweverItIsSplit) {
  // max_header counts the whole header block, request line included: exactly max_header bytes pass
  // however they arrive.
  const auto header_limits = limits(64, 512);
  const std::string line = "GET /x HTTP/1.1";
  const std::string at_limit = request_with_field_block(line, 512 - line.size() - 2);
  ASSERT_EQ(at_limit.size(), 512u);
  expect_request_accepted(at_limit, header_limits);
}

TEST(HttpMessageReader, HeaderOverTheLimitWithItsRequestLineIsRefusedHoweverItIsSplit) {
  const std::string line = "GET /x HTTP/1.1";
  expect_request_refused(request_with_field_block(line, 513 - line.size() - 2), ReadFailure::header_too_large,
                         431, limits(64, 512));
}

// ---- smuggling and malformed input ----

TEST(HttpMessageReader, ContentLengthTogetherWithChunkedIsRefused) {
  expect_malformed(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n");
  expect_malformed(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
      "0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n");
}

TEST(HttpMessageReader, TwoDifferentContentLengthsAreRefused) {
  expect_malformed("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy");
  expect_malformed("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\nxy");
}

TEST(HttpMessageReader, TwoEqualContentLengthsAreRefused) {
  // Beast accepts equal values; forwarded as they are, a peer may read them otherwise (RFC 9110 §8.6).
  expect_malformed("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nxy");
  expect_malformed("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 2\r\n\r\nxy");
}

TEST(HttpMessageReader, TransferEncodingWithoutReliableFramingIsRefused) {
  // RFC 9112 §6.3: when chunked is not the final coding, the end of a request's body cannot be found
  // (Beast would read the bytes after the header as the next request); §6.1: Transfer-Encoding in an
  // HTTP/1.0 message means faulty framing.
  expect_malformed(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n");
  expect_malformed(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
      "GET /smuggled HTTP/1.1\r\n\r\n");
  expect_malformed(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"
      "GET /smuggled HTTP/1.1\r\n\r\n");
  expect_malformed(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nContent-Length: 4\r\n\r\n"
      "abcd");
  expect_malformed("POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
}

TEST(HttpMessageReader, OneEmptyLineBeforeTheRequestLineIsIgnored) {
  // RFC 9112 §2.2; some clients send a CRLF after a POST body.
  expect_request_accepted("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
  const auto t = read_requests({"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nxy\r\n"
                                "GET /next HTTP/1.1\r\nHost: a\r\n\r\n"},
                               limits(), {.max_messages = 2});
  ASSERT_EQ(t.messages.size(), 2u);
  EXPECT_FALSE(t.messages[1].error) << t.messages[1].error.detail;
  EXPECT_EQ(t.messages[1].header.target(), "/next");
  expect_malformed("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
}

TEST(HttpMessageReader, ObsFoldIsRefused) {
  expect_malformed("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n b\r\n\r\n");
  expect_malformed("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n\tb\r\n\r\n");
  // Folded into the last field, right before the blank line.
  expect_malformed("GET / HTTP/1.1\r\nX-A: a\r\n  \r\n\r\n");
  // Whitespace before the first field.
  expect_malformed("GET / HTTP/1.1\r\n Host: a\r\n\r\n");
}

TEST(HttpMessageReader, BareCrInAFieldValueIsRefused) {
  expect_malformed("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n");
  expect_malformed("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\r\n\r\n");
  expect_malformed("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n");
  expect_malformed("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n");
}

TEST(HttpMessageReader, BareLfLineEndingIsRefused) {
  expect_malformed("GET / HTTP/1.1\nHost: a\n\n");
  expect_malformed("GET / HTTP/1.1\r\nHost: a\n\r\n");
  expect_malformed("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\nb\r\n\r\n");
  expect_malformed("GET / HTTP/1.1\r\nHost: a\r\n\n");
}

TEST(HttpMessageReader, SpaceBeforeTheColonIsRefused) {
  expect_malformed("GET / HTTP/1.1\r\nHost : a\r\n\r\n");
  expect_malformed("POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 3\r\n\r\nabc");
  expect_malformed("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n");
}

TEST(HttpMessageReader, InvalidContentLengthIsRefused) {
  expect_malformed("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n");
  expect_malformed("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n");
  expect_malformed("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n");
}

TEST(HttpMessageReader, InvalidChunkSizeIsRefused) {
  const std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  expect_malformed(head + "zz\r\nabc\r\n0\r\n\r\n");
  expect_malformed(head + "\r\nabc\r\n0\r\n\r\n");
  expect_malformed(head + "-3\r\nabc\r\n0\r\n\r\n");
  expect_malformed(head + "3\r\nabc\r\nzz\r\n\r\n");
}

TEST(HttpMessageReader, ChunkSizeOverflowIsRefused) {
  const std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  expect_malformed(head + std::string(20, 'f') + "\r\nabc\r\n0\r\n\r\n");
  expect_malformed(head + "10000000000000000\r\nabc\r\n0\r\n\r\n");  // 2^64
}

TEST(HttpMessageReader, MissingCrlfAfterChunkDataIsRefused) {
  const std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  expect_malformed(head + "3\r\nabcX\r\n0\r\n\r\n");
  expect_malformed(head + "3\r\nabc0\r\n\r\n");
  for (const auto& [how, pieces] : deliveries(head + "3\r\nabcdef\r\n0\r\n\r\n")) {
    SCOPED_TRACE(how);
    const auto t = read_requests(pieces);
    ASSERT_EQ(t.messages.size(), 1u);
    // The chunk's data went on as it arrived; what follows it is refused.
    EXPECT_EQ(t.messages[0].body, "abc");
    EXPECT_EQ(failure_name(t.messages[0].error.failure), "malformed");
  }
}

// Beast checks (in debug builds) that a last chunk it could not finish is presented again with at
// least 5 bytes, which a body with no data chunk, arriving a byte at a time, did not do.
TEST(HttpMessageReader, ChunkedBodyOfOnlyTheLastChunkIsReadHoweverItArrives) {
  const std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  expect_request_accepted(head + "0\r\n\r\n");
  expect_request_accepted(head + "0\r\nX-Trailer: t\r\n\r\n");
  expect_request_accepted(head + "000;ext=1\r\n\r\n");
}

TEST(HttpMessageReader, ControlCharactersInAFieldValueAreRefused) {
  const char nul[] = "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\n\r\n";
  expect_malformed(std::string(nul, sizeof nul - 1));
  expect_malformed("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x01 b\r\n\r\n");
  expect_malformed("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x7f b\r\n\r\n");
}

TEST(HttpMessageReader, OverlongChunkFramingIsRefusedWithoutReadingItAll) {
  // Chunk extensions and trailer fields are framing the body relay never forwards; they are held until
  // their line ends, so they must not grow without bound.
  const auto small = limits(64, 1024);
  const std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string extension = head + "5;" + std::string(1 << 20, 'e') + "\r\nhello\r\n0\r\n\r\n";
  const std::string trailer = head + "5\r\nhello\r\n0\r\nX-T: " + std::string(1 << 20, 't') + "\r\n\r\n";
  for (const std::string& request : {extension, trailer}) {
    const auto t = read_requests(split(request, 1000), small);
    ASSERT_EQ(t.messages.size(), 1u);
    EXPECT_EQ(failure_name(t.messages[0].error.failure), "malformed") << t.messages[0].error.detail;
    EXPECT_EQ(status_for(t.messages[0].error), 400);
    // At most the header limit, one read's worth of room beyond it, and the piece in flight.
    EXPECT_LE(t.delivered, 1024u + 16u * 1024u + 1000u);
  }
}

// ---- the peer ends the connection ----

TEST(HttpMessageReader, PeerClosingBeforeAnyByteIsAnOrderlyEnd) {
  const auto t = read_requests({});
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_EQ(failure_name(t.messages[0].error.failure), "closed");
  EXPECT_EQ(status_for(t.messages[0].error), 0);
}

TEST(HttpMessageReader, PeerClosingInsideTheHeaderIsAnIoFailure) {
  for (const std::string& cut : std::vector<std::string>{"G", "GET / HTTP/1.1", "GET / HTTP/1.1\r\n",
                                                         "GET / HTTP/1.1\r\nHost: a\r\n"}) {
    SCOPED_TRACE(cut);
    const auto t = read_requests({cut});
    ASSERT_EQ(t.messages.size(), 1u);
    EXPECT_EQ(failure_name(t.messages[0].error.failure), "io");
    EXPECT_EQ(status_for(t.messages[0].error), 0);
  }
}

TEST(HttpMessageReader, PeerClosingInsideTheBodyIsAnIoFailure) {
  const auto with_length = read_requests({"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"});
  ASSERT_EQ(with_length.messages.size(), 1u);
  EXPECT_EQ(with_length.messages[0].body, "abc");
  EXPECT_EQ(failure_name(with_length.messages[0].error.failure), "io");

  const auto chunked = read_requests({"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"});
  ASSERT_EQ(chunked.messages.size(), 1u);
  EXPECT_EQ(chunked.messages[0].body, "abc");
  EXPECT_EQ(failure_name(chunked.messages[0].error.failure), "io");
}

TEST(HttpMessageReader, ResponseWithoutLengthEndsAtTheClose) {
  const std::string response = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil\r\nthe close";
  for (const auto& [how, pieces] : deliveries(response)) {
    SCOPED_TRACE(how);
    const auto t = read_responses(pieces, limits(), {.max_messages = 1});
    ASSERT_EQ(t.messages.size(), 1u);
    EXPECT_FALSE(t.messages[0].error) << t.messages[0].error.detail;
    EXPECT_TRUE(t.messages[0].body_done);
    EXPECT_EQ(t.messages[0].body, "until\r\nthe close");
  }
}

// Beast reads any three digits as a status; the gateway would pass 020 on as "20".
TEST(HttpMessageReader, ResponseStatusOutside100To599IsRefused) {
  for (const std::string status : {"000", "020", "099", "600", "999"}) {
    const auto t = read_responses({"HTTP/1.1 " + status + " X\r\nContent-Length: 0\r\n\r\n"});
    ASSERT_EQ(t.messages.size(), 1u) << status;
    EXPECT_EQ(failure_name(t.messages[0].error.failure), "malformed") << status;
    EXPECT_EQ(t.messages[0].error.detail,
              "status code " + std::to_string(std::stoi(status)) + " outside 100-599");
  }
  for (const std::string status : {"100", "599"}) {
    const auto t = read_responses({"HTTP/1.1 " + status + " X\r\nContent-Length: 0\r\n\r\n"});
    ASSERT_FALSE(t.messages.empty()) << status;
    EXPECT_FALSE(t.messages[0].error) << status << ": " << t.messages[0].error.detail;
  }
}

TEST(HttpMessageReader, ResponseToHeadHasNoBodyWhateverItsLength) {
  const std::string head_response = "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n";
  const std::string next = "HTTP/1.1 204 No Content\r\n\r\n";
  const auto t = read_responses({head_response + next}, limits(), {.max_messages = 1, .skip_body = true});
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_FALSE(t.messages[0].error);
  EXPECT_TRUE(t.messages[0].body_done);
  EXPECT_EQ(t.messages[0].body, "");
  EXPECT_EQ(t.rest, next);
}

TEST(HttpMessageReader, SilentPeerTimesOutWith408) {
  asio::io_context context;
  SilentStream stream(context);
  MessageLimits quick = limits();
  quick.read_timeout = std::chrono::milliseconds(1);
  MessageReader reader(stream, quick);
  ReadError error;
  run(context, [&]() -> asio::awaitable<void> {
    RequestParser parser;
    error = co_await reader.read_header(parser);
  });
  EXPECT_EQ(failure_name(error.failure), "timeout");
  EXPECT_EQ(status_for(error), 408);
  EXPECT_TRUE(stream.closed);
}

// ---- relaying bodies ----

TEST(HttpBodyRelay, ContentLengthBodyIsRelayedAsItIsWithItsHead) {
  const std::string body = "name=value&other=\r\n\r\n0\r\n\r\n";
  const std::string request =
      "POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  for (bool read_first : {false, true}) {
    for (const auto& [how, pieces] : deliveries(request)) {
      SCOPED_TRACE(how + (read_first ? " with read_first" : ""));
      const Relayed r = relay_request(pieces, false, 8, read_first);
      ASSERT_FALSE(r.header_error) << r.header_error.detail;
      EXPECT_FALSE(r.first_error) << r.first_error.detail;
      EXPECT_FALSE(r.read_error) << r.read_error.detail;
      EXPECT_FALSE(r.write_error);
      EXPECT_EQ(r.head, "POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(body.size()) +
                            "\r\n\r\n");
      EXPECT_EQ(r.written, request);
      EXPECT_EQ(r.total, body.size());
    }
  }
}

TEST(HttpBodyRelay, ChunkedBodyIsRelayedAsAValidChunkedBody) {
  const std::string head = "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string chunks =
      "5\r\nhello\r\n"
      "1A;name=value\r\n abcdefghijklmnopqrstuvwxy\r\n"
      "3\r\n\r\n\n\r\n"
      "000\r\n\r\n";
  const std::string payload = "hello abcdefghijklmnopqrstuvwxy\r\n\n";
  for (bool read_first : {false, true}) {
    for (const auto& [how, pieces] : deliveries(head + chunks)) {
      SCOPED_TRACE(how + (read_first ? " with read_first" : ""));
      const Relayed r = relay_request(pieces, true, 7, read_first);
      ASSERT_FALSE(r.header_error) << r.header_error.detail;
      EXPECT_FALSE(r.read_error) << r.read_error.detail;
      EXPECT_FALSE(r.write_error);
      EXPECT_EQ(r.total, payload.size());
      ASSERT_EQ(r.written.substr(0, r.head.size()), r.head);
      EXPECT_EQ(r.head, head);
      const auto decoded = decode_chunked(std::string_view(r.written).substr(r.head.size()));
      ASSERT_TRUE(decoded.has_value()) << r.written;
      EXPECT_EQ(*decoded, payload);
    }
  }
}

TEST(HttpBodyRelay, EmptyChunkedBodyLeavesWithItsHeadInOneWrite) {
  const std::string request = "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
  const Relayed r = relay_request({request}, true, 64);
  ASSERT_FALSE(r.header_error);
  EXPECT_FALSE(r.read_error);
  EXPECT_EQ(r.written, request);
  EXPECT_EQ(r.writes, 1u);
  EXPECT_EQ(r.total, 0u);
}

TEST(HttpBodyRelay, MebibyteInThousandBytePiecesIsRelayedIntact) {
  const std::string body = random_bytes(1 << 20, 42);
  const std::string head =
      "PUT /blob HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  const Relayed r = relay_request(split(head + body, 1000), false, 16 * 1024);
  ASSERT_FALSE(r.header_error) << r.header_error.detail;
  EXPECT_FALSE(r.read_error) << r.read_error.detail;
  EXPECT_FALSE(r.write_error);
  EXPECT_EQ(r.total, body.size());
  EXPECT_EQ(r.written.size(), head.size() + body.size());
  EXPECT_TRUE(r.written == head + body);  // not EXPECT_EQ: a mismatch would print a mebibyte
}

TEST(HttpBodyRelay, BadFirstChunkIsRefusedBeforeAnythingIsSent) {
  const std::string request = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n";
  const Relayed r = relay_request({request}, true, 64, true);
  ASSERT_FALSE(r.header_error);
  EXPECT_EQ(failure_name(r.first_error.failure), "malformed");
  EXPECT_EQ(status_for(r.first_error), 400);
  EXPECT_TRUE(r.written.empty());
}

TEST(HttpBodyRelay, BadLaterChunkStopsTheRelay) {
  const std::string request =
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\ndef\r\n0\r\n\r\n";
  const Relayed r = relay_request({request}, true, 64);
  ASSERT_FALSE(r.header_error);
  EXPECT_EQ(failure_name(r.read_error.failure), "malformed");
  EXPECT_EQ(r.total, 3u);
  // What was sent is no complete chunked body: the next hop cannot take it for a whole message.
  EXPECT_FALSE(decode_chunked(std::string_view(r.written).substr(r.head.size())).has_value());
}

// ---- serialising ----

TEST(HttpSerialize, ParsedRequestHeaderComesOutAsItCameIn) {
  const std::string request =
      "DELETE /items/7?force=1 HTTP/1.1\r\nhOsT: a\r\nX-Custom: one\r\nX-Custom: two\r\n\r\n";
  const auto t = read_requests({request}, limits(), {.max_messages = 1});
  ASSERT_FALSE(t.messages[0].error);
  EXPECT_EQ(serialize(t.messages[0].header), request);

  RequestHeader built;
  built.method(bhttp::verb::post);
  built.target("/x");
  built.set(bhttp::field::host, "example.com");
  built.insert("X-Trace", "1");
  EXPECT_EQ(serialize(built), "POST /x HTTP/1.1\r\nHost: example.com\r\nX-Trace: 1\r\n\r\n");
}

TEST(HttpSerialize, ResponseReasonIsKeptCleanedOrStandard) {
  const std::string response = "HTTP/1.1 404 Nothing Here\r\nContent-Length: 0\r\n\r\n";
  const auto t = read_responses({response}, limits(), {.max_messages = 1});
  ASSERT_FALSE(t.messages[0].error);
  EXPECT_EQ(serialize(t.messages[0].header), response);

  ResponseHeader standard;
  standard.result(503);
  EXPECT_EQ(serialize(standard), "HTTP/1.1 503 Service Unavailable\r\n\r\n");

  ResponseHeader controls;
  controls.result(200);
  controls.reason("Fine\r\nX-Injected: 1");
  controls.set(bhttp::field::content_length, "0");
  EXPECT_EQ(serialize(controls), "HTTP/1.1 200 Fine  X-Injected: 1\r\nContent-Length: 0\r\n\r\n");

  const auto empty_reason = read_responses({"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n"});
  ASSERT_FALSE(empty_reason.messages[0].error) << empty_reason.messages[0].error.detail;
  EXPECT_EQ(serialize(empty_reason.messages[0].header), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
}

TEST(HttpWriteAll, WritesTheTextWhole) {
  asio::io_context context;
  PieceStream stream(context, {});
  error_code result = asio::error::eof;
  run(context,
      [&]() -> asio::awaitable<void> { result = co_await write_all(stream, "HTTP/1.1 200 OK\r\n\r\n"); });
  EXPECT_FALSE(result);
  EXPECT_EQ(stream.written, "HTTP/1.1 200 OK\r\n\r\n");
}

// ---- hop-by-hop fields ----

TEST(HttpRemoveHopByHop, RemovesConnectionFieldsAndThoseConnectionNames) {
  bhttp::fields fields;
  fields.insert("Host", "example.com");
  fields.insert("Connection", "keep-alive, X-Private ,\tx-other");
  fields.insert("Keep-Alive", "timeout=5");
  fields.insert("Proxy-Connection", "keep-alive");
  fields.insert("TE", "trailers");
  fields.insert("Trailer", "Expires");
  fields.insert("Transfer-Encoding", "chunked");
  fields.insert("Upgrade", "websocket");
  fields.insert("X-Private", "secret");
  fields.insert("Content-Type", "text/plain");
  fields.insert("connection", "X-Third,,");
  fields.insert("X-Other", "o");
  fields.insert("x-third", "3");
  fields.insert("Content-Length", "12");
  fields.insert("Authorization", "Bearer t");
  remove_hop_by_hop(fields);
  const Fields expected{{"Host", "example.com"},
                        {"Content-Type", "text/plain"},
                        {"Content-Length", "12"},
                        {"Authorization", "Bearer t"}};
  EXPECT_EQ(fields_of(fields), expected);
}

TEST(HttpRemoveHopByHop, KeepsUpgradeWhenAsked) {
  bhttp::fields fields;
  fields.insert("Host", "example.com");
  fields.insert("Connection", "Upgrade, X-Hop");
  fields.insert("Upgrade", "websocket");
  fields.insert("X-Hop", "1");
  fields.insert("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
  fields.insert("TE", "trailers");
  remove_hop_by_hop(fields, true);
  const Fields expected{
      {"Host", "example.com"}, {"Upgrade", "websocket"}, {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}};
  EXPECT_EQ(fields_of(fields), expected);
}

TEST(HttpRemoveHopByHop, KeepsEndToEndFieldsUntouched) {
  bhttp::fields fields;
  fields.insert("Host", "example.com");
  fields.insert("Accept", "*/*");
  fields.insert("Cache-Control", "no-cache");
  fields.insert("Cookie", "a=1");
  fields.insert("Cookie", "b=2");
  const Fields before = fields_of(fields);
  remove_hop_by_hop(fields);
  EXPECT_EQ(fields_of(fields), before);
}

// ---- error answers ----

TEST(HttpErrorResponse, IsAParseableResponseThatClosesTheConnection) {
  const std::string text = error_response(431, "header too\r\nlarge", "req-42");
  bhttp::response_parser<bhttp::string_body> parser;
  parser.eager(true);
  error_code ec;
  const std::size_t used = parser.put(asio::buffer(text), ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(used, text.size());
  ASSERT_TRUE(parser.is_done());
  const auto& response = parser.get();
  EXPECT_EQ(response.result_int(), 431);
  EXPECT_EQ(response.reason(), "Request Header Fields Too Large");
  EXPECT_EQ(response["x-error-message"], "header too  large");
  EXPECT_EQ(response["x-request-id"], "req-42");
  EXPECT_EQ(response[bhttp::field::connection], "close");
  EXPECT_FALSE(parser.keep_alive());
  EXPECT_EQ(response.body(), "header too  large\n");

  const std::string anonymous = error_response(400, "bad", "");
  bhttp::response_parser<bhttp::string_body> second;
  second.eager(true);
  second.put(asio::buffer(anonymous), ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(second.is_done());
  EXPECT_EQ(second.get().result_int(), 400);
  EXPECT_EQ(second.get().count("x-request-id"), 0u);
  EXPECT_EQ(second.get()["x-error-message"], "bad");
}

TEST(HttpAnswerAndClose, SendsTheAnswerThenHalfClosesAndDrainsThePeer) {
  asio::io_context context;
  const std::string unread = "POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + std::string(20000, 'x');
  PieceStream stream(context, split(unread, 4096));
  MessageReader reader(stream, limits());
  const std::string answer = error_response(413, "too large", "r1");
  run(context, [&]() -> asio::awaitable<void> { co_await answer_and_close(reader, answer); });
  EXPECT_EQ(stream.written, answer);
  EXPECT_TRUE(stream.write_shut);
  EXPECT_EQ(stream.delivered, unread.size());
}

// ---- damaged input ----

TEST(HttpMessageReader, RandomMutationsAlwaysEndInAMessageOrARefusal) {
  struct Sample {
    bool request;
    std::string bytes;
  };
  const std::vector<Sample> corpus = {
      {true, kGet},
      {true, "POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 15\r\n\r\nhello=world&x=1"},
      {true,
       "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
       "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"},
      {true, "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"},
      {false, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world"},
      {false, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n"},
      {false, "HTTP/1.1 204 No Content\r\nServer: s\r\n\r\nHTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"},
      {false, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the close"},
  };
  const MessageLimits small = limits(64, 256);

  std::mt19937 random(20240611);
  std::size_t complete = 0;  // messages read whole
  std::size_t refused = 0;   // failures that are answered (status_for() not 0)
  for (int round = 0; round < 3000; ++round) {
    const Sample& sample = corpus[random() % corpus.size()];
    std::string bytes = sample.bytes;
    const int mutations = 1 + static_cast<int>(random() % 4);
    for (int i = 0; i < mutations; ++i) {
      const std::size_t at = bytes.empty() ? 0 : random() % bytes.size();
      switch (random() % 5) {
        case 0:
          if (!bytes.empty()) bytes[at] = static_cast<char>(random());
          break;
        case 1:
          if (!bytes.empty()) bytes[at] = static_cast<char>(bytes[at] ^ (1 << (random() % 8)));
          break;
        case 2:
          bytes.insert(at, 1, static_cast<char>(random()));
          break;
        case 3:
          if (!bytes.empty()) bytes.erase(at, 1);
          break;
        case 4: {
          const std::size_t n = std::min<std::size_t>(bytes.size() - at, random() % 16);
          bytes.insert(at, bytes.substr(at, n));
          break;
        }
      }
    }
    std::vector<std::string> pieces;
    for (std::size_t at = 0; at < bytes.size();) {
      const std::size_t n = 1 + random() % (random() % 4 == 0 ? 3 : 40);
      pieces.push_back(bytes.substr(at, n));
      at += n;
    }
    const ReadOptions options{.max_messages = 4, .body_room = 1 + random() % 32};
    SCOPED_TRACE(::testing::Message() << "round " << round << ", input " << ::testing::PrintToString(bytes));

    std::size_t body_bytes = 0;
    bool runaway = false;
    std::size_t messages = 0;
    auto check = [&](const auto& t) {
      body_bytes = t.body_bytes;
      runaway = t.runaway;
      messages = t.messages.size();
      for (const auto& m : t.messages) {
        if (m.error) {
          if (status_for(m.error) != 0) ++refused;
          EXPECT_FALSE(m.error.detail.empty());
          continue;
        }
        ++complete;
        EXPECT_TRUE(m.header_done);
        EXPECT_TRUE(m.body_done);
        // A complete message with a length carries exactly that many body bytes.
        if (m.content_length && !bodiless(m.header)) {
          EXPECT_EQ(m.body.size(), *m.content_length);
        }
      }
    };
    if (sample.request) {
      check(read_requests(pieces, small, options));
    } else {
      check(read_responses(pieces, small, options));
    }
    ASSERT_FALSE(runaway);
    ASSERT_GE(messages, 1u);
    ASSERT_LE(body_bytes, bytes.size());
    if (::testing::Test::HasFailure()) break;
  }
  // Both outcomes occur, so the run exercised both.
  EXPECT_GT(complete, 100u);
  EXPECT_GT(refused, 100u);
}

}  // namespace
