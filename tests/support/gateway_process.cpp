#include "support/gateway_process.hpp"

#include <charconv>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include "support/poll.hpp"

namespace gw::e2e {

std::string gatewayd_path() {
  return GW_GATEWAYD;
}

CommandResult run_gatewayd(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{gatewayd_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess process(argv);
  CommandResult result;
  result.status = process.wait_for_exit(timeout);
  result.out = process.text(Stream::out);
  result.err = process.text(Stream::err);
  return result;
}

std::string GatewayConfig::yaml() const {
  std::ostringstream out;
  out << "node:\n  drain_timeout: " << drain_timeout << "\n";
  out << "log:\n  level: " << log_level << "\n  format: " << log_format << "\n";
  out << "audit:\n  level: " << audit_level << "\n";
  if (audit_to_file) out << "  file: " << GatewayProcess::kAuditName << "\n";
  if (admin) out << "admin:\n  listen: 127.0.0.1:0\n";
  if (!limits.empty()) out << "limits: " << limits << "\n";
  out << "destinations:\n";
  for (const auto& d : destinations) {
    out << "  - name: " << d.name << "\n";
    out << "    route_type: " << d.route_type << "\n";
    out << "    address: " << d.address << "\n";
    out << "    entry_point:\n      listen: " << d.listen << "\n";
    if (!d.limits.empty()) out << "    limits: " << d.limits << "\n";
    if (!d.tls.empty()) out << "    tls: " << d.tls << "\n";
  }
  return out.str();
}

RecordMatcher log_event(std::string event,
                        std::initializer_list<std::pair<std::string, std::string>> fields) {
  std::vector<std::pair<std::string, std::string>> expected(fields);
  return [event = std::move(event), expected = std::move(expected)](const Record& record) {
    if (record.get("event") != event) return false;
    for (const auto& [key, value] : expected) {
      if (record.get(key) != value) return false;
    }
    return true;
  };
}

std::optional<std::uint16_t> port_of(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  std::uint16_t port = 0;
  const char* begin = address.data() + colon + 1;
  const char* end = address.data() + address.size();
  auto [ptr, ec] = std::from_chars(begin, end, port);
  if (ec != std::errc() || ptr != end || port == 0) return std::nullopt;
  return port;
}

GatewayProcess::GatewayProcess(const GatewayConfig& config) : GatewayProcess(config.yaml()) {}

GatewayProcess::GatewayProcess(const std::string& config_yaml) {
  dir_.write(kConfigName, config_yaml);
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{gatewayd_path(), "run", "--config", config_file().string()}, dir().string());
}

GatewayProcess::~GatewayProcess() {
  // GW_E2E_VERBOSE=1 prints the output of passing tests too.
  if (!::testing::Test::HasFailure() && !std::getenv("GW_E2E_VERBOSE")) return;
  std::cerr << "---- " << config_file().string() << "\n" << read_file(config_file());
  std::cerr << "---- gatewayd output\n" << process_->text();
  std::string audit = read_file(dir() / kAuditName);
  if (!audit.empty()) std::cerr << "---- " << kAuditName << "\n" << audit;
  std::cerr << "----\n";
}

::testing::AssertionResult GatewayProcess::wait_ready(std::chrono::milliseconds timeout) {
  auto ready = process_->wait_for_line(
      [](const std::string& line) {
        auto record = parse_log_line(line);
        return record && record->get("event") == "ready";
      },
      timeout);
  if (!ready) {
    return ::testing::AssertionFailure()
           << "gatewayd did not log event=ready; " << (process_->running() ? "still running" : "exited");
  }
  for (const auto& record : log_records()) {
    if (record.get("event") != "listening") continue;
    auto port = port_of(record.get("address"));
    if (!port) return ::testing::AssertionFailure() << "no port in listening record: " << record.line;
    if (record.get("kind") == "entry_point") {
      entry_ports_[record.get("destination")] = *port;
    } else if (record.get("kind") == "admin") {
      admin_port_ = *port;
    }
  }
  if (entry_ports_.empty()) return ::testing::AssertionFailure() << "no entry point listening record";
  return ::testing::AssertionSuccess();
}

std::uint16_t GatewayProcess::port(const std::string& destination) const {
  auto it = entry_ports_.find(destination);
  if (it == entry_ports_.end())
    throw std::runtime_error("no entry point logged for destination " + destination);
  return it->second;
}

std::uint16_t GatewayProcess::admin_port() const {
  if (!admin_port_) throw std::runtime_error("no admin listener logged");
  return *admin_port_;
}

std::vector<Record> GatewayProcess::log_records() const {
  std::vector<Record> records;
  for (const auto& line : process_->lines(Stream::err)) {
    if (auto record = parse_log_line(line)) records.push_back(std::move(*record));
  }
  return records;
}

std::optional<Record> GatewayProcess::wait_for_log(const RecordMatcher& match,
                                                   std::chrono::milliseconds timeout) {
  std::optional<Record> found;
  process_->wait_for_line(
      [&](const std::string& line) {
        auto record = parse_log_line(line);
        if (!record || !match(*record)) return false;
        found = std::move(record);
        return true;
      },
      timeout);
  return found;
}

std::vector<Record> GatewayProcess::audit_records() const {
  std::vector<Record> records;
  std::string content = read_file(dir() / kAuditName);
  // Only complete lines: the gateway may be writing the next record right now.
  std::size_t start = 0;
  std::size_t newline;
  while ((newline = content.find('\n', start)) != std::string::npos) {
    std::string line = content.substr(start, newline - start);
    start = newline + 1;
    auto record = parse_flat_json(line);
    records.push_back(record ? std::move(*record) : Record{line, {}});
  }
  return records;
}

std::vector<Record> GatewayProcess::wait_for_audit(const RecordMatcher& match, std::size_t count,
                                                   std::chrono::milliseconds timeout) {
  std::vector<Record> matching;
  bool found = poll_until(
      [&] {
        matching.clear();
        for (auto& record : audit_records()) {
          if (match(record)) matching.push_back(std::move(record));
        }
        return matching.size() >= count;
      },
      timeout);
  if (!found) matching.clear();
  return matching;
}

}  // namespace gw::e2e
