// Admin /metrics after known traffic: connections and bytes per destination and direction.
#include <gtest/gtest.h>

#include "support/checks.hpp"
#include "support/client.hpp"
#include "support/digest.hpp"
#include "support/gateway_process.hpp"
#include "support/metrics.hpp"
#include "support/peers.hpp"
#include "support/transfer.hpp"

namespace gw::e2e {
namespace {

constexpr std::size_t kMiB = 1024 * 1024;

TEST(Metrics, CountConnectionsAndBytesPerDestinationAndDirection) {
  EchoServer echo;
  // Answers every request with three times as many bytes, so the two directions differ.
  ScriptedServer triple([](tcp::socket socket) -> asio::awaitable<void> {
    std::string request = co_await read_to_eof(socket);
    co_await write_all(socket, std::string(3 * request.size(), 'x'));
    socket.close();
  });
  GatewayConfig config;
  config.destinations.push_back({.name = "echo", .address = echo.address()});
  config.destinations.push_back({.name = "triple", .address = triple.address()});
  GatewayProcess gateway(config);
  ASSERT_TRUE(gateway.wait_ready());
  const std::uint16_t admin = gateway.admin_port();

  {
    TcpClient client(gateway.port("echo"));
    EchoTransfer transfer(client, kMiB, 9);
    auto result = transfer.finish();
    ASSERT_EQ(result.received, kMiB);
  }
  for (int i = 0; i < 2; ++i) {
    TcpClient client(gateway.port("triple"));
    client.send(std::string(10000, 'r'));
    client.shutdown_write();
    ASSERT_EQ(client.receive_all().data.size(), 30000u);
  }

  // Counters may be updated as bytes flow or when a connection ends: wait for each to get there.
  auto at_least = [](double n) { return [n](double v) { return v >= n; }; };
  EXPECT_EQ(wait_for_metric(admin, "gateway_connections_total",
                            {{"destination", "echo"}, {"route_type", "tcp"}}, at_least(1)),
            1);
  EXPECT_EQ(wait_for_metric(admin, "gateway_connections_total",
                            {{"destination", "triple"}, {"route_type", "tcp"}}, at_least(2)),
            2);
  EXPECT_TRUE(wait_for_metric(admin, "gateway_bytes_total",
                              {{"destination", "echo"}, {"direction", "upstream"}}, at_least(kMiB)));
  EXPECT_TRUE(wait_for_metric(admin, "gateway_bytes_total",
                              {{"destination", "echo"}, {"direction", "downstream"}}, at_least(kMiB)));
  EXPECT_TRUE(wait_for_metric(admin, "gateway_bytes_total",
                              {{"destination", "triple"}, {"direction", "upstream"}}, at_least(20000)));
  EXPECT_TRUE(wait_for_metric(admin, "gateway_bytes_total",
                              {{"destination", "triple"}, {"direction", "downstream"}}, at_least(60000)));
  EXPECT_TRUE(wait_for_metric(admin, "gateway_connections_active",
                              {{"destination", "echo"}, {"route_type", "tcp"}},
                              [](double v) { return v == 0; }));
  EXPECT_TRUE(wait_for_metric(admin, "gateway_connections_active",
                              {{"destination", "triple"}, {"route_type", "tcp"}},
                              [](double v) { return v == 0; }));
  if (HasFailure()) {
    auto text = fetch_metrics_text(admin);
    ADD_FAILURE() << "/metrics:\n" << text.value_or("(curl failed)");
  }
}

TEST(Metrics, HealthzAnswers) {
  EchoServer echo;
  GatewayConfig config;
  config.destinations.push_back({.name = "demo", .address = echo.address()});
  GatewayProcess gateway(config);
  ASSERT_TRUE(gateway.wait_ready());

  ChildProcess curl({"curl", "-sS", "--fail", "--max-time", "10",
                     "http://127.0.0.1:" + std::to_string(gateway.admin_port()) + "/healthz"});
  auto status = curl.wait_for_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->success()) << *status << "\n" << curl.text();
}

}  // namespace
}  // namespace gw::e2e
