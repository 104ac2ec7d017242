// Moving LDAP messages between two streams: a reader that yields whole messages, a gate that lets two
// coroutines share one stream for writing, and the connection around them (idle timeout, teardown).
// Everything of one connection runs on its worker's executor, so none of this needs locks.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gateway/plugin_api.hpp"
#include "ldap_codec.hpp"

namespace gw::ldap {

using Clock = std::chrono::steady_clock;

// Reads whole LDAP messages. The buffer starts small (16 KiB) and grows (doubling) only as far as a
// message needs, never beyond max_message_size (header included): a peer cannot make it allocate more.
class MessageReader {
 public:
  // Every read that brings bytes is progress for `activity` (the connection's idle watchdog).
  MessageReader(Stream& stream, std::size_t max_message_size, Watchdog& activity);

  enum class Status { message, eof, io_error, malformed };
  struct Next {
    Status status = Status::eof;
    ByteView message;   // Status::message: valid until the next call
    std::string error;  // malformed: why; io_error: the error's message
  };
  asio::awaitable<Next> next();

  // True when next() can answer without reading (a whole message, or a malformed header, is buffered):
  // the caller may delay its write to send several answers at once.
  bool ready() const noexcept;
  // Bytes received and not yet returned as (part of) a message.
  ByteView buffered() const noexcept { return {buffer_.data() + begin_, end_ - begin_}; }

 private:
  Stream& stream_;
  std::size_t max_message_size_;
  Watchdog& activity_;
  std::vector<std::uint8_t> buffer_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

// Serialises writes of two coroutines to one stream (an answer the gateway makes up, and the responses
// it forwards): each write() is whole and in order of arrival.
class WriteGate {
 public:
  WriteGate(Stream& stream, asio::any_io_executor executor) : stream_(stream), waiters_(executor) {}
  asio::awaitable<IoResult> write(ByteView bytes);

 private:
  Stream& stream_;
  bool busy_ = false;
  asio::steady_timer waiters_;
};

// One relayed connection: the client side and the directory side, the directions between them running
// as coroutines of their own, an idle watchdog, and the first failure. stop() closes both streams, which
// ends every pending read and write; wait() returns once every coroutine started with spawn() ended.
class Connection {
 public:
  Connection(asio::any_io_executor executor, Stream& client, std::chrono::milliseconds idle_timeout);
  ~Connection();

  Stream& client;
  Stream* directory = nullptr;
  WriteGate to_client;
  // Reads that bring bytes touch() it; idle for idle_timeout, it stops the connection.
  Watchdog activity;

  // Runs `task` concurrently; an exception in it stops the connection.
  void spawn(asio::awaitable<void> task);
  // Waits for every spawned task to end.
  asio::awaitable<void> wait();
  // Records why the connection ends (the first reason wins) and closes both streams.
  void stop(std::string reason);
  bool stopped() const noexcept { return stopped_; }
  bool idle() const noexcept { return idle_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  asio::any_io_executor executor_;
  std::chrono::milliseconds idle_timeout_;
  asio::steady_timer all_done_;
  int running_ = 0;
  bool stopped_ = false;
  bool idle_ = false;
  std::string reason_;
};

// Copies bytes from `from` to the connection's client, unparsed, until eof (then half-closes the
// client) or a failure (then stops the connection).
asio::awaitable<void> relay_raw(Connection& connection, Stream& from, std::size_t buffer_size,
                                std::uint64_t& bytes);

// Opens the directory through `tunnel`. With `starttls`, opens it in plain text, sends StartTLS, and on
// success starts TLS with request.tls (which must be enabled); otherwise request.tls applies from the
// first byte (LDAPS) if enabled. The StartTLS exchange is allowed request.connect_timeout. Early data
// goes with the open, or after StartTLS succeeded, never in plain text before it.
asio::awaitable<OpenResult> open_directory(Tunnel& tunnel, OpenRequest request, bool starttls,
                                           std::size_t max_message_size);

}  // namespace gw::ldap
