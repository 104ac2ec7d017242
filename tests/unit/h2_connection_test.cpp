// The HTTP/2 tunnel connection end to end: two H2Connections (edge = client, connector = server) over a
// real loopback TCP pair, plus raw peers (an nghttp2 client that sends what ours never would, a server
// that goes silent) for the refusal and keepalive paths.
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <cstdlib>
#include <future>
#include <mutex>
#include <thread>

#include "net/socket_stream.hpp"
#include "tunnel/connector_pool.hpp"
#include "tunnel/h2_connection.hpp"

using namespace gw;
using namespace gw::tunnel;
using namespace std::chrono_literals;
using tcp = asio::ip::tcp;
using Side = H2Connection::Side;

namespace {

// A hung test fails the run instead of blocking it forever.
constexpr auto kGuard = std::chrono::seconds(60);

template <typename T>
T get(std::future<T>& future) {
  if (future.wait_for(kGuard) != std::future_status::ready) {
    ADD_FAILURE() << "no result within " << kGuard.count() << " s";
    std::abort();
  }
  return future.get();
}

template <typename T>
T run(asio::io_context& context, asio::awaitable<T> task) {
  auto future = asio::co_spawn(context, std::move(task), asio::use_future);
  return get(future);
}

// One io_context running on its own thread.
struct IoThread {
  asio::io_context context;
  asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(context);
  std::thread thread{[this] { context.run(); }};

