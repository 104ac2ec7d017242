// Audit records: at level all, one access record per connection with the bytes moved each way; at
// level security, none.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "support/checks.hpp"
#include "support/client.hpp"
#include "support/digest.hpp"
#include "support/gateway_process.hpp"
#include "support/peers.hpp"

namespace gw::e2e {
namespace {

// Reads the request to its end, then answers with 2 * size + 7 bytes and closes.
ScriptedServer::Script asymmetric_answer() {
  return [](tcp::socket socket) -> asio::awaitable<void> {
    std::string request = co_await read_to_eof(socket);
    co_await write_all(socket, std::string(2 * request.size() + 7, 'a'));
    socket.close();
  };
}

bool is_access_record(const Record& record) {
  return record.get("class") == "access" && record.get("event") == "tcp.connection";
}

TEST(Audit, LevelAllWritesOneAccessRecordPerConnectionWithBytes) {
  ScriptedServer target(asymmetric_answer());
  GatewayConfig config;
  config.audit_level = "all";
  config.destinations.push_back({.name = "audited", .address = target.address()});
  GatewayProcess gateway(config);
  ASSERT_TRUE(gateway.wait_ready());

  struct Expected {
    std::size_t up;
    std::size_t down;
  };
  std::map<std::string, Expected> by_client;  // client address -> bytes
  for (std::size_t size : {1000u, 12345u, 0u}) {
    TcpClient client(gateway.port("audited"));
    client.send(RandomBytes(size).next(size));
    client.shutdown_write();
    Received answer = client.receive_all();
    ASSERT_EQ(answer.end, End::eof);
    ASSERT_EQ(answer.data.size(), 2 * size + 7);
    by_client[client.local_address()] = {size, 2 * size + 7};
  }

  // All three connections have ended on the client side; stopping the gateway makes the file final.
  ASSERT_EQ(gateway.wait_for_audit(is_access_record, 3).size(), 3u);
  gateway.terminate();
  ASSERT_TRUE(gateway.wait_for_exit());

  auto records = gateway.audit_records();
  std::size_t access = 0;
  std::set<std::string> request_ids;
  for (const auto& record : records) {
    ASSERT_FALSE(record.fields.empty()) << "not a flat JSON object: " << record.line;
    if (!is_access_record(record)) continue;
    ++access;
    SCOPED_TRACE(record.line);
    EXPECT_EQ(record.get("destination"), "audited");
    EXPECT_EQ(record.get("outcome"), "ok");
    EXPECT_EQ(record.get("reason"), "");
    EXPECT_EQ(record.get("target"), target.address());
    EXPECT_NE(record.get("ts"), "");
    EXPECT_TRUE(record.integer("duration_ms").has_value());
    request_ids.insert(record.get("request_id"));
    auto expected = by_client.find(record.get("client"));
    ASSERT_NE(expected, by_client.end()) << "record for an unknown client";
    EXPECT_EQ(record.integer("bytes_up"), static_cast<std::int64_t>(expected->second.up));
    EXPECT_EQ(record.integer("bytes_down"), static_cast<std::int64_t>(expected->second.down));
    by_client.erase(expected);
  }
  EXPECT_EQ(access, 3u);
  EXPECT_TRUE(by_client.empty()) << by_client.size() << " connections without a record";
  EXPECT_EQ(request_ids.size(), 3u) << "request ids are not distinct";
  EXPECT_EQ(request_ids.count(""), 0u) << "a record without request id";
}

TEST(Audit, LevelSecurityWritesNoAccessRecords) {
  ScriptedServer target(asymmetric_answer());
  GatewayConfig config;
  config.audit_level = "security";
  config.destinations.push_back({.name = "quiet", .address = target.address()});
  GatewayProcess gateway(config);
  ASSERT_TRUE(gateway.wait_ready());

  {
    TcpClient client(gateway.port("quiet"));
    client.send("hello");
    client.shutdown_write();
    Received answer = client.receive_all();
    ASSERT_EQ(answer.end, End::eof);
    EXPECT_EQ(answer.data.size(), 17u);
  }
  // Everything the gateway would write about that connection is written by the time it has exited.
  gateway.terminate();
  auto status = gateway.wait_for_exit();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->success()) << *status;

  for (const auto& record : gateway.audit_records()) {
    EXPECT_NE(record.get("class"), "access") << record.line;
  }
  for (const auto& record : gateway.log_records()) {
    if (record.get("event") == "audit") {
      EXPECT_NE(record.get("class"), "access") << record.line;
    }
  }
}

TEST(Audit, TheConfigurationInForceIsASecurityRecord) {
  GatewayConfig config;
  config.audit_level = "security";
  config.destinations.push_back({.name = "audited", .address = "127.0.0.1:9"});
  GatewayProcess gateway(config);
  ASSERT_TRUE(gateway.wait_ready());
  auto records = gateway.wait_for_audit([](const Record& r) { return r.get("event") == "config.loaded"; });
  ASSERT_EQ(records.size(), 1u);
  const Record& record = records.front();
  EXPECT_EQ(record.get("class"), "security");
  EXPECT_EQ(record.get("role"), "edge");
  EXPECT_EQ(record.integer("destinations"), 1);
  EXPECT_EQ(record.integer("systems"), 0);
  EXPECT_EQ(record.get("file"), gateway.config_file().string());
  EXPECT_EQ(record.get("sha256"), sha256_hex(read_file(gateway.config_file())));
}

}  // namespace
}  // namespace gw::e2e
