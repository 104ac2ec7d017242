// A blocking TCP client for tests. Every receive and send has a timeout that only guards against a
// hang (kGuard), so a missing byte fails the test instead of blocking it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "support/child_process.hpp"

namespace gw::e2e {

// How a receive ended.
enum class End {
  data,     // bytes were received (read_exact got all it asked for)
  eof,      // the peer closed its side in order
  reset,    // the connection was reset
  timeout,  // the guard expired: nothing happened
  error,    // any other error
};
const char* to_string(End end);
std::ostream& operator<<(std::ostream& out, End end);

struct Received {
  std::string data;
  End end = End::error;
  int error = 0;  // errno when end is reset or error
};

class TcpClient {
 public:
  // Connects to 127.0.0.1:port; throws std::system_error on failure.
  explicit TcpClient(std::uint16_t port, std::chrono::milliseconds guard = kGuard);
  ~TcpClient();
  TcpClient(TcpClient&& other) noexcept;
  TcpClient& operator=(TcpClient&&) = delete;
  TcpClient(const TcpClient&) = delete;
  TcpClient& operator=(const TcpClient&) = delete;

  // The errno of one connection attempt to 127.0.0.1:port (0 if it connected).
  static int connect_error(std::uint16_t port);

  std::uint16_t local_port() const;
  // "127.0.0.1:PORT" of this end, as the gateway sees the client.
  std::string local_address() const;

  // Sends everything; throws std::system_error on failure.
  void send(std::string_view data);
  // Receives exactly `size` bytes unless the connection ends or the guard expires first.
  Received receive_exact(std::size_t size);
  // Receives until the peer closes (or resets, or the guard expires).
  Received receive_all();
  // Receives until the connection ends, handing each chunk to `sink` instead of keeping it.
  End receive_stream(const std::function<void(const char*, std::size_t)>& sink, int* error = nullptr);

  void shutdown_write();
  // Ends both directions at once, waking a receive blocked on another thread.
  void shutdown_both();
  void close();

 private:
  int fd_ = -1;
};

}  // namespace gw::e2e