  ~IoThread() { join(); }
  void join() {
    guard.reset();
    if (thread.joinable()) thread.join();
  }
};

// A connected loopback pair: the first socket on `a` (accepted), the second on `b` (dialled).
std::pair<tcp::socket, tcp::socket> socket_pair(asio::io_context& a, asio::io_context& b) {
  tcp::acceptor acceptor(a, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket dialled(b);
  dialled.connect(acceptor.local_endpoint());
  tcp::socket accepted = acceptor.accept();
  return {std::move(accepted), std::move(dialled)};
}

std::future<std::string> watch_closed(H2Connection& connection) {
  auto promise = std::make_shared<std::promise<std::string>>();
  auto future = promise->get_future();
  connection.on_closed([promise](const std::string& reason) { promise->set_value(reason); });
  return future;
}

// The edge (client) accepts the TCP connection that the connector (server) dials, as in production.
struct Link {
  std::shared_ptr<H2Connection> client;
  std::shared_ptr<H2Connection> server;
  std::future<std::string> client_closed;
  std::future<std::string> server_closed;

  void close_and_wait() {
    if (!client) return;
    client->close();
    server->close();
    get(client_closed);
    get(server_closed);
  }
};

Link connect(asio::io_context& client_context, asio::io_context& server_context,
             H2Connection::StreamHandler handler, H2Options client_options = {},
             H2Options server_options = {}) {
  auto [edge, connector] = socket_pair(client_context, server_context);
  Link link;
  link.client =
      H2Connection::create(std::make_unique<net::TcpStream>(std::move(edge)), Side::client, client_options);
  link.server = H2Connection::create(std::make_unique<net::TcpStream>(std::move(connector)), Side::server,
                                     server_options, std::move(handler));
  link.client_closed = watch_closed(*link.client);
  link.server_closed = watch_closed(*link.server);
  link.client->start();
  link.server->start();
  return link;
}

TunnelRequest sample_request() {
  return {"erp.corp", 3300, "tcp", "erp", "req-1", "alice"};
}

asio::awaitable<std::string> read_to_eof(Stream& stream, error_code* end = nullptr) {
  std::string out;
  char buffer[4096];
  for (;;) {
    IoResult r = co_await stream.read_some(asio::buffer(buffer));
    out.append(buffer, r.bytes);
    if (r.error) {
      if (end) *end = r.error;
      EXPECT_TRUE(end || r.error == asio::error::eof) << r.error.message();
      co_return out;
    }
  }
}

asio::awaitable<void> echo(std::unique_ptr<IncomingStream> stream) {
  co_await stream->respond(200);
  std::vector<char> buffer(16384);
  for (;;) {
    IoResult r = co_await stream->read_some(asio::buffer(buffer));
    if (r.bytes > 0) {
      IoResult w = co_await stream->write(asio::buffer(buffer.data(), r.bytes));
      if (w.error) co_return;
    }
    if (r.error == asio::error::eof) {
      co_await stream->shutdown_write();
      co_return;
    }
    if (r.error) co_return;
  }
}

H2Connection::StreamHandler echo_handler() {
  return [](std::unique_ptr<IncomingStream> stream) {
    auto executor = stream->executor();
    asio::co_spawn(executor, echo(std::move(stream)), [](std::exception_ptr) {});
  };
}

// Server streams a test keeps (and inspects) from the test thread.
struct Kept {
  std::mutex mutex;
  std::vector<std::shared_ptr<IncomingStream>> streams;
  void add(std::shared_ptr<IncomingStream> s) {
    std::lock_guard lock(mutex);
    streams.push_back(std::move(s));
  }
  void clear() {
    std::lock_guard lock(mutex);
    streams.clear();
  }
};

// ---- open, data, half-close ------------------------------------------------------------------------

TEST(H2Connection, OpensAStreamCarriesTheRequestAndEchoes) {
  IoThread io;
  auto seen = std::make_shared<std::promise<TunnelRequest>>();
  Link link = connect(io.context, io.context, [seen](std::unique_ptr<IncomingStream> stream) {
    seen->set_value(stream->request());
    EXPECT_EQ(stream->info().metadata.at("principal"), "alice");
    auto executor = stream->executor();
    asio::co_spawn(executor, echo(std::move(stream)), [](std::exception_ptr) {});
  });
  auto seen_future = seen->get_future();

  auto [echoed, peer, metadata_ok] = run(io.context,
                                         [](std::shared_ptr<H2Connection> client)
                                             -> asio::awaitable<std::tuple<std::string, std::string, bool>> {
                                           OpenResult opened = co_await client->open(sample_request());
                                           EXPECT_TRUE(opened) << opened.reason;
                                           if (!opened)
                                             co_return std::tuple<std::string, std::string, bool>{};
                                           Stream& stream = *opened.stream;
                                           const std::string message = "hello through the tunnel";
                                           IoResult w = co_await stream.write(asio::buffer(message));
                                           EXPECT_FALSE(w.error);
                                           EXPECT_EQ(w.bytes, message.size());
                                           EXPECT_FALSE(co_await stream.shutdown_write());
                                           std::string back = co_await read_to_eof(stream);
                                           EXPECT_EQ(stream.bytes_written(), message.size());
                                           EXPECT_EQ(stream.bytes_read(), back.size());
                                           const auto& metadata = stream.info().metadata;
                                           const bool ok = metadata.at("route_type") == "tcp" &&
                                                           metadata.at("destination") == "erp" &&
                                                           metadata.at("request_id") == "req-1";
                                           co_return std::tuple{back, stream.info().peer, ok};
                                         }(link.client));

  EXPECT_EQ(echoed, "hello through the tunnel");
  EXPECT_EQ(peer.rfind("tunnel:" + std::to_string(link.client->id()) + "/", 0), 0u) << peer;
  EXPECT_TRUE(metadata_ok);
  const TunnelRequest request = get(seen_future);
  EXPECT_EQ(request.host, "erp.corp");
  EXPECT_EQ(request.port, 3300);
  EXPECT_EQ(request.route_type, "tcp");
  EXPECT_EQ(request.destination, "erp");
  EXPECT_EQ(request.request_id, "req-1");
  EXPECT_EQ(request.principal, "alice");
  // Both ends saw END_STREAM both ways before the client read eof.
  EXPECT_EQ(link.client->active_streams(), 0u);
  EXPECT_EQ(link.server->active_streams(), 0u);
  EXPECT_TRUE(link.client->accepting_streams());
  link.close_and_wait();
}

asio::awaitable<void> half_close_server(std::unique_ptr<IncomingStream> stream,
                                        std::shared_ptr<std::promise<std::vector<error_code>>> result) {
  std::vector<error_code> errors;
  // Not accepted yet: no data either way.
  char byte = 0;
  errors.push_back((co_await stream->read_some(asio::buffer(&byte, 1))).error);
  errors.push_back((co_await stream->write(asio::buffer("x", 1))).error);
  co_await stream->respond(200);
  error_code end;
  std::string request = co_await read_to_eof(*stream, &end);
  errors.push_back(end);
  // Our direction is still open after the client's half-close.
  const std::string answer = "pong:" + request;
  errors.push_back((co_await stream->write(asio::buffer(answer))).error);
  errors.push_back(co_await stream->shutdown_write());
  result->set_value(errors);
}

TEST(H2Connection, HalfClosesEachDirectionIndependently) {
  IoThread io;
  auto server_result = std::make_shared<std::promise<std::vector<error_code>>>();
  auto server_future = server_result->get_future();
  Link link = connect(io.context, io.context, [server_result](std::unique_ptr<IncomingStream> stream) {
    auto executor = stream->executor();
    asio::co_spawn(executor, half_close_server(std::move(stream), server_result), [](std::exception_ptr) {});
  });

  auto [answer, write_after_shutdown, second_eof] =
      run(io.context,
          [](std::shared_ptr<H2Connection> client)
              -> asio::awaitable<std::tuple<std::string, error_code, error_code>> {
            OpenResult opened = co_await client->open(sample_request());
            if (!opened) co_return std::tuple<std::string, error_code, error_code>{};
            Stream& stream = *opened.stream;
            co_await stream.write(asio::buffer("ping", 4));
            EXPECT_FALSE(co_await stream.shutdown_write());
            EXPECT_FALSE(co_await stream.shutdown_write());  // idempotent
            error_code late = (co_await stream.write(asio::buffer("late", 4))).error;
            std::string answer_text = co_await read_to_eof(stream);
            char byte;
            error_code again = (co_await stream.read_some(asio::buffer(&byte, 1))).error;
            co_return std::tuple{answer_text, late, again};
          }(link.client));

  EXPECT_EQ(answer, "pong:ping");
  EXPECT_EQ(write_after_shutdown, asio::error::shut_down);
  EXPECT_EQ(second_eof, asio::error::eof);
  auto errors = get(server_future);
  ASSERT_EQ(errors.size(), 5u);
  EXPECT_EQ(errors[0], asio::error::not_connected);
  EXPECT_EQ(errors[1], asio::error::not_connected);
  EXPECT_EQ(errors[2], asio::error::eof);
  EXPECT_FALSE(errors[3]) << errors[3].message();
  EXPECT_FALSE(errors[4]) << errors[4].message();
  link.close_and_wait();
}

// ---- bulk data and flow control --------------------------------------------------------------------

constexpr std::size_t kChunk = 16 << 10;

std::uint8_t pattern(std::uint64_t offset, std::uint8_t seed) {
  return static_cast<std::uint8_t>(offset * 7 + (offset >> 11) * 13 + seed);
}

// Progress of one direction, shared by its writer and its reader.
struct Flow {
  std::atomic<std::uint64_t> written{0};  // bytes whose write() completed
  std::atomic<std::uint64_t> read{0};     // bytes the reader took
  std::atomic<std::uint64_t> max_ahead{0};
};

asio::awaitable<void> send_pattern(std::shared_ptr<Stream> stream, std::uint64_t total, std::uint8_t seed,
                                   std::shared_ptr<Flow> flow) {
  std::vector<std::uint8_t> chunk(kChunk);
  std::uint64_t offset = 0;
  while (offset < total) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, total - offset));
    for (std::size_t i = 0; i < n; ++i) chunk[i] = pattern(offset + i, seed);
    IoResult w = co_await stream->write(asio::buffer(chunk.data(), n));
    EXPECT_FALSE(w.error) << w.error.message();
    if (w.error) co_return;
    offset += n;
    flow->written = offset;
    const std::uint64_t ahead = offset - flow->read.load();
    if (ahead > flow->max_ahead) flow->max_ahead = ahead;
  }
  EXPECT_FALSE(co_await stream->shutdown_write());
}

// Reads to eof, checking every byte. Every `pause_every` bytes it stops reading until the writer has
// filled what the window allows again: the writer must stall there instead of running ahead.
asio::awaitable<std::uint64_t> receive_pattern(std::shared_ptr<Stream> stream, std::uint64_t total,
                                               std::uint8_t seed, std::shared_ptr<Flow> flow,
                                               std::uint64_t window, std::uint64_t pause_every) {
  auto executor = co_await asio::this_coro::executor;
  std::vector<std::uint8_t> buffer(kChunk);
  std::uint64_t offset = 0;
  std::uint64_t next_pause = 0;
  bool intact = true;
  for (;;) {
    if (offset >= next_pause && offset < total) {
      // nghttp2 returns window once half of it was consumed, so the writer can always get this far.
      const std::uint64_t reachable = std::min(total, offset + window / 2 - kChunk);
      while (flow->written.load() < reachable) co_await asio::post(executor, asio::use_awaitable);
      next_pause = offset + pause_every;
    }
    IoResult r = co_await stream->read_some(asio::buffer(buffer));
    for (std::size_t i = 0; i < r.bytes && intact; ++i) {
      if (buffer[i] != pattern(offset + i, seed)) {
        intact = false;
        ADD_FAILURE() << "byte " << offset + i << " differs";
      }
    }
    offset += r.bytes;
    flow->read = offset;
    if (r.error) {
      EXPECT_EQ(r.error, asio::error::eof) << r.error.message();
      break;
    }
  }
  co_return offset;
}

