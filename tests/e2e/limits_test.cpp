// Per-destination limits: a connection cap that refuses the excess and frees its slots again, an
// idle timeout that ends silent connections, and a half-close timeout that ends connections one side
// finished and the other went silent on.
#include <gtest/gtest.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "support/checks.hpp"
#include "support/client.hpp"
#include "support/gateway_process.hpp"
#include "support/metrics.hpp"
#include "support/peers.hpp"

namespace gw::e2e {
namespace {

// A gateway with one destination, `name`, to `address` with `limits`.
GatewayConfig one_destination(const std::string& name, const std::string& address,
                              const std::string& limits) {
  GatewayConfig config;
  config.destinations.push_back({.name = name, .address = address, .limits = limits});
  return config;
}

TEST(Limits, MaxConnectionsRefusesTheExcessAndFreesSlotsOnClose) {
  EchoServer echo;
  GatewayProcess gateway(one_destination("capped", echo.address(), "{max_connections: 2}"));
  ASSERT_TRUE(gateway.wait_ready());
  const std::uint16_t port = gateway.port("capped");

  TcpClient first(port);
  TcpClient second(port);
  ASSERT_TRUE(echoes(first, "first"));
  ASSERT_TRUE(echoes(second, "second"));

  TcpClient third(port);  // the kernel completes the handshake; the gateway must then let it go
  EXPECT_TRUE(closed_without_data(third));
  auto refused = gateway.wait_for_log(log_event("connection_refused", {{"destination", "capped"}}));
  ASSERT_TRUE(refused) << "no event=connection_refused";
  EXPECT_TRUE(contains_nocase(refused->get("reason"), "max_connections (2) reached")) << refused->line;
  EXPECT_EQ(echo.accepted(), 2u) << "the refused connection reached the target";
  EXPECT_TRUE(wait_for_metric(gateway.admin_port(), "gateway_connections_refused_total",
                              {{"destination", "capped"}, {"reason", "max_connections"}},
                              [](double v) { return v >= 1; }))
      << "gateway_connections_refused_total never counted the refusal";
  auto refusal_audit = gateway.wait_for_audit(
      [](const Record& r) { return r.get("destination") == "capped" && r.get("outcome") == "refused"; });
  EXPECT_EQ(refusal_audit.size(), 1u) << "no audit record with outcome refused";

  first.close();
  // The slot is free once the gateway has finished with the first connection.
  EXPECT_TRUE(wait_for_metric(gateway.admin_port(), "gateway_connections_active",
                              {{"destination", "capped"}, {"route_type", "tcp"}},
                              [](double v) { return v == 1; }))
      << "gateway_connections_active never went back to 1";

  TcpClient fourth(port);
  EXPECT_TRUE(echoes(fourth, "fourth"));
  EXPECT_TRUE(echoes(second, "second, still"));
}

TEST(Limits, IdleTimeoutEndsSilentConnection) {
  EchoServer echo;
  GatewayProcess gateway(one_destination("idle", echo.address(), "{idle_timeout: 300ms}"));
  ASSERT_TRUE(gateway.wait_ready());

  TcpClient client(gateway.port("idle"));
  ASSERT_TRUE(echoes(client, "ping"));
  // From here on neither side sends anything.
  EXPECT_TRUE(closed_without_data(client));

  auto audit = gateway.wait_for_audit(
      [](const Record& r) { return r.get("event") == "tcp.connection" && r.get("destination") == "idle"; });
  ASSERT_EQ(audit.size(), 1u) << "no tcp.connection audit record";
  EXPECT_EQ(audit[0].get("outcome"), "idle_timeout") << audit[0].line;
  EXPECT_EQ(audit[0].integer("bytes_up"), 4);
  EXPECT_EQ(audit[0].integer("bytes_down"), 4);
  EXPECT_TRUE(wait_for_metric(gateway.admin_port(), "gateway_errors_total",
                              {{"destination", "idle"}, {"reason", "idle_timeout"}},
                              [](double v) { return v >= 1; }))
      << "gateway_errors_total{reason=\"idle_timeout\"} never reached 1";
}

TEST(Limits, HalfCloseTimeoutEndsAConnectionTheTargetNeverFinishes) {
  // Reads the client's request to its end, then holds the connection open without a word.
  ScriptedServer target([](tcp::socket socket) -> asio::awaitable<void> {
    co_await read_to_eof(socket);
    asio::steady_timer hold(socket.get_executor(), std::chrono::hours(1));
    boost::system::error_code ec;
    co_await hold.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  });
  GatewayProcess gateway(one_destination("half", target.address(), "{half_close_timeout: 300ms}"));
  ASSERT_TRUE(gateway.wait_ready());

  TcpClient client(gateway.port("half"));
  client.send("the whole request");
  client.shutdown_write();
  // The idle timeout is the default five minutes: only the half-close timeout ends this.
  const Received end = client.receive_all();
  EXPECT_EQ(end.data, "");
  EXPECT_TRUE(end.end == End::eof || end.end == End::reset);

  auto audit = gateway.wait_for_audit(
      [](const Record& r) { return r.get("event") == "tcp.connection" && r.get("destination") == "half"; });
  ASSERT_EQ(audit.size(), 1u) << "no tcp.connection audit record";
  EXPECT_EQ(audit[0].get("outcome"), "half_close_timeout") << audit[0].line;
  EXPECT_EQ(audit[0].integer("bytes_up"), 17);
  EXPECT_TRUE(wait_for_metric(gateway.admin_port(), "gateway_errors_total",
                              {{"destination", "half"}, {"reason", "half_close_timeout"}},
                              [](double v) { return v >= 1; }));
}

}  // namespace
}  // namespace gw::e2e
