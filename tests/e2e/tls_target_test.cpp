// TLS towards the target: verified against a configured CA and name, rejected when the certificate
// cannot be verified or names another host, and unverified only when verification is switched off.
#include <gtest/gtest.h>

#include "support/checks.hpp"
#include "support/client.hpp"
#include "support/digest.hpp"
#include "support/gateway_process.hpp"
#include "support/tls_peer.hpp"

namespace gw::e2e {
namespace {

class TlsTarget : public ::testing::Test {
 protected:
  GatewayConfig route_with_tls(const std::string& tls) const {
    GatewayConfig config;
    config.destinations.push_back({.name = "secure", .address = server.address(), .tls = tls});
    return config;
  }
  std::string ca() const { return "\"" + pki.ca_file().string() + "\""; }

  TestPki pki;
  TlsEchoServer server{pki};
};

TEST_F(TlsTarget, TrustedCaAndMatchingNameEchoIntact) {
  GatewayProcess gateway(route_with_tls("{enabled: true, ca_file: " + ca() + ", server_name: localhost}"));
  ASSERT_TRUE(gateway.wait_ready());

  TcpClient client(gateway.port("secure"));
  EXPECT_TRUE(echoes(client, RandomBytes(11).next(512 * 1024)));
  EXPECT_TRUE(echoes(client, "and once more"));
  EXPECT_EQ(server.handshakes(), 1u);
}

TEST_F(TlsTarget, DefaultServerNameIsTheAddressHost) {
  // The certificate names IP address 127.0.0.1, which is the host of the destination's address.
  GatewayProcess gateway(route_with_tls("{enabled: true, ca_file: " + ca() + "}"));
  ASSERT_TRUE(gateway.wait_ready());

  TcpClient client(gateway.port("secure"));
  EXPECT_TRUE(echoes(client, "hello over tls"));
}

TEST_F(TlsTarget, SystemTrustStoreRejectsUnknownCa) {
  GatewayProcess gateway(route_with_tls("{enabled: true, verify: true, server_name: localhost}"));
  ASSERT_TRUE(gateway.wait_ready());

  TcpClient client(gateway.port("secure"));
  EXPECT_TRUE(closed_without_data(client));
  auto failure = gateway.wait_for_log(log_event("connection_failed", {{"destination", "secure"}}));
  ASSERT_TRUE(failure) << "no event=connection_failed";
  std::string reason = failure->get("reason");
  EXPECT_TRUE(contains_nocase(reason, "certificate") && contains_nocase(reason, "verif"))
      << "the reason does not mention certificate verification: " << failure->line;
}

TEST_F(TlsTarget, WrongServerNameIsRejected) {
  GatewayProcess gateway(
      route_with_tls("{enabled: true, ca_file: " + ca() + ", server_name: other.example}"));
  ASSERT_TRUE(gateway.wait_ready());

  TcpClient client(gateway.port("secure"));
  EXPECT_TRUE(closed_without_data(client));
  auto failure = gateway.wait_for_log(log_event("connection_failed", {{"destination", "secure"}}));
  ASSERT_TRUE(failure) << "no event=connection_failed";
  EXPECT_TRUE(contains_nocase(failure->get("reason"), "name"))
      << "the reason does not mention the name: " << failure->line;
}

TEST_F(TlsTarget, VerifyFalseAcceptsUnknownCa) {
  GatewayProcess gateway(route_with_tls("{enabled: true, verify: false}"));
  ASSERT_TRUE(gateway.wait_ready());

  TcpClient client(gateway.port("secure"));
  EXPECT_TRUE(echoes(client, RandomBytes(12).next(64 * 1024)));
}

}  // namespace
}  // namespace gw::e2e