asio::awaitable<void> bulk_server(std::unique_ptr<IncomingStream> incoming, std::uint64_t total,
                                  std::shared_ptr<Flow> up, std::shared_ptr<Flow> down, std::uint64_t window,
                                  std::shared_ptr<std::promise<std::uint64_t>> received,
                                  std::shared_ptr<std::promise<void>> sent) {
  co_await incoming->respond(200);
  std::shared_ptr<Stream> stream(std::move(incoming));
  auto executor = co_await asio::this_coro::executor;
  asio::co_spawn(executor, send_pattern(stream, total, 2, down),
                 [sent](std::exception_ptr) { sent->set_value(); });
  received->set_value(co_await receive_pattern(stream, total, 1, up, window, 1 << 20));
}

TEST(H2Connection, MovesEightMegabytesEachWayIntactUnderBackpressure) {
  constexpr std::uint64_t kTotal = 8 << 20;
  H2Options options;
  options.stream_window = 256 << 10;
  options.connection_window = 1 << 20;
  IoThread io;
  auto up = std::make_shared<Flow>();    // client -> server
  auto down = std::make_shared<Flow>();  // server -> client
  auto server_received = std::make_shared<std::promise<std::uint64_t>>();
  auto server_sent = std::make_shared<std::promise<void>>();
  auto server_received_future = server_received->get_future();
  auto server_sent_future = server_sent->get_future();
  Link link = connect(
      io.context, io.context,
      [=](std::unique_ptr<IncomingStream> stream) {
        auto executor = stream->executor();
        asio::co_spawn(executor,
                       bulk_server(std::move(stream), kTotal, up, down, options.stream_window,
                                   server_received, server_sent),
                       [](std::exception_ptr) {});
      },
      options, options);

  auto opened =
      run(io.context, [](std::shared_ptr<H2Connection> client) -> asio::awaitable<std::shared_ptr<Stream>> {
        OpenResult result = co_await client->open(sample_request());
        EXPECT_TRUE(result) << result.reason;
        co_return std::shared_ptr<Stream>(std::move(result.stream));
      }(link.client));
  ASSERT_TRUE(opened);
  auto client_sent = asio::co_spawn(io.context, send_pattern(opened, kTotal, 1, up), asio::use_future);
  auto client_received = asio::co_spawn(
      io.context, receive_pattern(opened, kTotal, 2, down, options.stream_window, 1 << 20), asio::use_future);
  get(client_sent);
  EXPECT_EQ(get(client_received), kTotal);
  EXPECT_EQ(get(server_received_future), kTotal);
  get(server_sent_future);
  opened.reset();

  // Written minus read never exceeded the window (plus the chunk in flight on each side).
  EXPECT_LE(up->max_ahead.load(), options.stream_window + 2 * kChunk);
  EXPECT_LE(down->max_ahead.load(), options.stream_window + 2 * kChunk);
  EXPECT_GE(up->max_ahead.load(), options.stream_window / 2 - kChunk);  // the reader did pause
  link.close_and_wait();
}

// ---- abort, refusal, limits ------------------------------------------------------------------------

asio::awaitable<void> read_once(std::shared_ptr<Stream> stream,
                                std::shared_ptr<std::promise<error_code>> result) {
  char buffer[64];
  IoResult r = co_await stream->read_some(asio::buffer(buffer));
  result->set_value(r.error);
}

TEST(H2Connection, CloseResetsTheStreamOnBothSides) {
  IoThread io;
  auto server_read = std::make_shared<std::promise<error_code>>();
  auto server_read_future = server_read->get_future();
  Link link = connect(io.context, io.context, [server_read](std::unique_ptr<IncomingStream> incoming) {
    auto executor = incoming->executor();
    asio::co_spawn(
        executor,
        [](std::shared_ptr<IncomingStream> stream,
           std::shared_ptr<std::promise<error_code>> out) -> asio::awaitable<void> {
          co_await stream->respond(200);
          co_await read_once(stream, out);
        }(std::shared_ptr<IncomingStream>(std::move(incoming)), server_read),
        [](std::exception_ptr) {});
  });

  const error_code client_read =
      run(io.context, [](std::shared_ptr<H2Connection> client) -> asio::awaitable<error_code> {
        OpenResult opened = co_await client->open(sample_request());
        if (!opened) co_return error_code{};
        std::shared_ptr<Stream> stream(std::move(opened.stream));
        auto pending = std::make_shared<std::promise<error_code>>();
        auto executor = co_await asio::this_coro::executor;
        asio::co_spawn(executor, read_once(stream, pending), [](std::exception_ptr) {});
        // Let the read start, then abort the stream under it.
        co_await asio::post(executor, asio::use_awaitable);
        stream->close();
        stream->close();  // idempotent
        auto future = pending->get_future();
        while (future.wait_for(0s) != std::future_status::ready)
          co_await asio::post(executor, asio::use_awaitable);
        error_code after = (co_await stream->write(asio::buffer("x", 1))).error;
        EXPECT_EQ(after, asio::error::operation_aborted);
        co_return future.get();
      }(link.client));

  EXPECT_EQ(client_read, asio::error::operation_aborted);
  EXPECT_EQ(get(server_read_future), asio::error::connection_reset);
  link.close_and_wait();
}

