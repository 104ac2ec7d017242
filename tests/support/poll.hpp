// Waiting for state the test can only observe by looking again (a file the gateway appends to, a
// metric): check, and check again shortly after, until a deadline that only guards against hangs.
#pragma once

#include <chrono>
#include <thread>

#include "support/child_process.hpp"

namespace gw::e2e {

template <typename Condition>
bool poll_until(Condition&& condition, std::chrono::milliseconds timeout = kGuard) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

}  // namespace gw::e2e
