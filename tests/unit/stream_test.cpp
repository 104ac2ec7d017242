// Stream::read_available on the core's streams: what has arrived is taken without waiting, nothing is
// lost, and the end of the stream is left for read_some to report.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <string>

#include "net/prefixed_stream.hpp"
#include "net/socket_stream.hpp"

using namespace gw;
using tcp = asio::ip::tcp;

namespace {

struct Pair {
  asio::io_context context;
  tcp::socket writer{context};
  std::unique_ptr<net::TcpStream> reader;

  Pair() {
    tcp::acceptor acceptor(context, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    writer.connect(acceptor.local_endpoint());
    reader = std::make_unique<net::TcpStream>(acceptor.accept());
  }

  // Sends `text` and waits until all of it can be read on the other side.
  void send(const std::string& text) {
    asio::write(writer, asio::buffer(text));
    while (reader->socket().available() < text.size()) {
    }
  }

  IoResult read_some(std::string& out) {
    char buffer[256];
    auto future = asio::co_spawn(context, reader->read_some(asio::buffer(buffer)), asio::use_future);
    context.run();
    context.restart();
    IoResult r = future.get();
    out.assign(buffer, r.bytes);
    return r;
  }
};

TEST(TcpStreamReadAvailable, ReturnsZeroWhenNothingHasArrived) {
  Pair pair;
  char buffer[16];
  EXPECT_EQ(pair.reader->read_available(asio::buffer(buffer)), 0u);
  EXPECT_EQ(pair.reader->bytes_read(), 0u);
}

TEST(TcpStreamReadAvailable, TakesWhatArrivedUpToTheBufferAndLeavesTheRest) {
  Pair pair;
  pair.send("hello, world");
  char buffer[5];
  ASSERT_EQ(pair.reader->read_available(asio::buffer(buffer)), 5u);
  EXPECT_EQ(std::string(buffer, 5), "hello");
  EXPECT_EQ(pair.reader->bytes_read(), 5u);
  std::string rest;
  IoResult r = pair.read_some(rest);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(rest, ", world");
}

TEST(TcpStreamReadAvailable, LeavesTheEndOfTheStreamToReadSome) {
  Pair pair;
  pair.send("last");
  pair.writer.shutdown(tcp::socket::shutdown_send);
  char buffer[64];
  ASSERT_EQ(pair.reader->read_available(asio::buffer(buffer)), 4u);
  // Only the end is left: nothing more to take, and read_some reports it.
  EXPECT_EQ(pair.reader->read_available(asio::buffer(buffer)), 0u);
  std::string rest;
  IoResult r = pair.read_some(rest);
  EXPECT_TRUE(is_eof(r.error)) << r.error.message();
  EXPECT_EQ(rest, "");
}

TEST(PrefixedStreamReadAvailable, GivesThePrefixFirstThenWhatTheInnerStreamHas) {
  Pair pair;
  pair.send("-inner");
  net::PrefixedStream stream(*pair.reader, "prefix");
  char small[4];
  ASSERT_EQ(stream.read_available(asio::buffer(small)), 4u);
  EXPECT_EQ(std::string(small, 4), "pref");
  char buffer[64];
  const std::size_t n = stream.read_available(asio::buffer(buffer));
  EXPECT_EQ(std::string(buffer, n), "ix-inner");
  EXPECT_EQ(stream.bytes_read(), 12u);
  EXPECT_EQ(stream.read_available(asio::buffer(buffer)), 0u);
}

}  // namespace