TEST(H2Connection, RefusalStatusesMapToTunnelErrors) {
  IoThread io;
  // The request's port chooses the status; the reason carries CR/LF that must not reach the header.
  Link link = connect(io.context, io.context, [](std::unique_ptr<IncomingStream> incoming) {
    auto executor = incoming->executor();
    asio::co_spawn(
        executor,
        [](std::unique_ptr<IncomingStream> stream) -> asio::awaitable<void> {
          const int status = stream->request().port;
          co_await stream->respond(status, "refused with " + std::to_string(status) + "\r\n");
          co_await stream->respond(200);  // ignored: the stream was answered
        }(std::move(incoming)),
        [](std::exception_ptr) {});
  });

  const std::vector<std::pair<int, TunnelErrc>> cases = {
      {403, TunnelErrc::denied}, {502, TunnelErrc::unreachable}, {504, TunnelErrc::timed_out},
      {503, TunnelErrc::busy},   {500, TunnelErrc::refused},     {404, TunnelErrc::refused}};
  for (const auto& [status, expected] : cases) {
    SCOPED_TRACE(status);
    OpenResult result =
        run(io.context, [](std::shared_ptr<H2Connection> client, int port) -> asio::awaitable<OpenResult> {
          TunnelRequest request = sample_request();
          request.port = static_cast<std::uint16_t>(port);
          co_return co_await client->open(request);
        }(link.client, status));
    EXPECT_FALSE(result);
    EXPECT_EQ(result.error, make_error_code(expected)) << result.error.message();
    EXPECT_EQ(result.reason, "refused with " + std::to_string(status));
  }
  EXPECT_TRUE(link.client->accepting_streams());
  link.close_and_wait();
}

TEST(H2Connection, InvalidRequestsFailBeforeTheWire) {
  IoThread io;
  Link link = connect(io.context, io.context, echo_handler());
  OpenResult result =
      run(io.context, [](std::shared_ptr<H2Connection> client) -> asio::awaitable<OpenResult> {
        TunnelRequest request = sample_request();
        request.principal = "alice\r\nx-injected: 1";
        co_return co_await client->open(request);
      }(link.client));
  EXPECT_FALSE(result);
  EXPECT_EQ(result.error, boost::system::errc::invalid_argument);
  EXPECT_NE(result.reason.find("gateway-principal"), std::string::npos) << result.reason;
  link.close_and_wait();
}

TEST(H2Connection, AtThePeersStreamLimitOpenFailsWithBusy) {
  H2Options server_options;
  server_options.max_concurrent_streams = 2;
  IoThread io;
  Kept kept;
  Link link = connect(
      io.context, io.context,
      [&kept](std::unique_ptr<IncomingStream> incoming) {
        std::shared_ptr<IncomingStream> stream(std::move(incoming));
        kept.add(stream);
        asio::co_spawn(
            stream->executor(),
            [](std::shared_ptr<IncomingStream> s) -> asio::awaitable<void> {
              co_await s->respond(200);
            }(stream),
            [](std::exception_ptr) {});
      },
      {}, server_options);

  auto [third, accepting_when_full, active_when_full] = run(
      io.context,
      [](std::shared_ptr<H2Connection> client) -> asio::awaitable<std::tuple<OpenResult, bool, std::size_t>> {
        OpenResult a = co_await client->open(sample_request());
        OpenResult b = co_await client->open(sample_request());
        EXPECT_TRUE(a && b);
        const bool accepting = client->accepting_streams();
        const std::size_t active = client->active_streams();
        OpenResult c = co_await client->open(sample_request());
        co_return std::tuple{std::move(c), accepting, active};
      }(link.client));

  EXPECT_FALSE(third);
  EXPECT_EQ(third.error, make_error_code(TunnelErrc::busy)) << third.error.message();
  EXPECT_FALSE(accepting_when_full);
  EXPECT_EQ(active_when_full, 2u);
  link.close_and_wait();
  kept.clear();
}

// ---- early data ------------------------------------------------------------------------------------

TEST(H2Connection, EarlyDataReachesTheServerAheadOfLaterWrites) {
  IoThread io;
  Link link = connect(io.context, io.context, echo_handler());
  // Larger than one DATA frame, so that it spans several.
  const std::string early = "early:" + std::string(100 * 1024, 'e');
  auto [echoed, written] =
      run(io.context,
          [](std::shared_ptr<H2Connection> client,
             const std::string& first) -> asio::awaitable<std::pair<std::string, std::uint64_t>> {
            OpenResult opened = co_await client->open(sample_request(), asio::buffer(first));
            EXPECT_TRUE(opened) << opened.reason;
            if (!opened) co_return std::pair<std::string, std::uint64_t>{};
            IoResult w = co_await opened.stream->write(asio::buffer(std::string_view(":later")));
            EXPECT_FALSE(w.error);
            EXPECT_FALSE(co_await opened.stream->shutdown_write());
            std::string back = co_await read_to_eof(*opened.stream);
            co_return std::pair{back, opened.stream->bytes_written()};
          }(link.client, early));
  EXPECT_EQ(echoed, early + ":later");
  EXPECT_EQ(written, early.size() + 6);
  link.close_and_wait();
}

// Counts the transport writes of a tunnel connection.
class CountingStream : public Stream {
 public:
  CountingStream(std::unique_ptr<Stream> inner, std::shared_ptr<std::atomic<int>> writes)
      : inner_(std::move(inner)), writes_(std::move(writes)) {}
  asio::any_io_executor executor() const override { return inner_->executor(); }
  asio::awaitable<IoResult> read_some(asio::mutable_buffer buffer) override {
    return inner_->read_some(buffer);
  }
  asio::awaitable<IoResult> write(asio::const_buffer buffer) override {
    ++*writes_;
    return inner_->write(buffer);
  }
  asio::awaitable<error_code> shutdown_write() override { return inner_->shutdown_write(); }
  void close() noexcept override { inner_->close(); }

 private:
  std::unique_ptr<Stream> inner_;
  std::shared_ptr<std::atomic<int>> writes_;
};

// Four streams write in one pass of the event loop; returns how many transport writes carried them.
int transport_writes_for_a_burst_of_four(std::uint32_t early_flush_after) {
  IoThread io;
  auto [edge, connector] = socket_pair(io.context, io.context);
  auto writes = std::make_shared<std::atomic<int>>(0);
  H2Options options;
  options.early_flush_after = early_flush_after;
  Link link;
  link.client = H2Connection::create(
      std::make_unique<CountingStream>(std::make_unique<net::TcpStream>(std::move(edge)), writes),
      Side::client, options);
  link.server = H2Connection::create(std::make_unique<net::TcpStream>(std::move(connector)), Side::server,
                                     H2Options{}, echo_handler());
  link.client_closed = watch_closed(*link.client);
  link.server_closed = watch_closed(*link.server);
  link.client->start();
  link.server->start();

  using Streams = std::vector<std::unique_ptr<Stream>>;
  Streams streams = run(io.context, [](std::shared_ptr<H2Connection> client) -> asio::awaitable<Streams> {
    Streams opened_streams;
    for (int i = 0; i < 4; ++i) {
      OpenResult opened = co_await client->open(sample_request());
      EXPECT_TRUE(opened) << opened.reason;
      if (opened) opened_streams.push_back(std::move(opened.stream));
    }
    co_return opened_streams;
  }(link.client));
  EXPECT_EQ(streams.size(), 4u);

  // Each open went out on its own. The four writes start in one handler, so they queue their frames
  // in one pass of the event loop.
  const int before = writes->load();
  std::promise<std::vector<std::future<IoResult>>> started;
  asio::post(io.context, [&] {
    std::vector<std::future<IoResult>> results;
    for (auto& stream : streams) {
      results.push_back(asio::co_spawn(
          io.context,
          [](Stream& s) -> asio::awaitable<IoResult> {
            co_return co_await s.write(asio::buffer("x", 1));
          }(*stream),
          asio::use_future));
    }
    started.set_value(std::move(results));
  });
  auto started_future = started.get_future();
  for (auto& result : get(started_future)) EXPECT_FALSE(get(result).error);
  const int burst_writes = writes->load() - before;

  run(io.context, [](Streams done) -> asio::awaitable<void> { co_return; }(std::move(streams)));
  link.close_and_wait();
  return burst_writes;
}

