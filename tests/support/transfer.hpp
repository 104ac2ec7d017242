// A bulk transfer through an echo path: one thread sends pseudo-random bytes while another receives
// what comes back, both hashing, so that a test can check every byte in both directions.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <string>
#include <thread>

#include "support/client.hpp"

namespace gw::e2e {

class EchoTransfer {
 public:
  static constexpr std::size_t kNoPause = std::numeric_limits<std::size_t>::max();

  struct Result {
    std::size_t sent = 0;
    std::string sent_sha256;
    std::size_t received = 0;
    std::string received_sha256;
    End end = End::error;  // how receiving ended
    std::string error;     // a send failure, if any
  };

  // Starts sending `total` bytes (then ending the sending side) and receiving until the connection ends.
  // With `pause_after`, the sender stops after that many bytes until resume().
  EchoTransfer(TcpClient& client, std::size_t total, std::uint64_t seed, std::size_t pause_after = kNoPause);
  ~EchoTransfer();
  EchoTransfer(const EchoTransfer&) = delete;
  EchoTransfer& operator=(const EchoTransfer&) = delete;

  // Waits until at least `bytes` have been received.
  bool wait_received(std::size_t bytes, std::chrono::milliseconds timeout = kGuard);
  void resume();
  // Waits for both threads and returns what they saw.
  Result finish();

 private:
  void send_all(std::size_t total, std::uint64_t seed, std::size_t pause_after);
  void receive_all();

  TcpClient& client_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool resumed_ = false;
  bool finished_ = false;
  Result result_;
  std::thread sender_;
  std::thread receiver_;
};

}  // namespace gw::e2e
