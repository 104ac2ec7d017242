#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <thread>

#include "health_check.hpp"
#include "support/test_host.hpp"

using namespace gw;
using namespace std::chrono_literals;

namespace {

// A port on 127.0.0.1 that refuses connections: bound once, then released.
std::uint16_t refused_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

// Checks `condition` again every millisecond until it holds or 10 s passed (a guard against hangs).
template <typename Condition>
bool eventually(Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

class LdapHealthChecker : public ::testing::Test {
 protected:
  Counter& failed_checks(const std::string& system) {
    return metrics.counter("gateway_ldap_health_checks_total", "Health checks of directories",
                           {{"system", system}, {"outcome", "failed"}});
  }
  ldap::HealthTarget target(const std::string& system) {
    ldap::HealthTarget t;
    t.system = system;
    t.host = "127.0.0.1";
    t.port = refused_port();
    t.interval = std::chrono::hours(1);
    t.timeout = 2s;
    return t;
  }

  test::TestHost test_host;
  host::MetricsRegistry& metrics = test_host.metrics;
  host::HostServices& host = test_host.services;
  ldap::HealthChecker checker{host};
};

}  // namespace

TEST_F(LdapHealthChecker, ATargetRemovedWhileTheCheckerWaitsForItsNextCheckIsForgottenSafely) {
  auto first = checker.add(target("first:389"));
  // The first check runs at once and fails; the checker then waits an hour for the next one, until
  // the target is removed under it.
  ASSERT_TRUE(eventually([&] { return failed_checks("first:389").value() == 1; }));
  first.reset();
  // The checker goes on with the targets it still has.
  auto second = checker.add(target("second:389"));
  EXPECT_TRUE(eventually([&] { return failed_checks("second:389").value() == 1; }));
  EXPECT_EQ(failed_checks("first:389").value(), 1u);
}

TEST_F(LdapHealthChecker, RemovingATargetDoesNotWaitForItsCheckInProgress) {
  // A directory that accepts and never answers: the check waits for its bind's answer. A reload drops
  // handlers on worker threads, so removal must not wait for it.
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});
  silent.non_blocking(true);
  ldap::HealthTarget t = target("silent:389");
  t.port = silent.local_endpoint().port();
  t.timeout = 10s;
  auto registration = checker.add(t);
  asio::ip::tcp::socket accepted(io);
  ASSERT_TRUE(eventually([&] {
    boost::system::error_code ec;
    silent.accept(accepted, ec);
    return !ec;
  })) << "the check never connected";

  registration.reset();
  // The check is still in progress: its connection is open, with nothing after the bind request.
  accepted.non_blocking(true);
  boost::system::error_code ec;
  char buffer[512];
  while (!ec) accepted.read_some(asio::buffer(buffer), ec);
  EXPECT_EQ(ec, asio::error::would_block) << ec.message();

  // Once the directory hangs up the check ends, and its result is not reported for the removed target.
  accepted.close();
  auto after = checker.add(target("after:389"));  // checked after the silent one: one checker thread
  EXPECT_TRUE(eventually([&] { return failed_checks("after:389").value() == 1; }));
  EXPECT_EQ(failed_checks("silent:389").value(), 0u);
}

TEST_F(LdapHealthChecker, AFailedCheckSaysWhyWithoutTheSecret) {
  ldap::HealthTarget t = target("refused:389");
  t.bind_dn = "cn=svc,dc=example,dc=com";
  t.password = "very-secret";
  const std::string failure = ldap::check_directory(t);
  EXPECT_NE(failure.find("cannot connect to 127.0.0.1:"), std::string::npos) << failure;
  EXPECT_NE(failure.find("Connection refused"), std::string::npos) << failure;
  EXPECT_EQ(failure.find("very-secret"), std::string::npos) << failure;
}
