#include "support/gateway_process.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include "support/poll.hpp"

namespace gw::e2e {

std::string gatewayd_path() {
  return GW_GATEWAYD;
}

CommandResult run_program(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  ChildProcess process(argv);
  CommandResult result;
  result.status = process.wait_for_exit(timeout);
  result.out = process.text(Stream::out);
  result.err = process.text(Stream::err);
  return result;
}

CommandResult run_gatewayd(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{gatewayd_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv, timeout);
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

GatewayProcess::GatewayProcess(const std::string& config_yaml) : own_dir_(std::in_place) {
  dir_ = own_dir_->path();
  own_dir_->write(kConfigName, config_yaml);
  start();
}

GatewayProcess::GatewayProcess(const std::filesystem::path& dir, const std::string& config_yaml) : dir_(dir) {
  std::filesystem::create_directories(dir_);
  std::ofstream out(config_file(), std::ios::binary | std::ios::trunc);
  out << config_yaml;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + config_file().string());
  start();
}

void GatewayProcess::start() {
  entry_ports_.clear();
  listener_ports_.clear();
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{gatewayd_path(), "run", "--config", config_file().string()}, dir().string());
}

void GatewayProcess::restart() {
  process_->kill();
  process_->wait_for_exit();
  earlier_output_ += process_->text() + "---- gatewayd output after restart\n";
  start();
}

GatewayProcess::~GatewayProcess() {
  // GW_E2E_VERBOSE=1 prints the output of passing tests too.
  if (!::testing::Test::HasFailure() && !std::getenv("GW_E2E_VERBOSE")) return;
  std::cerr << "---- " << config_file().string() << "\n" << read_file(config_file());
  std::cerr << "---- gatewayd output\n" << earlier_output_ << process_->text();
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
  std::optional<std::int64_t> destinations;
  for (const auto& record : log_records()) {
    if (record.get("event") == "ready") destinations = record.integer("destinations");
    if (record.get("event") != "listening") continue;
    auto port = port_of(record.get("address"));
    if (!port) return ::testing::AssertionFailure() << "no port in listening record: " << record.line;
    if (record.get("kind") == "entry_point") {
      entry_ports_[record.get("destination")] = *port;
    } else {
      listener_ports_.emplace(record.get("kind"), *port);
    }
  }
  // A ready record that does not count destinations: at least one entry point is expected.
  const std::size_t expected = destinations ? static_cast<std::size_t>(*destinations) : 1;
  if (entry_ports_.size() < expected) {
    return ::testing::AssertionFailure()
           << entry_ports_.size() << " entry point listening records, expected " << expected;
  }
  return ::testing::AssertionSuccess();
}

std::uint16_t GatewayProcess::port(const std::string& destination) const {
  auto it = entry_ports_.find(destination);
  if (it == entry_ports_.end())
    throw std::runtime_error("no entry point logged for destination " + destination);
  return it->second;
}

std::uint16_t GatewayProcess::admin_port() const {
  return listener_port("admin");
}

std::uint16_t GatewayProcess::listener_port(const std::string& kind) const {
  auto it = listener_ports_.find(kind);
  if (it == listener_ports_.end()) throw std::runtime_error("no " + kind + " listener logged");
  return it->second;
}

std::vector<Record> GatewayProcess::log_records() const {
  std::vector<Record> records;
  for (const auto& line : process_->lines(Stream::err)) {
    if (auto record = parse_log_line(line)) records.push_back(std::move(*record));
  }
  return records;
}

std::size_t GatewayProcess::log_mark() const {
  return process_->output().size();
}

std::optional<Record> GatewayProcess::wait_for_log(const RecordMatcher& match,
                                                   std::chrono::milliseconds timeout, std::size_t from) {
  std::optional<Record> found;
  process_->wait_for_line(
      [&](const std::string& line) {
        auto record = parse_log_line(line);
        if (!record || !match(*record)) return false;
        found = std::move(record);
        return true;
      },
      timeout, from);
  return found;
}

bool GatewayProcess::wait_for_log_count(const RecordMatcher& match, std::size_t count,
                                        std::chrono::milliseconds timeout, std::size_t from) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t next = from;
  for (std::size_t seen = 0; seen < count; ++seen) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto index = process_->wait_for_line(
        [&](const std::string& line) {
          auto record = parse_log_line(line);
          return record && match(*record);
        },
        std::max(left, std::chrono::milliseconds(0)), next);
    if (!index) return false;
    next = *index + 1;
  }
  return true;
}

std::size_t GatewayProcess::count_log(const RecordMatcher& match, std::size_t from) const {
  auto output = process_->output();
  std::size_t count = 0;
  for (std::size_t i = from; i < output.size(); ++i) {
    if (output[i].stream != Stream::err) continue;
    auto record = parse_log_line(output[i].text);
    if (record && match(*record)) ++count;
  }
  return count;
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
