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

}  // namespace gw::e2e