TEST(H2Connection, WithoutEarlyFlushABurstGoesOutInOneTransportWrite) {
  EXPECT_EQ(transport_writes_for_a_burst_of_four(0), 1);
}

// The second and the fourth write each send what is queued; a write still in flight leaves the rest to
// the writer, so two in all whether the transport completes writes at once or later.
TEST(H2Connection, ABurstIsWrittenEveryEarlyFlushAfterOperations) {
  EXPECT_EQ(transport_writes_for_a_burst_of_four(2), 2);
}

TEST(H2Connection, TheServerCountsTheBytesThatCameWithTheRequest) {
  IoThread io;
  gw::Counter early_bytes;
  H2Options server_options;
  server_options.early_data_bytes = &early_bytes;
  Link link = connect(io.context, io.context, echo_handler(), {}, server_options);
  const std::string early = "hello";
  std::string echoed =
      run(io.context,
          [](std::shared_ptr<H2Connection> client, const std::string& first) -> asio::awaitable<std::string> {
            OpenResult opened = co_await client->open(sample_request(), asio::buffer(first));
            EXPECT_TRUE(opened) << opened.reason;
            if (!opened) co_return std::string();
            // Sent after the answer arrived: not early.
            IoResult w = co_await opened.stream->write(asio::buffer(std::string_view(":later")));
            EXPECT_FALSE(w.error);
            EXPECT_FALSE(co_await opened.stream->shutdown_write());
            co_return co_await read_to_eof(*opened.stream);
          }(link.client, early));
  EXPECT_EQ(echoed, "hello:later");
  EXPECT_EQ(early_bytes.value(), early.size());
  link.close_and_wait();
}

TEST(H2Connection, RefusedStreamsDropTheirEarlyDataAndGiveTheWindowBack) {
  // The smallest connection window: early data that a refusal left unconsumed would use it up after
  // four streams, and the transfer at the end would stall.
  H2Options server_options;
  server_options.connection_window = 65535;
  IoThread io;
  Link link = connect(
      io.context, io.context,
      [](std::unique_ptr<IncomingStream> incoming) {
        auto executor = incoming->executor();
        if (incoming->request().port == 403) {
          asio::co_spawn(
              executor,
              [](std::unique_ptr<IncomingStream> stream) -> asio::awaitable<void> {
                co_await stream->respond(403, "not on the allowlist");
              }(std::move(incoming)),
              [](std::exception_ptr) {});
          return;
        }
        asio::co_spawn(executor, echo(std::move(incoming)), [](std::exception_ptr) {});
      },
      {}, server_options);

  const std::string early(16 * 1024, 'x');
  for (int i = 0; i < 10; ++i) {
    SCOPED_TRACE(i);
    bool unprocessed = true;
    OpenResult refused =
        run(io.context,
            [](std::shared_ptr<H2Connection> client, const std::string& first,
               bool* result_unprocessed) -> asio::awaitable<OpenResult> {
              TunnelRequest request = sample_request();
              request.port = 403;
              co_return co_await client->open(request, asio::buffer(first), result_unprocessed);
            }(link.client, early, &unprocessed));
    EXPECT_FALSE(refused);
    EXPECT_EQ(refused.error, make_error_code(TunnelErrc::denied));
    EXPECT_EQ(refused.reason, "not on the allowlist");
    // The server answered: it may have acted on the request.
    EXPECT_FALSE(unprocessed);
  }
  const std::string payload(256 * 1024, 'p');
  std::string echoed =
      run(io.context,
          [](std::shared_ptr<H2Connection> client, const std::string& data) -> asio::awaitable<std::string> {
            OpenResult opened = co_await client->open(sample_request(), asio::buffer(data));
            EXPECT_TRUE(opened) << opened.reason;
            if (!opened) co_return std::string{};
            EXPECT_FALSE(co_await opened.stream->shutdown_write());
            co_return co_await read_to_eof(*opened.stream);
          }(link.client, payload));
  EXPECT_EQ(echoed.size(), payload.size());
  EXPECT_EQ(echoed, payload);
  link.close_and_wait();
}

TEST(H2Connection, AStreamTheServerRefusedUnseenIsReportedUnprocessed) {
  IoThread io;
  // No handler: the server resets every request with REFUSED_STREAM, before acting on it.
  Link link = connect(io.context, io.context, H2Connection::StreamHandler{});
  bool unprocessed = false;
  const std::string early = "hello";
  OpenResult result =
      run(io.context,
          [](std::shared_ptr<H2Connection> client, const std::string& first,
             bool* result_unprocessed) -> asio::awaitable<OpenResult> {
            co_return co_await client->open(sample_request(), asio::buffer(first), result_unprocessed);
          }(link.client, early, &unprocessed));
  EXPECT_FALSE(result);
  EXPECT_EQ(result.error, make_error_code(TunnelErrc::busy)) << result.error.message();
  EXPECT_TRUE(unprocessed);
  link.close_and_wait();
}

// ---- connection loss, graceful shutdown, keepalive -------------------------------------------------

