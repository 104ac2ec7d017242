#include "support/transfer.hpp"

#include <algorithm>
#include <vector>

#include "support/digest.hpp"

namespace gw::e2e {

EchoTransfer::EchoTransfer(TcpClient& client, std::size_t total, std::uint64_t seed, std::size_t pause_after)
    : client_(client) {
  sender_ = std::thread([this, total, seed, pause_after] { send_all(total, seed, pause_after); });
  receiver_ = std::thread([this] { receive_all(); });
}

EchoTransfer::~EchoTransfer() {
  if (!finished_) {
    // The test gave up early: unblock both threads rather than wait for the guard.
    resume();
    client_.shutdown_both();
    finish();
  }
}

void EchoTransfer::send_all(std::size_t total, std::uint64_t seed, std::size_t pause_after) {
  RandomBytes random(seed);
  Sha256 sha;
  std::vector<char> chunk(256 * 1024);
  std::size_t sent = 0;
  std::string error;
  try {
    while (sent < total) {
      if (sent >= pause_after) {
        std::unique_lock lock(mutex_);
        if (!changed_.wait_for(lock, kGuard, [this] { return resumed_; }))
          throw std::runtime_error("never resumed");
        pause_after = kNoPause;
      }
      std::size_t n = std::min({chunk.size(), total - sent, pause_after - sent});
      random.fill(chunk.data(), n);
      client_.send(std::string_view(chunk.data(), n));
      sha.update(chunk.data(), n);
      sent += n;
    }
    client_.shutdown_write();
  } catch (const std::exception& e) {
    error = e.what();
  }
  std::lock_guard lock(mutex_);
  result_.sent = sent;
  result_.sent_sha256 = sha.hex();
  result_.error = error;
}

void EchoTransfer::receive_all() {
  Sha256 sha;
  End end = client_.receive_stream([&](const char* data, std::size_t size) {
    sha.update(data, size);
    std::lock_guard lock(mutex_);
    result_.received += size;
    changed_.notify_all();
  });
  std::lock_guard lock(mutex_);
  result_.received_sha256 = sha.hex();
  result_.end = end;
  changed_.notify_all();
}

bool EchoTransfer::wait_received(std::size_t bytes, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return result_.received >= bytes; });
}

void EchoTransfer::resume() {
  std::lock_guard lock(mutex_);
  resumed_ = true;
  changed_.notify_all();
}

EchoTransfer::Result EchoTransfer::finish() {
  if (sender_.joinable()) sender_.join();
  if (receiver_.joinable()) receiver_.join();
  finished_ = true;
  std::lock_guard lock(mutex_);
  return result_;
}

}  // namespace gw::e2e
