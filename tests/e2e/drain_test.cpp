// SIGTERM: the gateway stops accepting, lets connections in flight finish (a SIGHUP meanwhile is
// ignored), and exits cleanly; with a short drain timeout it closes what is left and exits on its own.
#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "support/checks.hpp"
#include "support/client.hpp"
#include "support/gateway_process.hpp"
#include "support/peers.hpp"
#include "support/transfer.hpp"

namespace gw::e2e {
namespace {

constexpr std::size_t kMiB = 1024 * 1024;

TEST(Drain, TransferInFlightCompletesWhileNewConnectionsAreRefused) {
  EchoServer echo;
  GatewayConfig config;
  config.drain_timeout = "15s";
  config.destinations.push_back({.name = "demo", .address = echo.address()});
  GatewayProcess gateway(config);
  ASSERT_TRUE(gateway.wait_ready());
  const std::uint16_t port = gateway.port();

  TcpClient client(port);
  // The sender stops after 8 MiB until the test lets it go on, so SIGTERM lands mid-transfer.
  EchoTransfer transfer(client, 32 * kMiB, 3, 8 * kMiB);
  ASSERT_TRUE(transfer.wait_received(8 * kMiB)) << "the first 8 MiB never came back";

  gateway.terminate();
  ASSERT_TRUE(gateway.wait_for_log(log_event("draining"))) << "no event=draining after SIGTERM";
  int error = TcpClient::connect_error(port);
  EXPECT_EQ(error, ECONNREFUSED) << "a new connection while draining: "
                                 << (error ? std::strerror(error) : "accepted");
  EXPECT_TRUE(gateway.process().running());
  // A reload while draining would put routes in force that nothing accepts connections for.
  gateway.process().signal(SIGHUP);
  EXPECT_TRUE(gateway.wait_for_log(log_event("reload_ignored", {{"reason", "draining"}})));

  transfer.resume();
  EchoTransfer::Result result = transfer.finish();
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(result.sent, 32 * kMiB);
  EXPECT_EQ(result.end, End::eof);
  EXPECT_EQ(result.received, 32 * kMiB);
  EXPECT_EQ(result.received_sha256, result.sent_sha256);
  bool target_got_everything = false;
  for (const auto& connection : echo.wait_for_finished(echo.accepted())) {
    if (connection.bytes == 32 * kMiB && connection.received_sha256 == result.sent_sha256) {
      target_got_everything = true;
    }
  }
  EXPECT_TRUE(target_got_everything) << "the target did not receive the 32 MiB intact";
  client.close();

  auto status = gateway.wait_for_exit();
  ASSERT_TRUE(status) << "gatewayd did not exit after its last connection ended";
  EXPECT_TRUE(status->success()) << *status;
  EXPECT_TRUE(gateway.wait_for_log(log_event("stopped"), 0ms)) << "no event=stopped";
}

TEST(Drain, DrainTimeoutClosesIdleConnectionAndExits) {
  EchoServer echo;
  GatewayConfig config;
  config.drain_timeout = "500ms";
  config.destinations.push_back({.name = "demo", .address = echo.address()});
  GatewayProcess gateway(config);
  ASSERT_TRUE(gateway.wait_ready());

  TcpClient client(gateway.port());
  ASSERT_TRUE(echoes(client, "still here"));
  gateway.terminate();
  ASSERT_TRUE(gateway.wait_for_log(log_event("draining")));

  auto status = gateway.wait_for_exit();
  ASSERT_TRUE(status) << "gatewayd did not exit after its drain timeout";
  EXPECT_TRUE(status->success()) << *status;
  EXPECT_TRUE(closed_without_data(client));
  EXPECT_TRUE(gateway.wait_for_log(log_event("stopped"), 0ms)) << "no event=stopped";
}

}  // namespace
}  // namespace gw::e2e
