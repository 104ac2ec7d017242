// Health checks of internal directories: a simple bind with libldap, repeated at an interval.
//
// libldap's API blocks, so the checks run on a thread of their own, one after another, each bounded by
// its timeout; never on an I/O thread. Each target's state is a gauge (`gateway_ldap_up{system}`, 1 up
// and 0 down) and a counter of checks by outcome (`gateway_ldap_health_checks_total{system,outcome}`),
// and every change of state is logged (`ldap.health`, with the reason when down).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <thread>

#include "gateway/plugin_api.hpp"

namespace gw::ldap {

struct HealthTarget {
  std::string system;  // name in logs and metrics, "virtual_host:port"
  std::string host;
  std::uint16_t port = 0;
  bool ldaps = false;     // TLS from the first byte
  bool starttls = false;  // StartTLS before the bind
  TlsClientOptions tls;   // CA, verification, client certificate for ldaps / starttls
  std::string bind_dn;    // empty: anonymous
  std::string password;
  std::chrono::milliseconds interval{30000};
  std::chrono::milliseconds timeout{5000};  // network and operation timeout of one check
};

// The outcome of one check: empty when the bind succeeded, otherwise why not (no secrets).
std::string check_directory(const HealthTarget& target);

class HealthChecker {
 public:
  explicit HealthChecker(Host& host) : host_(host) {}
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // A registration: the target is checked at once and then every interval, until it is destroyed.
  // Destruction never waits: a check in progress goes on, and its result is dropped.
  class Registration {
   public:
    Registration(HealthChecker& checker, std::uint64_t id) : checker_(&checker), id_(id) {}
    ~Registration();
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;

   private:
    HealthChecker* checker_;
    std::uint64_t id_;
  };

  // Starts the checker's thread on first use.
  std::unique_ptr<Registration> add(HealthTarget target);

 private:
  struct Entry {
    std::uint64_t id;
    HealthTarget target;
    std::chrono::steady_clock::time_point due;
    Gauge* up;
    Counter* ok;
    Counter* failed;
    int state = -1;  // -1 unknown, 0 down, 1 up
  };
  void remove(std::uint64_t id);
  void run();

  Host& host_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::list<Entry> entries_;
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace gw::ldap
