// Stream: a bidirectional byte stream, the unit every route handler works with.
//
// A client connection accepted on an entry point, a direct TCP or TLS connection to a target, and a
// stream multiplexed through the tunnel to a connector all look the same to a plugin. Operations are
// coroutines on the stream's executor; a stream is used from one coroutine chain at a time per
// direction (one reader and one writer may run concurrently).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "gateway/plugin/abi.hpp"

namespace gw {

namespace asio = boost::asio;
using error_code = boost::system::error_code;

// Outcome of one read or write. `error` is asio::error::eof when the peer half-closed (after which
// reads keep returning eof; test it with is_eof()) and asio::error::operation_aborted after close().
struct IoResult {
  error_code error;
  std::size_t bytes = 0;
};

// True when `error` is asio::error::eof. Use this rather than `error == asio::error::eof`: Asio's
// category objects are not shared between the core and a plugin (each shared object has its own copy,
// and Boost 1.74 compares such categories by address), so that comparison never holds in a plugin
// for an error the core's stream produced. The category is recognised by its name instead.
inline bool is_eof(const error_code& error) noexcept {
  return error.value() == asio::error::eof && std::string_view(error.category().name()) == "asio.misc";
}

// What is known about the other end of a stream.
struct StreamInfo {
  std::string peer;   // "address:port" of the remote end, or a description for tunnel streams
  std::string local;  // "address:port" of our end
  // Request metadata carried with the stream (route type, destination, request id, principal, ...).
  std::map<std::string, std::string> metadata;
};

class GW_PLUGIN_VISIBLE Stream {
 public:
  virtual ~Stream() = default;
  Stream() = default;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  virtual asio::any_io_executor executor() const = 0;

  // Reads at least one byte unless an error (or eof) is returned.
  virtual asio::awaitable<IoResult> read_some(asio::mutable_buffer buffer) = 0;

  // Takes bytes that have already arrived, without waiting: returns how many were placed in `buffer`,
  // 0 when none are there (also at the end of the stream or after an error, which the next read_some
  // reports). A handler uses it to send a client's first bytes with the request that opens the target
  // (OpenRequest::early_data). Streams that cannot tell without waiting return 0.
  virtual std::size_t read_available(asio::mutable_buffer buffer) { return 0; }

  // Writes the whole buffer, waiting as long as the peer applies backpressure.
  virtual asio::awaitable<IoResult> write(asio::const_buffer buffer) = 0;

  // Half-close: tells the peer no more data follows (TCP FIN, TLS close_notify, HTTP/2 END_STREAM).
  // Reading stays possible.
  virtual asio::awaitable<error_code> shutdown_write() = 0;

  // Aborts the stream: pending operations complete with operation_aborted. Idempotent.
  virtual void close() noexcept = 0;

  // Disables Nagle's algorithm where the stream is a TCP socket; a no-op otherwise.
  virtual void set_no_delay(bool) noexcept {}

  // Filled on first use: finding out an address may cost a system call, and most connections are
  // never asked (only logs and audit records of some outcomes are).
  const StreamInfo& info() const {
    if (!described_) {
      described_ = true;
      describe(info_);
    }
    return info_;
  }
  std::uint64_t bytes_read() const noexcept { return bytes_read_; }
  std::uint64_t bytes_written() const noexcept { return bytes_written_; }

 protected:
  // Completes `info` (what the constructor did not set) the first time info() is called.
  virtual void describe(StreamInfo& info) const {}

  mutable StreamInfo info_;
  mutable bool described_ = false;
  std::uint64_t bytes_read_ = 0;
  std::uint64_t bytes_written_ = 0;
};

}  // namespace gw
