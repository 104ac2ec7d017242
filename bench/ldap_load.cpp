// gateway_bench_ldap_load: measures LDAP searches per second and their latency.
//
//   gateway_bench_ldap_load --url URL --base DN --filter F [--connections N] [--duration S]
//                           [--bind-dn DN --password PW] [--bind simple|anonymous|none]
//                           [--scope sub|one|base] [--attrs A,B,...] [--keys K]
//       N threads (default 16), each with one LDAPv3 connection of its own (libldap, synchronous API):
//       connect and bind once (simple with --bind-dn; otherwise anonymous; "--bind none" sends no bind
//       at all), then, once every connection is ready, search for S seconds (default 10): one
//       ldap_search_ext_s after the other. A search counts when its result is success and it returned
//       at least one entry; anything else is an error. "{n}" in the filter becomes a number from 0 to
//       K-1 (default 1), a different one from search to search, e.g. "(uid=user{n})" --keys 1000.
//       A connection that fails is opened (and bound) again. Prints one logfmt line:
//         searches=... seconds=... rate=... p50_us=... p90_us=... p99_us=... max_us=... errors=...
//         entries=... connections=...
//       where the latency of a search runs from the request to the last result message, and error
//       kinds with their counts on stderr. Exit status 0 when at least one search succeeded.
//
// The tool sets LDAPNOINIT=1 for itself: ldap.conf and LDAP* variables do not change what it sends.
#include <ldap.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli.hpp"
#include "report.hpp"

using Clock = std::chrono::steady_clock;

namespace bench {
const char* const kToolName = "gateway_bench_ldap_load";
const char* const kUsage =
    "usage: gateway_bench_ldap_load --url URL --base DN --filter F [--connections N] [--duration S]\n"
    "                               [--bind-dn DN --password PW] [--bind simple|anonymous|none]\n"
    "                               [--scope sub|one|base] [--attrs A,B,...] [--keys K]\n";

}  // namespace bench

namespace {

using bench::parse_number;
using bench::usage;

struct Options {
  std::string url;
  unsigned connections = 16;
  double duration = 10;
  std::string bind = "";  // simple, anonymous or none; empty: simple with --bind-dn, else anonymous
  std::string bind_dn;
  std::string password;
  std::string base;
  bool base_given = false;
  std::string filter;
  int scope = LDAP_SCOPE_SUBTREE;
  std::vector<std::string> attrs;  // empty: all user attributes
  std::uint32_t keys = 1;
};

std::vector<std::string> split_commas(std::string_view text) {
  std::vector<std::string> parts;
  while (!text.empty()) {
    const auto comma = text.find(',');
    if (comma != 0) parts.emplace_back(text.substr(0, comma));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return parts;
}

Options parse_options(int argc, char** argv) {
  Options options;
  bench::for_each_option(argc, argv, 1, [&](std::string_view name, std::string_view value) {
    if (name == "--url") {
      options.url = value;
    } else if (name == "--connections") {
      options.connections = parse_number<unsigned>(name, value);
    } else if (name == "--duration") {
      options.duration = parse_number<double>(name, value);
    } else if (name == "--bind") {
      options.bind = value;
    } else if (name == "--bind-dn") {
      options.bind_dn = value;
    } else if (name == "--password") {
      options.password = value;
    } else if (name == "--base") {
      options.base = value;
      options.base_given = true;
    } else if (name == "--filter") {
      options.filter = value;
    } else if (name == "--scope") {
      if (value == "sub") {
        options.scope = LDAP_SCOPE_SUBTREE;
      } else if (value == "one") {
        options.scope = LDAP_SCOPE_ONELEVEL;
      } else if (value == "base") {
        options.scope = LDAP_SCOPE_BASE;
      } else {
        usage("--scope must be sub, one or base");
      }
    } else if (name == "--attrs") {
      options.attrs = split_commas(value);
    } else if (name == "--keys") {
      options.keys = parse_number<std::uint32_t>(name, value);
    } else {
      usage(("unknown option " + std::string(name)).c_str());
    }
  });
  if (options.url.empty()) usage("--url is required");
  if (!options.base_given) usage("--base is required");
  if (options.filter.empty()) usage("--filter is required");
  if (options.connections == 0) usage("--connections must be at least 1");
  if (options.duration <= 0) usage("--duration must be positive");
  if (options.keys == 0) usage("--keys must be at least 1");
  if (options.bind.empty()) options.bind = options.bind_dn.empty() ? "anonymous" : "simple";
  if (options.bind != "simple" && options.bind != "anonymous" && options.bind != "none") {
    usage("--bind must be simple, anonymous or none");
  }
  if (options.bind == "simple" && options.bind_dn.empty()) usage("--bind simple needs --bind-dn");
  return options;
}

struct Shared {
  const Options* options = nullptr;
  Clock::time_point deadline;
  std::mutex mutex;
  std::condition_variable changed;
  unsigned waiting = 0;  // connections set up (or given up on) before the start
  bool started = false;
  std::map<std::string, std::uint64_t> error_kinds;  // "step: message" -> occurrences

  void record_error(const std::string& what) {
    std::lock_guard lock(mutex);
    ++error_kinds[what];
  }
};

struct ThreadResult {
  std::vector<std::uint32_t> latencies_us;
  std::uint64_t errors = 0;
  std::uint64_t entries = 0;
};

// An LDAP connection, bound as the options say; null (error recorded) when that failed.
LDAP* open_connection(Shared& shared, ThreadResult& result) {
  const Options& options = *shared.options;
  LDAP* ld = nullptr;
  int rc = ldap_initialize(&ld, options.url.c_str());
  if (rc != LDAP_SUCCESS) {
    ++result.errors;
    shared.record_error(std::string("initialize: ") + ldap_err2string(rc));
    return nullptr;
  }
  const int version = LDAP_VERSION3;
  ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
  ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
  // Bounds on a stalled peer, so that the run ends close to its duration.
  timeval network_timeout{5, 0};
  ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &network_timeout);
  timeval call_timeout{10, 0};
  ldap_set_option(ld, LDAP_OPT_TIMEOUT, &call_timeout);
  if (options.bind == "none") {
    rc = ldap_connect(ld);  // connect now, not at the first search, so that its time is not measured
  } else {
    berval credentials{};
    if (options.bind == "simple") {
      credentials.bv_val = const_cast<char*>(options.password.c_str());
      credentials.bv_len = options.password.size();
    }
    const char* dn = options.bind == "simple" ? options.bind_dn.c_str() : "";
    rc = ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &credentials, nullptr, nullptr, nullptr);
  }
  if (rc != LDAP_SUCCESS) {
    ++result.errors;
    shared.record_error(std::string(options.bind == "none" ? "connect: " : "bind: ") + ldap_err2string(rc));
    ldap_unbind_ext_s(ld, nullptr, nullptr);
    return nullptr;
  }
  return ld;
}

