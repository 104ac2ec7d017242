// The tcp route end to end: bytes relayed intact in both directions, at volume, with many connections
// at once, and with each side ending its direction of the stream independently.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <future>
#include <memory>

#include "support/checks.hpp"
#include "support/client.hpp"
#include "support/digest.hpp"
#include "support/gateway_process.hpp"
#include "support/peers.hpp"
#include "support/transfer.hpp"

namespace gw::e2e {
namespace {

constexpr std::size_t kMiB = 1024 * 1024;

GatewayConfig route_to(const std::string& address) {
  GatewayConfig config;
  config.destinations.push_back({.name = "demo", .address = address});
  return config;
}

TEST(TcpRoute, SixtyFourMebibytesArriveIntactInBothDirections) {
  EchoServer echo;
  GatewayProcess gateway(route_to(echo.address()));
  ASSERT_TRUE(gateway.wait_ready());

  TcpClient client(gateway.port());
  EchoTransfer transfer(client, 64 * kMiB, 1);
  EchoTransfer::Result result = transfer.finish();

  expect_echoed_intact(result, echo, 64 * kMiB);
}

// One client connection driven by the test's own event loop.
struct ConcurrentEcho {
  explicit ConcurrentEcho(asio::io_context& context) : socket(context) {}
  tcp::socket socket;
  std::string payload;
  std::string received;
  std::string failure;
  bool ended = false;  // the gateway ended the stream after the echo
};

asio::awaitable<void> run_concurrent_echo(ConcurrentEcho& echo, tcp::endpoint gateway) {
  try {
    co_await echo.socket.async_connect(gateway, asio::use_awaitable);
    // Send on a separate coroutine so both directions flow at once; this one receives.
    asio::co_spawn(
        echo.socket.get_executor(),
        [&echo]() -> asio::awaitable<void> {
          co_await asio::async_write(echo.socket, asio::buffer(echo.payload), asio::use_awaitable);
          echo.socket.shutdown(tcp::socket::shutdown_send);
        },
        [&echo](std::exception_ptr error) {
          if (error) echo.failure = "send failed";
        });
    echo.received = co_await read_to_eof(echo.socket);
    echo.ended = true;
  } catch (const std::exception& e) {
    echo.failure = e.what();
  }
}

TEST(TcpRoute, TwoHundredConcurrentConnectionsEachEchoTheirOwnPayload) {
  constexpr std::size_t kConnections = 200;
  constexpr std::size_t kPayload = 64 * 1024;
  EchoServer echo;
  GatewayProcess gateway(route_to(echo.address()));
  ASSERT_TRUE(gateway.wait_ready());

  asio::io_context context;
  tcp::endpoint endpoint(asio::ip::address_v4::loopback(), gateway.port());
  std::vector<std::unique_ptr<ConcurrentEcho>> connections;
  for (std::size_t i = 0; i < kConnections; ++i) {
    auto connection = std::make_unique<ConcurrentEcho>(context);
    connection->payload = RandomBytes(1000 + i).next(kPayload);
    asio::co_spawn(context, run_concurrent_echo(*connection, endpoint), asio::detached);
    connections.push_back(std::move(connection));
  }
  context.run_for(kGuard);

  std::size_t intact = 0;
  for (std::size_t i = 0; i < kConnections; ++i) {
    const auto& c = *connections[i];
    EXPECT_EQ(c.failure, "") << "connection " << i;
    EXPECT_TRUE(c.ended) << "connection " << i << " was not ended by the gateway";
    EXPECT_EQ(c.received.size(), kPayload) << "connection " << i;
    if (c.received == c.payload) ++intact;
  }
  EXPECT_EQ(intact, kConnections);
  EXPECT_EQ(echo.wait_for_finished(kConnections).size(), kConnections);
}

TEST(TcpRoute, ClientHalfCloseReachesTargetWhichStillAnswers) {
  // The target reads the whole request, up to the end of the client's stream, then answers and closes.
  ScriptedServer target([](tcp::socket socket) -> asio::awaitable<void> {
    std::string request = co_await read_to_eof(socket);
    co_await write_all(socket, "got " + std::to_string(request.size()) + " bytes " + sha256_hex(request));
    socket.close();
  });
  GatewayProcess gateway(route_to(target.address()));
  ASSERT_TRUE(gateway.wait_ready());

  std::string request = RandomBytes(7).next(100 * 1024);
  TcpClient client(gateway.port());
  client.send(request);
  client.shutdown_write();
  Received answer = client.receive_all();

  EXPECT_EQ(answer.end, End::eof);
  EXPECT_EQ(answer.data, "got " + std::to_string(request.size()) + " bytes " + sha256_hex(request));
}

TEST(TcpRoute, TargetHalfCloseLetsClientKeepSending) {
  // The target greets, ends its side at once, and then reads everything the client still sends.
  std::promise<std::string> received_by_target;
  ScriptedServer target([&](tcp::socket socket) -> asio::awaitable<void> {
    co_await write_all(socket, "hello, then goodbye");
    socket.shutdown(tcp::socket::shutdown_send);
    std::string rest = co_await read_to_eof(socket);
    received_by_target.set_value(rest);
    socket.close();
  });
  GatewayProcess gateway(route_to(target.address()));
  ASSERT_TRUE(gateway.wait_ready());

  TcpClient client(gateway.port());
  Received greeting = client.receive_all();
  EXPECT_EQ(greeting.data, "hello, then goodbye");
  EXPECT_EQ(greeting.end, End::eof) << "the target's end of stream did not reach the client";

  std::string upload = RandomBytes(8).next(100 * 1024);
  client.send(upload);
  client.shutdown_write();
  auto future = received_by_target.get_future();
  ASSERT_EQ(future.wait_for(kGuard), std::future_status::ready)
      << "the target never saw the client's end of stream";
  std::string got = future.get();
  EXPECT_EQ(got.size(), upload.size());
  EXPECT_TRUE(got == upload) << "the bytes sent after the target's half-close arrived changed";
}

}  // namespace
}  // namespace gw::e2e
