// The tunnel's HTTP/2 connection (nghttp2 under H2Connection) reading whatever the other end sends:
// on the connector side (server) what an edge sends after its preface, on the edge side (client) what
// a connector sends, while the edge opens two streams. Streams that arrive are served as the tcp route
// serves them (answered, read to their end, written to, half-closed). When the input ends the
// transport reports the end of the stream, and the connection must end with every stream: the
// io_context runs out of work. A connection that does not end (a leaked stream, a stuck coroutine)
// hangs the target, which libFuzzer reports as a timeout.
//
// Input: the first byte's low bit chooses the side, its other bits how the bytes arrive (pieces of 1
// to 128 bytes); the rest is the peer's bytes.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "fuzz/fuzz_target.hpp"
#include "support/piece_stream.hpp"
#include "tunnel/h2_connection.hpp"

namespace {

using namespace gw;
using namespace gw::tunnel;

constexpr std::string_view kClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

asio::awaitable<void> serve(std::unique_ptr<IncomingStream> stream) {
  co_await stream->respond(stream->request().port % 2 ? 200 : 403, "fuzz");
  char buffer[256];
  while (!(co_await stream->read_some(asio::buffer(buffer))).error) {
  }
  co_await stream->write(asio::buffer(std::string_view("answer")));
  co_await stream->shutdown_write();
}

asio::awaitable<void> open_one(std::shared_ptr<H2Connection> connection, std::uint16_t port) {
  TunnelRequest request;
  request.host = "erp.virtual";
  request.port = port;
  request.route_type = "tcp";
  OpenResult opened = co_await connection->open(request, asio::buffer(std::string_view("early")));
  if (!opened) co_return;
  char buffer[256];
  while (!(co_await opened.stream->read_some(asio::buffer(buffer))).error) {
  }
  co_await opened.stream->shutdown_write();
}

}  // namespace

GW_FUZZ_TARGET(h2) {
  if (size == 0) return 0;
  const bool server = data[0] & 1;
  const std::size_t piece = 1 + (data[0] >> 1);
  std::string bytes = server ? std::string(kClientPreface) : std::string();
  bytes.append(fuzz::text(data + 1, size - 1));
  std::vector<std::string> pieces = fuzz::pieces_of(bytes, piece);

  asio::io_context context;
  H2Options options;
  options.ping_interval = std::chrono::milliseconds(0);  // no timer: the connection ends with its input
  options.max_concurrent_streams = 16;
  auto transport = std::make_unique<test::PieceStream>(context, std::move(pieces));
  auto connection = H2Connection::create(std::move(transport),
                                         server ? H2Connection::Side::server : H2Connection::Side::client,
                                         options, [&context](std::unique_ptr<IncomingStream> stream) {
                                           asio::co_spawn(context, serve(std::move(stream)), asio::detached);
                                         });
  bool closed = false;
  connection->on_closed([&closed](const std::string&) { closed = true; });
  connection->start();
  if (!server) {
    asio::co_spawn(context, open_one(connection, 1), asio::detached);
    asio::co_spawn(context, open_one(connection, 2), asio::detached);
  }
  context.run();
  if (!closed) fuzz::fail("the connection did not end with its transport");
  return 0;
}
