// PrefixedStream: a stream whose first bytes come from a buffer. An entry point that read past what
// it needed (a SOCKS5 client's pipelined data, an HTTP proxy request it inspected) hands the route
// handler the client stream with those bytes put back in front, so none are lost.
#pragma once

#include <string>
#include <utility>

#include "gateway/plugin/stream.hpp"

namespace gw::net {

class PrefixedStream final : public Stream {
 public:
  PrefixedStream(Stream& inner, std::string prefix) : inner_(inner), prefix_(std::move(prefix)) {}
  asio::any_io_executor executor() const override { return inner_.executor(); }
  asio::awaitable<IoResult> read_some(asio::mutable_buffer buffer) override {
    if (offset_ < prefix_.size()) {
      const std::size_t n = asio::buffer_copy(buffer, asio::buffer(prefix_) + offset_);
      offset_ += n;
      bytes_read_ += n;
      co_return IoResult{{}, n};
    }
    IoResult result = co_await inner_.read_some(buffer);
    bytes_read_ += result.bytes;
    co_return result;
  }
  std::size_t read_available(asio::mutable_buffer buffer) override {
    std::size_t n = 0;
    if (offset_ < prefix_.size()) {
      n = asio::buffer_copy(buffer, asio::buffer(prefix_) + offset_);
      offset_ += n;
      bytes_read_ += n;
    }
    const std::size_t more = inner_.read_available(buffer + n);
    bytes_read_ += more;
    return n + more;
  }
  asio::awaitable<IoResult> write(asio::const_buffer buffer) override {
    IoResult result = co_await inner_.write(buffer);
    bytes_written_ += result.bytes;
    co_return result;
  }
  asio::awaitable<error_code> shutdown_write() override { return inner_.shutdown_write(); }
  void close() noexcept override { inner_.close(); }
  void set_no_delay(bool on) noexcept override { inner_.set_no_delay(on); }

 private:
  void describe(StreamInfo& info) const override { info = inner_.info(); }

  Stream& inner_;
  std::string prefix_;
  std::size_t offset_ = 0;
};

}  // namespace gw::net