TEST(H2Connection, PeerClosingTheTransportFailsPendingReadsWithTunnelLost) {
  IoThread io;
  Kept kept;
  Link link = connect(io.context, io.context, [&kept](std::unique_ptr<IncomingStream> incoming) {
    std::shared_ptr<IncomingStream> stream(std::move(incoming));
    kept.add(stream);
    asio::co_spawn(
        stream->executor(),
        [](std::shared_ptr<IncomingStream> s) -> asio::awaitable<void> { co_await s->respond(200); }(stream),
        [](std::exception_ptr) {});
  });

  auto [pending_read, later_write, later_open] =
      run(io.context,
          [](std::shared_ptr<H2Connection> client, std::shared_ptr<H2Connection> server)
              -> asio::awaitable<std::tuple<error_code, error_code, error_code>> {
            OpenResult opened = co_await client->open(sample_request());
            if (!opened) co_return std::tuple<error_code, error_code, error_code>{};
            std::shared_ptr<Stream> stream(std::move(opened.stream));
            auto executor = co_await asio::this_coro::executor;
            auto pending = std::make_shared<std::promise<error_code>>();
            auto future = pending->get_future();
            asio::co_spawn(executor, read_once(stream, pending), [](std::exception_ptr) {});
            co_await asio::post(executor, asio::use_awaitable);
            server->close();  // the connector's side goes away under the pending read
            while (future.wait_for(0s) != std::future_status::ready)
              co_await asio::post(executor, asio::use_awaitable);
            error_code write_error = (co_await stream->write(asio::buffer("x", 1))).error;
            OpenResult again = co_await client->open(sample_request());
            co_return std::tuple{future.get(), write_error, again.error};
          }(link.client, link.server));

  EXPECT_EQ(pending_read, make_error_code(TunnelErrc::tunnel_lost)) << pending_read.message();
  EXPECT_EQ(later_write, make_error_code(TunnelErrc::tunnel_lost)) << later_write.message();
  EXPECT_EQ(later_open, make_error_code(TunnelErrc::tunnel_lost)) << later_open.message();
  EXPECT_EQ(get(link.client_closed), "peer closed the connection");
  EXPECT_EQ(get(link.server_closed), "closed");
  EXPECT_FALSE(link.client->accepting_streams());
  EXPECT_EQ(link.client->active_streams(), 0u);
  kept.clear();
}

// Opens a stream, exchanges "one", runs `between` (a shutdown), then checks what the client sees
// and finishes the stream with "two".
struct ShutdownOutcome {
  std::string one, two;
  bool accepting_after = true;
  error_code new_open;
};

asio::awaitable<ShutdownOutcome> exchange_around(std::shared_ptr<H2Connection> client,
                                                 std::shared_ptr<H2Connection> who_shuts_down) {
  ShutdownOutcome out;
  OpenResult opened = co_await client->open(sample_request());
  if (!opened) co_return out;
  Stream& stream = *opened.stream;
  char buffer[16];
  co_await stream.write(asio::buffer("one", 3));
  IoResult r = co_await stream.read_some(asio::buffer(buffer));
  out.one.assign(buffer, r.bytes);
  who_shuts_down->shutdown();
  // The server's GOAWAY is queued before the echo of "two", so the client has seen it by then.
  co_await stream.write(asio::buffer("two", 3));
  r = co_await stream.read_some(asio::buffer(buffer));
  out.two.assign(buffer, r.bytes);
  out.accepting_after = client->accepting_streams();
  out.new_open = (co_await client->open(sample_request())).error;
  co_await stream.shutdown_write();
  std::string rest = co_await read_to_eof(stream);
  EXPECT_EQ(rest, "");
  co_return out;
}

TEST(H2Connection, ServerShutdownStopsNewStreamsAndLetsTheInFlightOneFinish) {
  IoThread io;
  Link link = connect(io.context, io.context, echo_handler());
  ShutdownOutcome out = run(io.context, exchange_around(link.client, link.server));
  EXPECT_EQ(out.one, "one");
  EXPECT_EQ(out.two, "two");
  EXPECT_FALSE(out.accepting_after);
  EXPECT_EQ(out.new_open, make_error_code(TunnelErrc::tunnel_lost));
  // Without streams left, both ends close on their own.
  EXPECT_EQ(get(link.client_closed), "peer going away");
  const std::string server_reason = get(link.server_closed);
  EXPECT_TRUE(server_reason == "shutdown" || server_reason == "peer closed the connection") << server_reason;
}

TEST(H2Connection, ClientShutdownLetsTheInFlightStreamFinish) {
  IoThread io;
  Link link = connect(io.context, io.context, echo_handler());
  ShutdownOutcome out = run(io.context, exchange_around(link.client, link.client));
  EXPECT_EQ(out.one, "one");
  EXPECT_EQ(out.two, "two");
  EXPECT_FALSE(out.accepting_after);
  EXPECT_EQ(out.new_open, make_error_code(TunnelErrc::tunnel_lost));
  EXPECT_EQ(get(link.client_closed), "shutdown");
  const std::string server_reason = get(link.server_closed);
  EXPECT_TRUE(server_reason == "peer going away" || server_reason == "peer closed the connection")
      << server_reason;
}

