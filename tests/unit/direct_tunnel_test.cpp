// DirectTunnel::open to an IP address: a connect that completes at once, one that is refused, one that
// stays pending until connect_timeout, and the early data written right after connecting.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_future.hpp>
#include <string>

#include "net/direct_tunnel.hpp"

using namespace gw;
using namespace std::chrono_literals;
using tcp = asio::ip::tcp;

namespace {

struct DirectTunnelTest : ::testing::Test {
  asio::io_context context;
  net::TlsClientContexts tls;
  net::DirectTunnel tunnel{tls};

  OpenResult open(const OpenRequest& request) {
    auto future = asio::co_spawn(context, tunnel.open(request), asio::use_future);
    context.run();
    context.restart();
    return future.get();
  }

  static OpenRequest to(std::uint16_t port) {
    OpenRequest request;
    request.host = "127.0.0.1";
    request.port = port;
    return request;
  }
};

TEST_F(DirectTunnelTest, ConnectsAndWritesTheEarlyData) {
  tcp::acceptor acceptor(context, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::string hello = "hello, target";
  OpenRequest request = to(acceptor.local_endpoint().port());
  request.early_data = asio::buffer(hello);
  OpenResult opened = open(request);
  ASSERT_TRUE(opened) << opened.reason;
  tcp::socket accepted = acceptor.accept();
  std::string received(hello.size(), '\0');
  asio::read(accepted, asio::buffer(received));
  EXPECT_EQ(received, hello);
}

TEST_F(DirectTunnelTest, ReportsARefusedConnect) {
  std::uint16_t closed_port;
  {
    tcp::acceptor acceptor(context, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    closed_port = acceptor.local_endpoint().port();
  }
  OpenResult opened = open(to(closed_port));
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error, asio::error::connection_refused) << opened.error.message();
  EXPECT_EQ(opened.reason,
            "connect to 127.0.0.1:" + std::to_string(closed_port) + ": " + opened.error.message());
}

// A listener whose accept queue is full drops further SYNs, so a connect to it stays in progress.
TEST_F(DirectTunnelTest, GivesUpAPendingConnectAfterConnectTimeout) {
  tcp::acceptor acceptor(context);
  acceptor.open(tcp::v4());
  acceptor.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  ASSERT_EQ(::listen(acceptor.native_handle(), 0), 0);
  const tcp::endpoint listening = acceptor.local_endpoint();
  tcp::socket queued(context);
  queued.connect(listening);  // fills the queue of one

  OpenRequest request = to(listening.port());
  request.connect_timeout = 300ms;
  OpenResult opened = open(request);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error, asio::error::timed_out) << opened.reason;
  EXPECT_EQ(opened.reason,
            "connect to 127.0.0.1:" + std::to_string(listening.port()) + " timed out after 300ms");
}

}  // namespace
