#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <thread>

#include "health_check.hpp"
#include "host/audit.hpp"
#include "host/host_services.hpp"
#include "host/logger.hpp"
#include "host/metrics.hpp"

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

  host::LogSink log{LogLevel::error, config::LogFormat::text};
  host::MetricsRegistry metrics;
  host::AuditLog audit{config::AuditConfig{config::AuditLevel::off, {}}, log};
  host::HostServices host{log, metrics, audit, 1};
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

TEST_F(LdapHealthChecker, AFailedCheckSaysWhyWithoutTheSecret) {
  ldap::HealthTarget t = target("refused:389");
  t.bind_dn = "cn=svc,dc=example,dc=com";
  t.password = "very-secret";
  const std::string failure = ldap::check_directory(t);
  EXPECT_NE(failure.find("cannot connect to 127.0.0.1:"), std::string::npos) << failure;
  EXPECT_NE(failure.find("Connection refused"), std::string::npos) << failure;
  EXPECT_EQ(failure.find("very-secret"), std::string::npos) << failure;
}
