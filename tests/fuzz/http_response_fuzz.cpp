// HTTP/1.1 responses as the http route relays them to the client: read by MessageReader, interim
// (1xx) responses passed on, hop-by-hop fields removed, framed by frame_response and BodyRelay (a body
// of unknown length goes out chunked), then read again from what was relayed, as the client reads
// them. The client must read exactly the responses the gateway relayed whole, with the same status
// line, fields and body, and nothing more: a difference would let a target's bytes pose as the answer
// to the client's next request (response splitting) or cut a body short.
//
// Input: the first byte chooses how the bytes arrive (pieces of 1 to 128 bytes), whether the request
// was HEAD, and how large the relay's chunks are; the rest is what the target sends.
#include "fuzz/http_relay.hpp"

namespace {

using namespace gw::http;
using namespace gw::fuzz;
namespace asio = boost::asio;

// Relays responses from `pieces` as the route does; returns what the client receives.
std::string relay_responses(std::vector<std::string> pieces, bool head_request, std::size_t chunk,
                            std::size_t& relayed) {
  asio::io_context context;
  gw::test::PieceStream target(context, std::move(pieces));
  gw::test::PieceStream client(context, {});
  MessageReader reader(target, kRelayLimits);
  RelayBuffer scratch(chunk);
  relayed = 0;
  run_coroutine(context, [&]() -> asio::awaitable<void> {
    while (relayed < kMaxMessages) {
      ResponseParser parser;
      if (head_request) parser.skip(true);
      if (co_await reader.read_header(parser)) break;
      ResponseHeader header = parser.get().base();
      const int status = header.result_int();
      if (status == 101) break;  // the connection would become a tunnel
      const bool keep_alive = parser.keep_alive();
      remove_hop_by_hop(header);
      if (status >= 100 && status < 200) {  // interim: header only, then the next response
        if ((co_await client.write(asio::buffer(serialize(header)))).error) break;
        ++relayed;
        continue;
      }
      const bool chunked = frame_response(parser, header, head_request, false);
      BodyRelay<false> body(reader, parser, chunked, scratch);
      ReadError read_error;
      gw::error_code write_error;
      co_await body.relay(client, serialize(header), read_error, write_error);
      if (read_error || write_error || !parser.is_done()) break;
      ++relayed;
      if (!keep_alive) break;
    }
  });
  return client.written;
}

}  // namespace

GW_FUZZ_TARGET(http_response) {
  if (size == 0) return 0;
  const std::size_t piece = 1 + (data[0] >> 1);
  const bool head_request = data[0] & 1;
  const std::size_t chunk = 1 + data[0] % 61;
  const std::string_view bytes = text(data + 1, size - 1);

  const auto read = read_messages<false>(pieces_of(bytes, piece), kRelayLimits, head_request);
  std::size_t relayed = 0;
  const std::string wire = relay_responses(pieces_of(bytes, piece), head_request, chunk, relayed);
  compare_relayed(read, relayed, wire,
                  read_messages<false>(pieces_of(wire, 4096), kFarSideLimits, head_request));
  return 0;
}
