#include "support/checks.hpp"

#include "support/digest.hpp"

namespace gw::e2e {

::testing::AssertionResult echoes(TcpClient& client, std::string_view payload) {
  try {
    client.send(payload);
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << e.what();
  }
  Received back = client.receive_exact(payload.size());
  if (back.end != End::data) {
    return ::testing::AssertionFailure()
           << "received " << back.data.size() << " of " << payload.size() << " bytes, then " << back.end;
  }
  if (back.data != payload) return ::testing::AssertionFailure() << "the bytes received back differ";
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult closed_without_data(TcpClient& client) {
  Received received = client.receive_all();
  if (!is_closed(received.end)) {
    return ::testing::AssertionFailure() << "the connection was not closed: " << received.end;
  }
  if (!received.data.empty()) {
    return ::testing::AssertionFailure() << "received " << received.data.size() << " bytes before the close";
  }
  return ::testing::AssertionSuccess();
}

void expect_echoed_intact(const EchoTransfer::Result& result, EchoServer& echo, std::size_t size) {
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(result.sent, size);
  EXPECT_EQ(result.end, End::eof);
  EXPECT_EQ(result.received, size);
  auto finished = echo.wait_for_finished(1);
  ASSERT_EQ(finished.size(), 1u) << "the echo server did not see the end of the client's stream";
  // Client to echo server: what it received is what the client sent.
  EXPECT_EQ(finished[0].bytes, size);
  EXPECT_EQ(finished[0].received_sha256, result.sent_sha256);
  // Echo server to client: what the client received is what the server sent.
  EXPECT_EQ(result.received_sha256, finished[0].sent_sha256);
}

}  // namespace gw::e2e