TEST(H2Connection, SilentPeerIsDetectedByPing) {
  IoThread io;
  auto [edge, raw] = socket_pair(io.context, io.context);
  H2Options options;
  options.ping_interval = 20ms;
  options.ping_timeout = 50ms;
  options.open_timeout = 60s;
  auto client =
      H2Connection::create(std::make_unique<net::TcpStream>(std::move(edge)), Side::client, options);
  auto closed = watch_closed(*client);
  client->start();

  // The raw peer completes the preface (reads the client magic, sends an empty SETTINGS), then stops
  // answering and reading.
  char magic[24];
  asio::read(raw, asio::buffer(magic));
  EXPECT_EQ(std::string(magic, sizeof magic), "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  const std::uint8_t settings[9] = {0, 0, 0, NGHTTP2_SETTINGS, 0, 0, 0, 0, 0};
  asio::write(raw, asio::buffer(settings));

  auto pending_open = asio::co_spawn(
      io.context,
      [](std::shared_ptr<H2Connection> c) -> asio::awaitable<OpenResult> {
        co_return co_await c->open(sample_request());
      }(client),
      asio::use_future);
  EXPECT_EQ(get(closed), "ping timeout");
  OpenResult result = get(pending_open);
  EXPECT_EQ(result.error, make_error_code(TunnelErrc::tunnel_lost)) << result.error.message();
  EXPECT_FALSE(client->accepting_streams());
}

TEST(H2Connection, ClosedConnectionFailsOpenAtOnce) {
  IoThread io;
  Link link = connect(io.context, io.context, echo_handler());
  link.close_and_wait();
  OpenResult result =
      run(io.context, [](std::shared_ptr<H2Connection> client) -> asio::awaitable<OpenResult> {
        co_return co_await client->open(sample_request());
      }(link.client));
  EXPECT_EQ(result.error, make_error_code(TunnelErrc::tunnel_lost));
  EXPECT_FALSE(link.client->accepting_streams());
}

// ---- threads ---------------------------------------------------------------------------------------

asio::awaitable<void> send_all(std::shared_ptr<Stream> stream, std::string data) {
  IoResult w = co_await stream->write(asio::buffer(data));
  EXPECT_FALSE(w.error);
  EXPECT_FALSE(co_await stream->shutdown_write());
}

TEST(H2Connection, StreamsWorkFromAnotherIoContext) {
  IoThread tunnel_thread;  // both connections live here
  IoThread app_thread;     // the client application's coroutines run here
  Link link = connect(tunnel_thread.context, tunnel_thread.context, echo_handler());

  std::string payload(1 << 20, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(pattern(i, 9));
  const auto app_id = app_thread.thread.get_id();

  auto [echoed, stayed_on_app_thread] =
      run(app_thread.context,
          [](std::shared_ptr<H2Connection> client, std::string data,
             std::thread::id app) -> asio::awaitable<std::pair<std::string, bool>> {
            auto executor = co_await asio::this_coro::executor;
            bool same_thread = true;
            OpenResult opened = co_await client->open(sample_request());
            same_thread &= std::this_thread::get_id() == app;
            if (!opened) co_return std::pair<std::string, bool>{};
            std::shared_ptr<Stream> stream(std::move(opened.stream));
            EXPECT_TRUE(stream->executor() == executor);
            asio::co_spawn(executor, send_all(stream, data), [](std::exception_ptr) {});
            std::string back;
            char buffer[8192];
            for (;;) {
              IoResult r = co_await stream->read_some(asio::buffer(buffer));
              same_thread &= std::this_thread::get_id() == app;
              back.append(buffer, r.bytes);
              if (r.error) break;
            }
            co_return std::pair{back, same_thread};
          }(link.client, payload, app_id));

  EXPECT_EQ(echoed.size(), payload.size());
  EXPECT_TRUE(echoed == payload);
  EXPECT_TRUE(stayed_on_app_thread);
  link.close_and_wait();
}

// ---- a raw HTTP/2 client: what the edge never sends ------------------------------------------------

class RawClient {
 public:
  struct Outcome {
    bool closed = false;
    std::uint32_t error_code = 0;
    std::string status;
    std::string reason;
  };

  explicit RawClient(tcp::socket socket) : socket_(std::move(socket)) {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(
        callbacks,
        [](nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t namelen,
           const std::uint8_t* value, std::size_t valuelen, std::uint8_t, void* user_data) {
          auto& outcome = static_cast<RawClient*>(user_data)->outcomes_[frame->hd.stream_id];
          const std::string n(reinterpret_cast<const char*>(name), namelen);
          const std::string v(reinterpret_cast<const char*>(value), valuelen);
          if (n == ":status") outcome.status = v;
          if (n == "gateway-reason") outcome.reason = v;
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        callbacks, [](nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code, void* user_data) {
          auto& outcome = static_cast<RawClient*>(user_data)->outcomes_[stream_id];
          outcome.closed = true;
          outcome.error_code = error_code;
          return 0;
        });
    nghttp2_session_client_new(&session_, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~RawClient() { nghttp2_session_del(session_); }

  std::int32_t request(const HeaderList& headers) {
    std::vector<nghttp2_nv> nva;
    for (const auto& [name, value] : headers) {
      nva.push_back({const_cast<std::uint8_t*>(reinterpret_cast<const std::uint8_t*>(name.data())),
                     const_cast<std::uint8_t*>(reinterpret_cast<const std::uint8_t*>(value.data())),
                     name.size(), value.size(), NGHTTP2_NV_FLAG_NONE});
    }
    return nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), nullptr, nullptr);
  }

  Outcome run_until_closed(std::int32_t stream_id) {
    flush();
    std::uint8_t buffer[16384];
    while (!outcomes_[stream_id].closed) {
      error_code ec;
      const std::size_t n = socket_.read_some(asio::buffer(buffer), ec);
      if (ec) {
        ADD_FAILURE() << "raw client: " << ec.message();
        break;
      }
      EXPECT_GE(nghttp2_session_mem_recv(session_, buffer, n), 0);
      flush();
    }
    return outcomes_[stream_id];
  }

 private:
  void flush() {
    for (;;) {
      const std::uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n <= 0) return;
      asio::write(socket_, asio::buffer(data, static_cast<std::size_t>(n)));
    }
  }

  tcp::socket socket_;
  nghttp2_session* session_ = nullptr;
  std::map<std::int32_t, Outcome> outcomes_;
};

TEST(H2Connection, ServerRefusesAnythingButAValidConnect) {
  IoThread io;
  asio::io_context raw_context;  // never run: the raw client uses blocking calls
  auto [raw, connector] = socket_pair(raw_context, io.context);
  std::atomic<int> handled{0};
  auto server = H2Connection::create(std::make_unique<net::TcpStream>(std::move(connector)), Side::server, {},
                                     [&handled](std::unique_ptr<IncomingStream>) { ++handled; });
  auto server_closed = watch_closed(*server);
  server->start();

  RawClient client(std::move(raw));
  // Not a CONNECT: reset, no response.
  auto get_request = client.run_until_closed(
      client.request({{":method", "GET"}, {":scheme", "https"}, {":path", "/"}, {":authority", "erp.corp"}}));
  EXPECT_TRUE(get_request.closed);
  EXPECT_EQ(get_request.error_code, static_cast<std::uint32_t>(NGHTTP2_REFUSED_STREAM));
  EXPECT_EQ(get_request.status, "");

  // CONNECT without a route type: 400 with the reason.
  auto no_route_type =
      client.run_until_closed(client.request({{":method", "CONNECT"}, {":authority", "erp.corp:3300"}}));
  EXPECT_EQ(no_route_type.status, "400");
  EXPECT_NE(no_route_type.reason.find("gateway-route-type"), std::string::npos) << no_route_type.reason;

  // CONNECT with a port out of range.
  auto bad_port = client.run_until_closed(
      client.request({{":method", "CONNECT"}, {":authority", "erp.corp:0"}, {"gateway-route-type", "tcp"}}));
  EXPECT_EQ(bad_port.status, "400");
  EXPECT_NE(bad_port.reason.find(":authority"), std::string::npos) << bad_port.reason;

  // Extended CONNECT is not enabled: nghttp2 itself resets it.
  auto extended = client.run_until_closed(client.request({{":method", "CONNECT"},
                                                          {":protocol", "websocket"},
                                                          {":scheme", "https"},
                                                          {":path", "/"},
                                                          {":authority", "erp.corp:1"}}));
  EXPECT_TRUE(extended.closed);
  EXPECT_NE(extended.error_code, static_cast<std::uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_EQ(extended.status, "");

  // A valid one still reaches the handler after all that.
  auto valid = client.request(encode_request(sample_request()));
  EXPECT_GT(valid, 0);
  client.run_until_closed(valid);  // the handler drops the stream: reset
  EXPECT_EQ(handled.load(), 1);
  server->close();
  EXPECT_EQ(get(server_closed), "closed");
}

// ---- the edge's pool of connector connections ------------------------------------------------------

// The id of the tunnel connection a stream opened by the pool went through ("tunnel:ID/STREAM").
std::string connection_of(const Stream& stream) {
  const std::string& peer = stream.info().peer;
  return peer.substr(0, peer.find('/'));
}

std::string name_of(const H2Connection& connection) {
  return "tunnel:" + std::to_string(connection.id());
}

// Opens `count` streams through the pool from a coroutine on `context`; returns the connection of each.
std::vector<std::string> open_from(asio::io_context& context, ConnectorPool& pool, int count) {
  return run(context, [&pool, count]() -> asio::awaitable<std::vector<std::string>> {
    std::vector<std::string> through;
    OpenRequest request;
    request.host = "erp.corp";
    request.port = 3300;
    request.proxy_type = ProxyType::on_premise;
    request.route_type = "tcp";
    for (int i = 0; i < count; ++i) {
      OpenResult opened = co_await pool.open("acme", "berlin", request);
      EXPECT_TRUE(opened) << opened.reason;
      through.push_back(opened ? connection_of(*opened.stream) : std::string("failed"));
    }
    co_return through;
  }());
}

TEST(ConnectorPool, StreamsUseTheConnectionOnTheCallersThreadAndSpreadOtherwise) {
  IoThread worker_a, worker_b, elsewhere, connector;
  Link on_a = connect(worker_a.context, connector.context, echo_handler());
  Link on_b = connect(worker_b.context, connector.context, echo_handler());
  ConnectorPool pool;
  const ConnectorIdentity identity{"acme", "berlin"};
  pool.add(identity, on_a.client);
  pool.add(identity, on_b.client);
  EXPECT_EQ(pool.connected(identity), 2u);

  for (const auto& c : open_from(worker_a.context, pool, 4)) EXPECT_EQ(c, name_of(*on_a.client));
  for (const auto& c : open_from(worker_b.context, pool, 4)) EXPECT_EQ(c, name_of(*on_b.client));
  // From a thread with no connection of its own, round-robin over both.
  const auto spread = open_from(elsewhere.context, pool, 4);
  EXPECT_EQ(std::count(spread.begin(), spread.end(), name_of(*on_a.client)), 2);
  EXPECT_EQ(std::count(spread.begin(), spread.end(), name_of(*on_b.client)), 2);

  // The local connection going away sends the caller's streams to the other one.
  on_a.client->shutdown();
  for (const auto& c : open_from(worker_a.context, pool, 2)) EXPECT_EQ(c, name_of(*on_b.client));

  pool.remove(identity, on_a.client.get());
  pool.remove(identity, on_b.client.get());
  EXPECT_EQ(pool.connected(identity), 0u);
  on_a.close_and_wait();
  on_b.close_and_wait();
}

TEST(ConnectorPool, PlacesEachConnectorsConnectionsOnWorkersThatHaveFewestOfThem) {
  IoThread worker_a, worker_b, connector;
  const std::vector<asio::io_context*> workers{&worker_a.context, &worker_b.context};
  ConnectorPool pool;
  const ConnectorIdentity berlin{"acme", "berlin"};
  std::vector<Link> links;
  // Places a connection the way the edge does and files it there; returns the worker's index.
  auto place_and_add = [&](const ConnectorIdentity& identity, const std::string& instance,
                           asio::io_context& accepted_on) {
    asio::io_context& home = pool.place(identity, instance, workers, accepted_on);
    links.push_back(connect(home, connector.context, echo_handler()));
    pool.add(identity, links.back().client, instance);
    return &home == &worker_a.context ? 0 : 1;
  };
  // A tie keeps the connection where it was accepted.
  EXPECT_EQ(place_and_add(berlin, "connector-1", worker_b.context), 1);
  // Every later connection goes where its connector, then its location, then all have fewest.
  EXPECT_EQ(place_and_add(berlin, "connector-1", worker_b.context), 0);
  EXPECT_EQ(place_and_add(berlin, "connector-2", worker_a.context), 0);
  EXPECT_EQ(place_and_add(berlin, "connector-2", worker_a.context), 1);
  EXPECT_EQ(place_and_add(berlin, "connector-1", worker_a.context), 0);
  // worker a now holds 3 connections of berlin, worker b 2: another location's first goes to b...
  const ConnectorIdentity paris{"acme", "paris"};
  EXPECT_EQ(place_and_add(paris, "connector-3", worker_a.context), 1);
  // ...and a new berlin connector's first to b as well (2 of berlin there against 3 on a).
  EXPECT_EQ(place_and_add(berlin, "connector-4", worker_a.context), 1);
  // A context that is not one of the workers: the least loaded worker.
  IoThread elsewhere;
  EXPECT_EQ(&pool.place(paris, "connector-5", workers, elsewhere.context), &worker_a.context);

  for (auto& link : links) link.close_and_wait();
}

TEST(ConnectorPool, UnknownAndDisconnectedLocationsAreToldApart) {
  IoThread io;
  ConnectorPool pool;
  OpenRequest request;
  request.host = "erp.corp";
  request.port = 3300;
  request.proxy_type = ProxyType::on_premise;
  request.route_type = "tcp";
  auto open = [&] {
    return run(io.context, [&]() -> asio::awaitable<OpenResult> {
      co_return co_await pool.open("acme", "berlin", request);
    }());
  };
  OpenResult never = open();
  EXPECT_EQ(never.error, TunnelErrc::unknown_location);
  EXPECT_NE(never.reason.find("has connected to this edge"), std::string::npos) << never.reason;

  Link link = connect(io.context, io.context, echo_handler());
  pool.add({"acme", "berlin"}, link.client);
  EXPECT_TRUE(open());
  pool.remove({"acme", "berlin"}, link.client.get());
  OpenResult gone = open();
  EXPECT_EQ(gone.error, TunnelErrc::no_connector);
  EXPECT_NE(gone.reason.find("is connected"), std::string::npos) << gone.reason;
  link.close_and_wait();
}

}  // namespace
