// A gw::Stream over bytes in memory, for tests of code that reads and writes streams: it hands out the
// pieces it was given, one per read_some (a piece larger than the caller's buffer in parts), then the
// end of the stream, and collects what is written.
#pragma once

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <deque>
#include <stdexcept>
#include <string>
#include <vector>

#include "gateway/plugin/stream.hpp"
#include "gateway/plugin/tunnel.hpp"

namespace gw::test {

class PieceStream final : public Stream {
 public:
  PieceStream(asio::io_context& context, std::vector<std::string> pieces)
      : executor_(context.get_executor()), pieces_(pieces.begin(), pieces.end()) {}

  asio::any_io_executor executor() const override { return executor_; }
  asio::awaitable<IoResult> read_some(asio::mutable_buffer buffer) override {
    IoResult r;
    if (closed) {
      r.error = asio::error::operation_aborted;
      co_return r;
    }
    if (pieces_.empty()) {
      // A reader that ignores the end of the stream would spin here: fail instead of hanging.
      if (++reads_after_end > 1000) throw std::runtime_error("read again and again after the end of stream");
      r.error = asio::error::eof;
      co_return r;
    }
    std::string& piece = pieces_.front();
    r.bytes = std::min(buffer.size(), piece.size());
    std::copy_n(piece.begin(), r.bytes, static_cast<char*>(buffer.data()));
    piece.erase(0, r.bytes);
    if (piece.empty()) pieces_.pop_front();
    delivered += r.bytes;
    co_return r;
  }
  asio::awaitable<IoResult> write(asio::const_buffer buffer) override {
    written.append(static_cast<const char*>(buffer.data()), buffer.size());
    ++writes;
    co_return IoResult{{}, buffer.size()};
  }
  asio::awaitable<error_code> shutdown_write() override {
    write_shut = true;
    co_return error_code{};
  }
  void close() noexcept override { closed = true; }

  std::string written;
  std::size_t writes = 0;
  std::size_t delivered = 0;
  std::size_t reads_after_end = 0;
  bool write_shut = false;
  bool closed = false;

 private:
  asio::any_io_executor executor_;
  std::deque<std::string> pieces_;
};

// A stream the test keeps: code that closes and destroys the streams a tunnel opened for it leaves
// the PieceStream, and what was written to it, to the test.
class BorrowedStream final : public Stream {
 public:
  explicit BorrowedStream(Stream& inner) : inner_(inner) {}
  asio::any_io_executor executor() const override { return inner_.executor(); }
  asio::awaitable<IoResult> read_some(asio::mutable_buffer buffer) override {
    return inner_.read_some(buffer);
  }
  asio::awaitable<IoResult> write(asio::const_buffer buffer) override { return inner_.write(buffer); }
  asio::awaitable<error_code> shutdown_write() override { return inner_.shutdown_write(); }
  void close() noexcept override { inner_.close(); }

 private:
  Stream& inner_;
};

// A tunnel whose first open() reaches `target` (early data written to it first, as a tunnel sends it
// with the open); later opens are refused.
class OneStreamTunnel final : public Tunnel {
 public:
  explicit OneStreamTunnel(PieceStream* target) : target_(target) {}
  asio::awaitable<OpenResult> open(const OpenRequest& request) override {
    OpenResult result;
    if (!target_ || opened_) {
      result.error = make_error_code(TunnelErrc::refused);
      result.reason = "no target to open";
      co_return result;
    }
    opened_ = true;
    if (request.early_data.size() > 0) {
      target_->written.append(static_cast<const char*>(request.early_data.data()), request.early_data.size());
    }
    result.stream = std::make_unique<BorrowedStream>(*target_);
    co_return result;
  }

 private:
  PieceStream* target_;
  bool opened_ = false;
};

}  // namespace gw::test
