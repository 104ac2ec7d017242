// Ending a connection after the gateway's last words (an error answer, a Notice of Disconnection) so
// that the peer can read them: closing a socket that still has unread input makes the kernel send a
// reset, which can destroy the answer before the peer read it.
#pragma once

#include <array>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "gateway/plugin/deadline.hpp"
#include "gateway/plugin/stream.hpp"

namespace gw {

// Half-closes `stream`, then reads and discards what the peer still sends: at most `max_bytes`, for
// at most `timeout` (then the stream is closed). Only for the coroutine that reads `stream`.
inline boost::asio::awaitable<void> close_gently(Stream& stream, std::size_t max_bytes,
                                                 std::chrono::milliseconds timeout) {
  co_await stream.shutdown_write();
  Deadline deadline(stream.executor(), timeout, [&stream] { stream.close(); });
  std::array<std::uint8_t, 4096> discard;
  std::size_t drained = 0;
  while (drained < max_bytes) {
    IoResult r = co_await stream.read_some(boost::asio::buffer(discard));
    drained += r.bytes;
    if (r.error) break;
  }
}

}  // namespace gw
