// MessageReader: whole LDAP messages out of a stream that delivers bytes in arbitrary pieces.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <deque>
#include <string>
#include <vector>

#include "ldap_codec.hpp"
#include "ldap_io.hpp"

namespace {

using namespace gw;
using namespace gw::ldap;

// Hands out the pieces it was given, one per read_some (a piece larger than the caller's buffer is
// handed out in parts), then end of stream.
class PieceStream final : public Stream {
 public:
  PieceStream(asio::io_context& context, std::vector<Bytes> pieces)
      : executor_(context.get_executor()), pieces_(pieces.begin(), pieces.end()) {}

  asio::any_io_executor executor() const override { return executor_; }
  asio::awaitable<IoResult> read_some(asio::mutable_buffer buffer) override {
    IoResult r;
    if (pieces_.empty()) {
      r.error = asio::error::eof;
      co_return r;
    }
    Bytes& piece = pieces_.front();
    r.bytes = std::min(buffer.size(), piece.size());
    std::copy_n(piece.begin(), r.bytes, static_cast<std::uint8_t*>(buffer.data()));
    piece.erase(piece.begin(), piece.begin() + static_cast<std::ptrdiff_t>(r.bytes));
    if (piece.empty()) pieces_.pop_front();
    delivered += r.bytes;
    co_return r;
  }
  asio::awaitable<IoResult> write(asio::const_buffer buffer) override {
    co_return IoResult{{}, buffer.size()};
  }
  asio::awaitable<error_code> shutdown_write() override { co_return error_code{}; }
  void close() noexcept override {}

  std::size_t delivered = 0;

 private:
  asio::any_io_executor executor_;
  std::deque<Bytes> pieces_;
};

struct Read {
  MessageReader::Status status;
  Bytes message;
  std::string error;
  bool ready_after = false;
};

// Reads until eof, a failure, or `limit` results.
std::vector<Read> read_all(std::vector<Bytes> pieces, std::size_t max_message_size,
                           std::size_t* delivered = nullptr, std::size_t limit = 1000) {
  asio::io_context context;
  PieceStream stream(context, std::move(pieces));
  std::vector<Read> out;
  Watchdog activity(stream.executor(), std::chrono::milliseconds(0), [] {});
  MessageReader reader(stream, max_message_size, activity);
  asio::co_spawn(
      context,
      [&]() -> asio::awaitable<void> {
        while (out.size() < limit) {
          MessageReader::Next next = co_await reader.next();
          out.push_back(
              {next.status, Bytes(next.message.begin(), next.message.end()), next.error, reader.ready()});
          if (next.status != MessageReader::Status::message) co_return;
        }
      },
      asio::detached);
  context.run();
  if (delivered) *delivered = stream.delivered;
  return out;
}

// A bind request whose DN is "cn=" and `dn_length` more characters.
Bytes bind_request(std::int32_t id, std::size_t dn_length) {
  return encode_simple_bind(id, "cn=" + std::string(dn_length, 'x'), "secret");
}

Bytes concat(const std::vector<Bytes>& parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::vector<Bytes> bytewise(const Bytes& all) {
  std::vector<Bytes> pieces;
  for (auto b : all) pieces.push_back(Bytes{b});
  return pieces;
}

TEST(LdapMessageReader, MessagesSplitAcrossReadsComeOutWhole) {
  const std::vector<Bytes> messages{bind_request(1, 10), bind_request(2, 300), bind_request(3, 0)};
  const auto reads = read_all(bytewise(concat(messages)), 1 << 20);
  ASSERT_EQ(reads.size(), 4u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(reads[i].status, MessageReader::Status::message);
    EXPECT_EQ(reads[i].message, messages[i]);
  }
  EXPECT_EQ(reads[3].status, MessageReader::Status::eof);
}

TEST(LdapMessageReader, SeveralMessagesInOneReadComeOutOneByOne) {
  const std::vector<Bytes> messages{bind_request(1, 5), bind_request(2, 6), bind_request(3, 7)};
  const auto reads = read_all({concat(messages)}, 1 << 20);
  ASSERT_EQ(reads.size(), 4u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(reads[i].message, messages[i]);
  // Answers can be gathered: the reader says when the next message is already there.
  EXPECT_TRUE(reads[0].ready_after);
  EXPECT_TRUE(reads[1].ready_after);
  EXPECT_FALSE(reads[2].ready_after);
}

TEST(LdapMessageReader, AMessageLargerThanTheFirstBufferGrowsItUpToTheLimit) {
  const Bytes big = bind_request(7, 200 * 1024);
  std::vector<Bytes> pieces;
  for (std::size_t at = 0; at < big.size(); at += 7000) {
    pieces.emplace_back(big.begin() + static_cast<std::ptrdiff_t>(at),
                        big.begin() + static_cast<std::ptrdiff_t>(std::min(big.size(), at + 7000)));
  }
  const auto reads = read_all(pieces, 256 * 1024);
  ASSERT_EQ(reads.size(), 2u);
  EXPECT_EQ(reads[0].status, MessageReader::Status::message);
  EXPECT_EQ(reads[0].message, big);
}

TEST(LdapMessageReader, AMessageBeyondTheLimitIsRefusedFromItsHeader) {
  const Bytes big = bind_request(7, 200 * 1024);
  std::size_t delivered = 0;
  const auto reads = read_all({big}, 64 * 1024, &delivered);
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_EQ(reads[0].status, MessageReader::Status::malformed);
  EXPECT_NE(reads[0].error.find("exceeds 65536"), std::string::npos) << reads[0].error;
  // It did not wait for (or buffer) the contents: one read of the first buffer at most.
  EXPECT_LE(delivered, 16u * 1024);
}

TEST(LdapMessageReader, EndOfStreamInsideAMessageIsMalformed) {
  Bytes cut = bind_request(1, 40);
  cut.resize(cut.size() - 3);
  const auto reads = read_all({bind_request(2, 1), cut}, 1 << 20);
  ASSERT_EQ(reads.size(), 2u);
  EXPECT_EQ(reads[0].status, MessageReader::Status::message);
  EXPECT_EQ(reads[1].status, MessageReader::Status::malformed);
  EXPECT_EQ(reads[1].error, "connection ended inside a message");
}

TEST(LdapMessageReader, GarbageIsMalformedAtOnce) {
  const auto reads = read_all({Bytes{0x31, 0x03, 0x02, 0x01, 0x01}}, 1 << 20);
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_EQ(reads[0].status, MessageReader::Status::malformed);
}

TEST(LdapMessageReader, EofAtAMessageBoundaryIsAnOrderlyEnd) {
  const auto reads = read_all({}, 1 << 20);
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_EQ(reads[0].status, MessageReader::Status::eof);
}

}  // namespace
