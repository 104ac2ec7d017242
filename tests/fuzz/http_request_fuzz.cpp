// HTTP/1.1 requests as the http route relays them: read by MessageReader, hop-by-hop fields removed,
// framed by prepare_request and BodyRelay, then read again from what was relayed, as the next hop
// reads them. The second reading must give exactly the requests that the gateway relayed whole, with
// the same start line, fields and body, and nothing more: any difference is a request that the next
// hop sees and the gateway did not check (request smuggling).
//
// Input: the first byte chooses how the bytes arrive (pieces of 1 to 256 bytes) and how large the
// relay's chunks are; the rest is what the client sends.
#include "fuzz/http_relay.hpp"

namespace {

using namespace gw::http;
using namespace gw::fuzz;
namespace asio = boost::asio;

// Relays requests from `pieces` as the route does; returns what the next hop receives.
std::string relay_requests(std::vector<std::string> pieces, std::size_t chunk, std::size_t& relayed) {
  asio::io_context context;
  gw::test::PieceStream client(context, std::move(pieces));
  gw::test::PieceStream upstream(context, {});
  MessageReader reader(client, kRelayLimits);
  RelayBuffer scratch(chunk);
  relayed = 0;
  run_coroutine(context, [&]() -> asio::awaitable<void> {
    while (relayed < kMaxMessages) {
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
      ++relayed;
    }
  });
  return upstream.written;
}

}  // namespace

GW_FUZZ_TARGET(http_request) {
  if (size == 0) return 0;
  const std::size_t piece = 1 + data[0];
  const std::size_t chunk = 1 + data[0] % 61;
  const std::string_view bytes = text(data + 1, size - 1);

  const auto read = read_messages<true>(pieces_of(bytes, piece), kRelayLimits);
  std::size_t relayed = 0;
  const std::string wire = relay_requests(pieces_of(bytes, piece), chunk, relayed);
  // A request that was read whole is relayed, and the relay goes on as long as the reading does.
  std::size_t read_whole = 0;
  while (read_whole < read.size() && read[read_whole].whole) ++read_whole;
  if (relayed != read_whole) {
    fail("relayed " + std::to_string(relayed) + " requests whole, read " + std::to_string(read_whole));
  }
  compare_relayed(read, relayed, wire, read_messages<true>(pieces_of(wire, 4096), kFarSideLimits));
  return 0;
}
