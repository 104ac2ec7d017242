// gatewayd as a child process of the test: a configuration written into a fresh directory, the
// process started on it, its log lines and audit records readable while it runs.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "support/child_process.hpp"
#include "support/record.hpp"
#include "support/temp_dir.hpp"

namespace gw::e2e {

// The gatewayd binary under test.
std::string gatewayd_path();

// One gatewayd command run to completion (`status` is empty if it did not end before the deadline).
struct CommandResult {
  std::optional<ExitStatus> status;
  std::string out;
  std::string err;
};
// Any program run to completion, and gatewayd with the given arguments.
CommandResult run_program(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = kGuard);
CommandResult run_gatewayd(const std::vector<std::string>& args, std::chrono::milliseconds timeout = kGuard);

struct DestinationSpec {
  std::string name = "demo";
  std::string address{};  // the target, HOST:PORT
  std::string route_type = "tcp";
  std::string listen = "127.0.0.1:0";
  std::string limits{};  // YAML flow mapping such as "{max_connections: 2}"; empty: none
  std::string tls{};     // YAML flow mapping such as "{enabled: true, verify: false}"; empty: none
};

// A configuration file. Defaults suit most tests: audit level all into DIR/audit.log, an admin
// listener on an ephemeral port, a drain timeout well below the tests' guard.
struct GatewayConfig {
  std::string log_format = "text";
  std::string log_level = "info";
  std::string audit_level = "all";
  bool audit_to_file = true;
  bool admin = true;
  std::string drain_timeout = "10s";
  std::string limits;  // YAML flow mapping; empty: defaults
  std::vector<DestinationSpec> destinations;

  std::string yaml() const;
};

using RecordMatcher = std::function<bool(const Record&)>;

// Matches log records of `event` whose fields have the given values.
RecordMatcher log_event(std::string event,
                        std::initializer_list<std::pair<std::string, std::string>> fields = {});

class GatewayProcess {
 public:
  static constexpr const char* kConfigName = "gateway.yaml";
  static constexpr const char* kAuditName = "audit.log";

  // Writes the configuration to DIR/gateway.yaml and starts `gatewayd run --config DIR/gateway.yaml`,
  // in a fresh directory DIR that goes away with this object.
  explicit GatewayProcess(const GatewayConfig& config);
  explicit GatewayProcess(const std::string& config_yaml);
  // The same in a directory the caller owns (created if missing), for configurations that name files
  // kept next to them, such as certificates. The directory is left in place.
  GatewayProcess(const std::filesystem::path& dir, const std::string& config_yaml);
  // Kills the process if it still runs; prints its output when the test has failed.
  ~GatewayProcess();
  GatewayProcess(const GatewayProcess&) = delete;
  GatewayProcess& operator=(const GatewayProcess&) = delete;

  // Waits for `event=ready` and takes the actual addresses from the `event=listening` records. Fails
  // unless every destination the ready record counts has its entry point listening.
  ::testing::AssertionResult wait_ready(std::chrono::milliseconds timeout = kGuard);
  // The entry point port of `destination` (after wait_ready).
  std::uint16_t port(const std::string& destination = "demo") const;
  // The admin listener's port (after wait_ready, with GatewayConfig::admin).
  std::uint16_t admin_port() const;
  // The port of the `event=listening kind=KIND` record, e.g. "tunnel" or "socks5" (after wait_ready).
  std::uint16_t listener_port(const std::string& kind) const;
  std::uint16_t tunnel_port() const { return listener_port("tunnel"); }
  std::uint16_t socks_port() const { return listener_port("socks5"); }

  // Starts gatewayd again on the same configuration file, killing the running process first if it has
  // not exited. Log records and waits then refer to the new process; call wait_ready() again. The
  // earlier runs' output is still printed when the test fails.
  void restart();

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path config_file() const { return dir() / kConfigName; }
  ChildProcess& process() { return *process_; }

  // The log (stderr) lines read as records; lines that are not records are left out.
  std::vector<Record> log_records() const;
  // A position in the output so far: waits given it as `from` only see records logged after it.
  std::size_t log_mark() const;
  std::optional<Record> wait_for_log(const RecordMatcher& match, std::chrono::milliseconds timeout = kGuard,
                                     std::size_t from = 0);
  // Waits until `count` records logged from `from` on match; true if they did before the deadline.
  bool wait_for_log_count(const RecordMatcher& match, std::size_t count,
                          std::chrono::milliseconds timeout = kGuard, std::size_t from = 0);
  // The records logged from `from` on that match.
  std::size_t count_log(const RecordMatcher& match, std::size_t from = 0) const;

  // The records in DIR/audit.log so far (one JSON object per line). Lines that do not parse are
  // returned with no fields, so that a test can notice them.
  std::vector<Record> audit_records() const;
  // Waits until at least `count` audit records match; returns the matching ones (empty on timeout).
  std::vector<Record> wait_for_audit(const RecordMatcher& match, std::size_t count = 1,
                                     std::chrono::milliseconds timeout = kGuard);

  void terminate() { process_->terminate(); }
  void kill() { process_->kill(); }
  std::optional<ExitStatus> wait_for_exit(std::chrono::milliseconds timeout = kGuard) {
    return process_->wait_for_exit(timeout);
  }

 private:
  void start();

  std::optional<TempDir> own_dir_;
  std::filesystem::path dir_;
  std::unique_ptr<ChildProcess> process_;
  std::string earlier_output_;  // of the runs before restart()
  std::map<std::string, std::uint16_t> entry_ports_;
  std::map<std::string, std::uint16_t> listener_ports_;  // by kind
};

// Port of an address as logged: "127.0.0.1:41234" or "[::1]:41234".
std::optional<std::uint16_t> port_of(const std::string& address);

}  // namespace gw::e2e
