// HTTP/1.1 requests as the http route relays them: read by MessageReader, hop-by-hop fields removed,
// framed by prepare_request and BodyRelay, then read again from what was relayed, as the next hop
// reads them. The second reading must give exactly the requests that the gateway relayed whole, with
// the same start line, fields and body, and nothing more: any difference is a request that the next
// hop sees and the gateway did not check (request smuggling).
//
// Input: the first byte chooses how the bytes arrive (pieces of 1 to 256 bytes) and how large the
// relay's chunks are; the rest is what the client sends.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "fuzz/fuzz_target.hpp"
#include "http1.hpp"
#include "support/piece_stream.hpp"

namespace {

using namespace gw::http;
namespace asio = boost::asio;

struct Request {
  std::string head;  // serialised, hop-by-hop fields removed
  std::string body;
  bool whole = false;  // header and body read to their end
};

std::vector<std::string> pieces_of(std::string_view bytes, std::size_t size) {
  std::vector<std::string> pieces;
  for (std::size_t at = 0; at < bytes.size(); at += size) pieces.emplace_back(bytes.substr(at, size));
  return pieces;
}

std::string comparable_head(RequestHeader header) {
  remove_hop_by_hop(header);
  header.erase(bhttp::field::content_length);  // the relay may re-frame a body
  return serialize(header);
}

template <class Body>
void run(asio::io_context& context, Body body) {
  std::exception_ptr failure;
  asio::co_spawn(context, body(), [&failure](std::exception_ptr e) { failure = e; });
  context.run();
  if (failure) std::rethrow_exception(failure);
}

// No read timeout: the bytes are all there, and its timer would keep the io_context running.
// `bytes` with every byte outside printable ASCII as \xNN, for a finding's message.
std::string escaped(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes.substr(0, 2048)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

const MessageLimits kLimits{256, 1024, std::chrono::milliseconds(0)};
// The next hop's limits are its own; a relayed header may be a little longer than the one read (a
// space after each field name's colon), so it reads with more room: framing is what is compared.
const MessageLimits kNextHopLimits{8192, 64 * 1024, std::chrono::milliseconds(0)};
constexpr std::size_t kMaxRequests = 8;

// Reads requests from `pieces` with read_body, as the gateway and then the next hop would.
std::vector<Request> read_requests(std::vector<std::string> pieces, const MessageLimits& limits) {
  asio::io_context context;
  gw::test::PieceStream stream(context, std::move(pieces));
  MessageReader reader(stream, limits);
  std::vector<Request> out;
  run(context, [&]() -> asio::awaitable<void> {
    char room[97];
    while (out.size() < kMaxRequests) {
      RequestParser parser;
      if (co_await reader.read_header(parser)) break;
      Request request;
      request.head = comparable_head(parser.get().base());
      ReadError error;
      while (true) {
        const std::size_t n = co_await reader.read_body(parser, asio::buffer(room), error);
        if (error || n == 0) break;
        request.body.append(room, n);
      }
      request.whole = !error && parser.is_done();
      const bool whole = request.whole;
      out.push_back(std::move(request));
      if (!whole) break;
    }
  });
  return out;
}

// Relays requests from `pieces` as the route does; returns what the next hop receives.
std::string relay_requests(std::vector<std::string> pieces, std::size_t chunk, std::size_t& relayed_whole) {
  asio::io_context context;
  gw::test::PieceStream client(context, std::move(pieces));
  gw::test::PieceStream upstream(context, {});
  MessageReader reader(client, kLimits);
  RelayBuffer scratch(chunk);
  relayed_whole = 0;
  run(context, [&]() -> asio::awaitable<void> {
    while (relayed_whole < kMaxRequests) {
      RequestParser parser;
      if (co_await reader.read_header(parser)) break;
      RequestHeader outgoing = parser.get().base();
      remove_hop_by_hop(outgoing);
      OutgoingRequest next = prepare_request(parser, outgoing);
      BodyRelay<true> body(reader, parser, parser.chunked(), scratch);
      ReadError read_error;
      gw::error_code write_error;
      co_await body.relay(upstream, next.head, read_error, write_error);
      if (read_error || write_error || !parser.is_done()) break;
      ++relayed_whole;
    }
  });
  return upstream.written;
}

}  // namespace

GW_FUZZ_TARGET(http_request) {
  if (size == 0) return 0;
  const std::size_t piece = 1 + data[0];
  const std::size_t chunk = 1 + data[0] % 61;
  const std::string_view bytes = gw::fuzz::text(data + 1, size - 1);

  const std::vector<Request> sent = read_requests(pieces_of(bytes, piece), kLimits);
  std::size_t relayed_whole = 0;
  const std::string wire = relay_requests(pieces_of(bytes, piece), chunk, relayed_whole);
  const std::vector<Request> received = read_requests(pieces_of(wire, 4096), kNextHopLimits);

  std::size_t sent_whole = 0;
  while (sent_whole < sent.size() && sent[sent_whole].whole) ++sent_whole;
  if (relayed_whole != sent_whole) {
    gw::fuzz::fail("relayed " + std::to_string(relayed_whole) + " requests whole, read " +
                   std::to_string(sent_whole));
  }
  std::size_t received_whole = 0;
  for (const auto& request : received) received_whole += request.whole ? 1 : 0;
  if (received_whole != relayed_whole) {
    gw::fuzz::fail("the next hop reads " + std::to_string(received_whole) + " whole requests where " +
                   std::to_string(relayed_whole) + " were relayed: " + escaped(wire));
  }
  for (std::size_t i = 0; i < relayed_whole; ++i) {
    if (received[i].head != sent[i].head) {
      gw::fuzz::fail("request " + std::to_string(i) + " arrives as\n" + received[i].head +
                     "but was read as\n" + sent[i].head);
    }
    if (received[i].body != sent[i].body)
      gw::fuzz::fail("request " + std::to_string(i) + " arrives with another body");
  }
  return 0;
}