// The filter with every "{n}" replaced by `key`.
std::string filter_for(const std::string& pattern, std::uint32_t key) {
  std::string filter;
  std::size_t from = 0;
  for (std::size_t at; (at = pattern.find("{n}", from)) != std::string::npos; from = at + 3) {
    filter.append(pattern, from, at - from);
    filter += std::to_string(key);
  }
  filter.append(pattern, from);
  return filter;
}

void connection_thread(Shared& shared, ThreadResult& result, unsigned index) {
  const Options& options = *shared.options;
  LDAP* ld = open_connection(shared, result);
  {
    std::unique_lock lock(shared.mutex);
    ++shared.waiting;
    shared.changed.notify_all();
    shared.changed.wait(lock, [&] { return shared.started; });
  }
  std::vector<char*> attrs;
  for (const auto& attr : options.attrs) attrs.push_back(const_cast<char*>(attr.c_str()));
  attrs.push_back(nullptr);
  const bool keyed = options.filter.find("{n}") != std::string::npos;
  // Connections start at different keys and step through them with a stride coprime to most counts.
  std::uint64_t key = index * 7919ull;
  while (Clock::now() < shared.deadline) {
    if (!ld) {
      ld = open_connection(shared, result);
      if (!ld) {
        // Back off a little so that a refusing or failing target is not hammered in a tight loop.
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
    }
    const std::string filter = keyed ? filter_for(options.filter, key++ % options.keys) : options.filter;
    LDAPMessage* response = nullptr;
    const auto start = Clock::now();
    const int rc = ldap_search_ext_s(ld, options.base.c_str(), options.scope, filter.c_str(),
                                     options.attrs.empty() ? nullptr : attrs.data(), 0, nullptr, nullptr,
                                     nullptr, LDAP_NO_LIMIT, &response);
    const auto elapsed = Clock::now() - start;
    const int entries = rc == LDAP_SUCCESS ? ldap_count_entries(ld, response) : 0;
    if (response) ldap_msgfree(response);
    if (rc != LDAP_SUCCESS || entries <= 0) {
      ++result.errors;
      shared.record_error(rc != LDAP_SUCCESS ? std::string("search: ") + ldap_err2string(rc)
                                             : std::string("search: no entries"));
      // The connection is gone (or going: LDAP_UNAVAILABLE is what a server's notice of disconnection
      // says): open another one.
      if (rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT || rc == LDAP_CONNECT_ERROR ||
          rc == LDAP_UNAVAILABLE) {
        ldap_unbind_ext_s(ld, nullptr, nullptr);
        ld = nullptr;
      }
      continue;
    }
    result.entries += static_cast<std::uint64_t>(entries);
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
    result.latencies_us.push_back(static_cast<std::uint32_t>(std::min<long long>(us, UINT32_MAX)));
  }
  if (ld) ldap_unbind_ext_s(ld, nullptr, nullptr);
}

int run(const Options& options) {
  Shared shared;
  shared.options = &options;
  std::vector<ThreadResult> results(options.connections);
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < options.connections; ++i) {
    results[i].latencies_us.reserve(1 << 16);
    threads.emplace_back([&, i] { connection_thread(shared, results[i], i); });
  }
  Clock::time_point start;
  {
    std::unique_lock lock(shared.mutex);
    shared.changed.wait(lock, [&] { return shared.waiting == options.connections; });
    start = Clock::now();
    shared.deadline =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.duration));
    shared.started = true;
    shared.changed.notify_all();
  }
  for (auto& thread : threads) thread.join();
  const auto end = Clock::now();

  std::uint64_t errors = 0;
  std::uint64_t entries = 0;
  for (const auto& result : results) {
    errors += result.errors;
    entries += result.entries;
  }
  const bench::LatencyReport latency = bench::latency_report(results);
  const double measured = std::chrono::duration<double>(end - start).count();
  const double rate = measured > 0 ? static_cast<double>(latency.count) / measured : 0;
  std::printf(
      "searches=%zu seconds=%.3f rate=%.1f p50_us=%u p90_us=%u p99_us=%u max_us=%u errors=%llu entries=%llu "
      "connections=%u\n",
      latency.count, measured, rate, latency.p50, latency.p90, latency.p99, latency.max,
      static_cast<unsigned long long>(errors), static_cast<unsigned long long>(entries), options.connections);
  bench::print_error_kinds(shared.error_kinds);
  std::fflush(stdout);
  return latency.count == 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    ::setenv("LDAPNOINIT", "1", 1);  // before libldap reads its configuration (at its first use)
    return run(parse_options(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gateway_bench_ldap_load: %s\n", e.what());
    return 1;
  }
}
