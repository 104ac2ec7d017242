// Shared by the http_request and http_response fuzz targets: messages read as MessageReader reads
// them, and the check that what the http route relayed reads back, on the far side, as exactly the
// messages it relayed whole.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_target.hpp"
#include "http1.hpp"
#include "support/piece_stream.hpp"

namespace gw::fuzz {

namespace bhttp = boost::beast::http;

struct HttpMessage {
  std::string head;  // serialised without hop-by-hop fields and Content-Length (a relay may re-frame)
  std::string body;
  bool whole = false;  // header and body read to their end
};

// No read timeout: the bytes are all there, and its timer would keep the io_context running.
inline const http::MessageLimits kRelayLimits{256, 1024, std::chrono::milliseconds(0)};
// The far side's limits are its own; a relayed header may be a little longer than the one read (a
// space after each field name's colon), so it reads with more room: framing is what is compared.
inline const http::MessageLimits kFarSideLimits{8192, 64 * 1024, std::chrono::milliseconds(0)};
inline constexpr std::size_t kMaxMessages = 8;

// `bytes` with every byte outside printable ASCII as \xNN, for a finding's message.
inline std::string escaped(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes.substr(0, 2048)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// Runs `body` (a coroutine lambda) to its end on `context`, rethrowing what it throws.
template <class Body>
void run_coroutine(asio::io_context& context, Body body) {
  std::exception_ptr failure;
  asio::co_spawn(context, body(), [&failure](std::exception_ptr e) { failure = e; });
  context.run();
  if (failure) std::rethrow_exception(failure);
}

template <class Header>
std::string comparable_head(Header header) {
  http::remove_hop_by_hop(header);
  header.erase(bhttp::field::content_length);
  return http::serialize(header);
}

// Reads messages from `pieces` with read_header and read_body until one fails or does not end.
// `head_responses`: responses to HEAD (no body).
template <bool IsRequest>
std::vector<HttpMessage> read_messages(std::vector<std::string> pieces, const http::MessageLimits& limits,
                                       bool head_responses = false) {
  asio::io_context context;
  test::PieceStream stream(context, std::move(pieces));
  http::MessageReader reader(stream, limits);
  std::vector<HttpMessage> out;
  run_coroutine(context, [&]() -> asio::awaitable<void> {
    char room[97];
    while (out.size() < kMaxMessages) {
      bhttp::parser<IsRequest, bhttp::buffer_body> parser;
      if (head_responses) parser.skip(true);
      if (co_await reader.read_header(parser)) break;
      HttpMessage message;
      message.head = comparable_head(parser.get().base());
      http::ReadError error;
      while (true) {
        const std::size_t n = co_await reader.read_body(parser, asio::buffer(room), error);
        if (error || n == 0) break;
        message.body.append(room, n);
      }
      message.whole = !error && parser.is_done();
      const bool whole = message.whole;
      out.push_back(std::move(message));
      if (!whole) break;
    }
  });
  return out;
}

// What was read (`read`, from the original bytes) against what the far side reads (`received`, from
// `wire`, the relayed bytes), when the relay passed on its first `relayed` messages whole.
inline void compare_relayed(const std::vector<HttpMessage>& read, std::size_t relayed,
                            const std::string& wire, const std::vector<HttpMessage>& received) {
  std::size_t read_whole = 0;
  while (read_whole < read.size() && read[read_whole].whole) ++read_whole;
  if (relayed > read_whole) {
    fail("relayed " + std::to_string(relayed) + " messages whole, read " + std::to_string(read_whole));
  }
  std::size_t received_whole = 0;
  for (const auto& message : received) received_whole += message.whole ? 1 : 0;
  if (received_whole != relayed) {
    fail("the far side reads " + std::to_string(received_whole) + " whole messages where " +
         std::to_string(relayed) + " were relayed: " + escaped(wire));
  }
  for (std::size_t i = 0; i < relayed; ++i) {
    if (received[i].head != read[i].head) {
      fail("message " + std::to_string(i) + " arrives as\n" + received[i].head + "but was read as\n" +
           read[i].head);
    }
    if (received[i].body != read[i].body) fail("message " + std::to_string(i) + " arrives with another body");
  }
}

}  // namespace gw::fuzz
