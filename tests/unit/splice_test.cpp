// The splice: data, half-close, idle timeout, errors and backpressure, on real loopback sockets
// (and, for backpressure, on streams whose writes the test holds back).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <optional>

#include "net/socket_stream.hpp"
#include "net/splice.hpp"

using namespace gw;
using tcp = boost::asio::ip::tcp;

namespace {

// A connected pair of loopback TCP sockets.
std::pair<tcp::socket, tcp::socket> socket_pair(asio::io_context& context) {
  tcp::acceptor acceptor(context, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket client(context);
  client.connect(acceptor.local_endpoint());
  tcp::socket server = acceptor.accept();
  return {std::move(client), std::move(server)};
}

std::string read_to_eof(tcp::socket& socket) {
  std::string out;
  error_code ec;
  asio::read(socket, asio::dynamic_buffer(out), ec);
  EXPECT_EQ(ec, asio::error::eof) << ec.message();
  return out;
}

struct SpliceFixture : ::testing::Test {
  asio::io_context context;
  std::optional<SpliceResult> result;

  void start(Stream& a, Stream& b, SpliceOptions options) {
    asio::co_spawn(context, net::splice(a, b, options), [this](std::exception_ptr e, SpliceResult r) {
      ASSERT_FALSE(e);
      result = r;
    });
  }
};

TEST_F(SpliceFixture, CopiesBothWaysAndHonoursHalfClose) {
  auto [app, a_side] = socket_pair(context);
  auto [b_side, target] = socket_pair(context);
  net::TcpStream a(std::move(a_side));
  net::TcpStream b(std::move(b_side));
  Counter up, down;
  // A half-close timeout far longer than the exchange changes nothing.
  start(a, b,
        {.half_close_timeout = std::chrono::seconds(60),
         .buffer_size = 4096,
         .bytes_a_to_b = &up,
         .bytes_b_to_a = &down});
  std::thread io([this] { context.run(); });

  const std::string request(100000, 'q');
  asio::write(app, asio::buffer(request));
  app.shutdown(tcp::socket::shutdown_send);
  // The target sees the request and then eof, while its own direction is still open.
  const std::string received = read_to_eof(target);
  EXPECT_EQ(received.size(), request.size());
  EXPECT_TRUE(received == request);
  const std::string answer = "answer after half-close";
  asio::write(target, asio::buffer(answer));
  target.shutdown(tcp::socket::shutdown_send);
  EXPECT_EQ(read_to_eof(app), answer);
  io.join();

  ASSERT_TRUE(result);
  EXPECT_FALSE(result->error) << result->error.message();
  EXPECT_FALSE(result->idle_timeout);
  EXPECT_EQ(result->bytes_a_to_b, request.size());
  EXPECT_EQ(result->bytes_b_to_a, answer.size());
  EXPECT_EQ(up.value(), request.size());
  EXPECT_EQ(down.value(), answer.size());
}

TEST_F(SpliceFixture, IdleTimeoutClosesBothSides) {
  auto [app, a_side] = socket_pair(context);
  auto [b_side, target] = socket_pair(context);
  net::TcpStream a(std::move(a_side));
  net::TcpStream b(std::move(b_side));
  start(a, b, {.idle_timeout = std::chrono::milliseconds(30), .buffer_size = 4096});
  context.run();
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->idle_timeout);
  EXPECT_EQ(result->error, asio::error::timed_out);
  // Both peers see their connection end.
  char c;
  error_code ec;
  app.read_some(asio::buffer(&c, 1), ec);
  EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
  target.read_some(asio::buffer(&c, 1), ec);
  EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
}

// The client ended its half; the target neither answers nor closes. Without the half-close timeout
// the connection would hold on for the whole idle timeout (an hour here, or none at all).
TEST_F(SpliceFixture, AfterAHalfCloseTheOtherSideSilentForTheHalfCloseTimeoutEndsTheSplice) {
  for (const auto idle : {std::chrono::milliseconds(std::chrono::hours(1)), std::chrono::milliseconds(0)}) {
    result.reset();
    context.restart();
    auto [app, a_side] = socket_pair(context);
    auto [b_side, target] = socket_pair(context);
    net::TcpStream a(std::move(a_side));
    net::TcpStream b(std::move(b_side));
    start(a, b,
          {.idle_timeout = idle, .half_close_timeout = std::chrono::milliseconds(30), .buffer_size = 4096});
    asio::write(app, asio::buffer(std::string("last words")));
    app.shutdown(tcp::socket::shutdown_send);
    context.run();
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->half_close_timeout);
    EXPECT_TRUE(result->idle_timeout);
    EXPECT_EQ(result->error, asio::error::timed_out);
    EXPECT_EQ(result->bytes_a_to_b, 10u);
    // The target got the client's bytes and its end, then the connection closed.
    EXPECT_EQ(read_to_eof(target), "last words");
    char c;
    error_code ec;
    app.read_some(asio::buffer(&c, 1), ec);
    EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
  }
}

TEST_F(SpliceFixture, AResetOnOneSideEndsTheSpliceWithAnError) {
  auto [app, a_side] = socket_pair(context);
  auto [b_side, target] = socket_pair(context);
  net::TcpStream a(std::move(a_side));
  net::TcpStream b(std::move(b_side));
  start(a, b, {.buffer_size = 4096});
  target.set_option(asio::socket_base::linger(true, 0));
  target.close();  // RST
  context.run();
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->error);
  EXPECT_FALSE(result->aborted_by_a);
  char c;
  error_code ec;
  app.read_some(asio::buffer(&c, 1), ec);
  EXPECT_TRUE(ec) << "the client side must be closed too";
}

// An endless source and a sink whose writes complete only when the test lets them.
class EndlessSource final : public Stream {
 public:
  explicit EndlessSource(asio::io_context& c) : context_(c) {}
  asio::any_io_executor executor() const override { return context_.get_executor(); }
  asio::awaitable<IoResult> read_some(asio::mutable_buffer buffer) override {
    ++reads;
    co_return IoResult{{}, buffer.size()};
  }
  asio::awaitable<IoResult> write(asio::const_buffer) override { co_return IoResult{asio::error::eof, 0}; }
  asio::awaitable<error_code> shutdown_write() override { co_return error_code{}; }
  void close() noexcept override {}
  int reads = 0;

 private:
  asio::io_context& context_;
};

class GatedSink final : public Stream {
 public:
  explicit GatedSink(asio::io_context& c) : context_(c), gate_(c, asio::steady_timer::time_point::max()) {}
  asio::any_io_executor executor() const override { return context_.get_executor(); }
  asio::awaitable<IoResult> read_some(asio::mutable_buffer) override {
    // Never sends anything: wait until closed.
    asio::steady_timer forever(context_, asio::steady_timer::time_point::max());
    error_code ec;
    closers_.push_back(&forever);
    co_await forever.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_return IoResult{asio::error::operation_aborted, 0};
  }
  asio::awaitable<IoResult> write(asio::const_buffer buffer) override {
    ++writes_started;
    error_code ec;
    co_await gate_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    gate_.expires_at(asio::steady_timer::time_point::max());
    if (closed_) co_return IoResult{asio::error::operation_aborted, 0};
    co_return IoResult{{}, buffer.size()};
  }
  asio::awaitable<error_code> shutdown_write() override { co_return error_code{}; }
  void close() noexcept override {
    closed_ = true;
    gate_.cancel();
    for (auto* t : closers_) t->cancel();
  }
  void release_one_write() { gate_.cancel_one(); }
  int writes_started = 0;

 private:
  asio::io_context& context_;
  asio::steady_timer gate_;
  std::vector<asio::steady_timer*> closers_;
  bool closed_ = false;
};

TEST_F(SpliceFixture, ASlowWriterStopsTheReader) {
  EndlessSource source(context);
  GatedSink sink(context);
  start(source, sink, {.buffer_size = 1024});
  context.poll();
  // One read, one write in flight, and no further read until that write completes.
  EXPECT_EQ(source.reads, 1);
  EXPECT_EQ(sink.writes_started, 1);
  context.poll();
  EXPECT_EQ(source.reads, 1);
  sink.release_one_write();
  context.poll();
  EXPECT_EQ(source.reads, 2);
  EXPECT_EQ(sink.writes_started, 2);
  sink.close();
  context.run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->bytes_a_to_b, 1024u);
}

}  // namespace
