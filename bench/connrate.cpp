// gateway_bench_connrate: measures new TCP connections per second.
//
//   gateway_bench_connrate server --port P [--host H] [--threads T] [--seconds S]
//       Echo server: every connection gets back what it sends, until it closes. One io_context and
//       one SO_REUSEPORT acceptor per thread. Port 0 lets the kernel pick; the port is printed as
//       "listening HOST:PORT". Runs until SIGINT/SIGTERM, or for S seconds when given.
//
//   gateway_bench_connrate client --host H --port P [--concurrency C] [--seconds S] [--threads T]
//                                 [--size N] [--count N]
//       C loops (spread over T threads, one io_context each), each repeating: connect, write N bytes
//       (default 64), read the N echoed bytes, close. Stops after S seconds or N connections in all,
//       whichever comes first; a connection still open 2 s after that is counted as a timeout.
//       Prints one logfmt line:
//         connections=... seconds=... conn_per_sec=... p50_us=... p99_us=... max_us=... errors=...
//         timeouts=...
//       where the latencies are connect + exchange (from the start of connect to the last echoed byte).
//       Exit status 0 when at least one connection succeeded.
#include <utility>  // GCC 12 + Boost 1.74: boost/asio/awaitable.hpp needs std::exchange.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli.hpp"
#include "report.hpp"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace bench {
const char* const kToolName = "gateway_bench_connrate";
const char* const kUsage =
    "usage:\n"
    "  gateway_bench_connrate server --port P [--host H] [--threads T] [--seconds S]\n"
    "  gateway_bench_connrate client --host H --port P [--concurrency C] [--seconds S]\n"
    "                                [--threads T] [--size BYTES] [--count N]\n";

}  // namespace bench

namespace {

using bench::parse_number;
using bench::usage;

struct Options {
  std::string mode;
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  unsigned concurrency = 64;
  double seconds = 10;
  bool seconds_given = false;
  unsigned threads = 0;  // 0: mode default
  std::size_t size = 64;
  std::uint64_t count = 0;  // 0: no limit
};

Options parse_options(int argc, char** argv) {
  if (argc < 2) usage(nullptr);
  Options options;
  options.mode = argv[1];
  if (options.mode == "--help" || options.mode == "-h") usage(nullptr);
  if (options.mode != "server" && options.mode != "client") usage("mode must be server or client");
  bench::for_each_option(argc, argv, 2, [&](std::string_view name, std::string_view value) {
    if (name == "--host") {
      options.host = value;
    } else if (name == "--port") {
      options.port = parse_number<unsigned short>(name, value);
    } else if (name == "--concurrency") {
      options.concurrency = parse_number<unsigned>(name, value);
    } else if (name == "--seconds") {
      options.seconds = parse_number<double>(name, value);
      options.seconds_given = true;
    } else if (name == "--threads") {
      options.threads = parse_number<unsigned>(name, value);
    } else if (name == "--size") {
      options.size = parse_number<std::size_t>(name, value);
    } else if (name == "--count") {
      options.count = parse_number<std::uint64_t>(name, value);
    } else {
      usage(("unknown option " + std::string(name)).c_str());
    }
  });
  if (options.mode == "client" && options.port == 0) usage("client needs --port");
  if (options.concurrency == 0) usage("--concurrency must be at least 1");
  if (options.size == 0 || options.size > 65536) usage("--size must be 1..65536");
  if (options.seconds <= 0) usage("--seconds must be positive");
  return options;
}

// ---------------------------------------------------------------------------------------------------
// Server

asio::awaitable<void> echo(tcp::socket socket) {
  char data[4096];
  for (;;) {
    error_code ec;
    std::size_t n =
        co_await socket.async_read_some(asio::buffer(data), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    co_await asio::async_write(socket, asio::buffer(data, n), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
  }
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor) {
  for (;;) {
    error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) continue;  // e.g. EMFILE or a connection reset before accept: keep serving
    asio::co_spawn(acceptor.get_executor(), echo(std::move(socket)), asio::detached);
  }
}

int run_server(const Options& options) {
  const unsigned threads = options.threads ? options.threads : 2;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  tcp::endpoint endpoint(asio::ip::make_address(options.host), options.port);
  for (unsigned i = 0; i < threads; ++i) {
    auto& context = contexts.emplace_back(std::make_unique<asio::io_context>(1));
    auto& acceptor = acceptors.emplace_back(std::make_unique<tcp::acceptor>(*context));
    acceptor->open(endpoint.protocol());
    acceptor->set_option(tcp::acceptor::reuse_address(true));
    int on = 1;
    if (::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
      std::perror("setsockopt(SO_REUSEPORT)");
      return 1;
    }
    acceptor->bind(endpoint);
    acceptor->listen(4096);
    endpoint = acceptor->local_endpoint();  // the others join the port the first one got
  }
  std::printf("listening %s:%u threads=%u\n", endpoint.address().to_string().c_str(), endpoint.port(),
              threads);
  std::fflush(stdout);

  auto stop_all = [&] {
    for (auto& context : contexts) context->stop();
  };
  asio::io_context control(1);
  asio::signal_set signals(control, SIGINT, SIGTERM);
  signals.async_wait([&](error_code, int) { stop_all(); });
  asio::steady_timer limit(control);
  if (options.seconds_given) {
    limit.expires_after(
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.seconds)));
    limit.async_wait([&](error_code ec) {
      if (!ec) stop_all();
    });
  }

  std::vector<std::thread> workers;
  for (unsigned i = 0; i < threads; ++i) {
    asio::co_spawn(*contexts[i], accept_loop(*acceptors[i]), asio::detached);
    workers.emplace_back([&context = *contexts[i]] { context.run(); });
  }
  std::thread control_thread([&] { control.run(); });
  for (auto& worker : workers) worker.join();
  control.stop();
  control_thread.join();
  return 0;
}

// ---------------------------------------------------------------------------------------------------
// Client

struct SharedRun {
  tcp::endpoint target;
  std::size_t size;
  Clock::time_point deadline;
  std::uint64_t count_limit;
  std::atomic<std::uint64_t> started{0};
  std::mutex error_mutex;
  std::map<std::string, std::uint64_t> error_kinds;  // message -> occurrences

  // False once the time or the connection budget is used up.
  bool take_one() {
    if (Clock::now() >= deadline) return false;
    if (count_limit == 0) return true;
    return started.fetch_add(1, std::memory_order_relaxed) < count_limit;
  }
  void record_error(const std::string& what) {
    std::lock_guard lock(error_mutex);
    ++error_kinds[what];
  }
};

struct ThreadResult {
  std::vector<std::uint32_t> latencies_us;
  std::uint64_t errors = 0;
  unsigned loops_running = 0;
};

asio::awaitable<void> connection_loop(SharedRun& run, ThreadResult& result) {
  auto executor = co_await asio::this_coro::executor;
  std::vector<char> request(run.size, 'x');
  std::vector<char> reply(run.size);
  while (run.take_one()) {
    const auto start = Clock::now();
    tcp::socket socket(executor);
    error_code ec;
    const char* step = "connect";
    co_await socket.async_connect(run.target, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) {
      step = "write";
      co_await asio::async_write(socket, asio::buffer(request),
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
    if (!ec) {
      step = "read";
      co_await asio::async_read(socket, asio::buffer(reply), asio::redirect_error(asio::use_awaitable, ec));
    }
    if (!ec && std::memcmp(request.data(), reply.data(), run.size) != 0) {
      step = "compare";
      ec = asio::error::invalid_argument;
    }
    if (ec) {
      ++result.errors;
      run.record_error(std::string(step) + ": " + ec.message());
      error_code ignored;
      socket.close(ignored);
      // Back off a little so that a refused or failing target is not hammered in a tight loop.
      asio::steady_timer pause(executor, std::chrono::milliseconds(10));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
      continue;
    }
    const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
    result.latencies_us.push_back(static_cast<std::uint32_t>(std::min<long long>(elapsed, UINT32_MAX)));
    socket.close(ec);
  }
  --result.loops_running;
}

int run_client(const Options& options) {
  const unsigned threads = std::min(options.threads ? options.threads : 1, options.concurrency);
  const auto duration =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.seconds));
  const auto grace = std::chrono::seconds(2);

  SharedRun run;
  error_code resolve_error;
  asio::io_context resolver_context(1);
  tcp::resolver resolver(resolver_context);
  auto resolved = resolver.resolve(options.host, std::to_string(options.port), resolve_error);
  if (resolve_error || resolved.empty()) {
    std::fprintf(stderr, "gateway_bench_connrate: cannot resolve %s: %s\n", options.host.c_str(),
                 resolve_error.message().c_str());
    return 1;
  }
  run.target = resolved.begin()->endpoint();
  run.size = options.size;
  run.count_limit = options.count;

  std::vector<ThreadResult> results(threads);  // outlives the contexts and the coroutines they hold
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<std::unique_ptr<asio::steady_timer>> hard_stops;
  const auto start = Clock::now();
  run.deadline = start + duration;
  for (unsigned t = 0; t < threads; ++t) {
    auto& context = contexts.emplace_back(std::make_unique<asio::io_context>(1));
    const unsigned loops = options.concurrency / threads + (t < options.concurrency % threads ? 1 : 0);
    results[t].loops_running = loops;
    results[t].latencies_us.reserve(1 << 16);
    for (unsigned i = 0; i < loops; ++i)
      asio::co_spawn(*context, connection_loop(run, results[t]), asio::detached);
    // Connections still open after the grace period (a stalled target) are abandoned as timeouts.
    auto& hard_stop =
        hard_stops.emplace_back(std::make_unique<asio::steady_timer>(*context, run.deadline + grace));
    hard_stop->async_wait([&context = *context](error_code ec) {
      if (!ec) context.stop();
    });
  }
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      contexts[t]->run_one();  // at least one handler so that run() below does not return early
      while (results[t].loops_running > 0 && !contexts[t]->stopped()) contexts[t]->run_one();
      hard_stops[t]->cancel();
    });
  }
  for (auto& worker : workers) worker.join();
  const auto end = Clock::now();

  std::uint64_t errors = 0;
  std::uint64_t timeouts = 0;
  for (const auto& result : results) {
    errors += result.errors;
    timeouts += result.loops_running;
  }
  const bench::LatencyReport latency = bench::latency_report(results);
  // Rate over the measured interval: from the start to the deadline, or to the end when that came first
  // (count limit reached).
  const double measured = std::chrono::duration<double>(std::min(end, run.deadline) - start).count();
  const double rate = measured > 0 ? static_cast<double>(latency.count) / measured : 0;
  std::printf(
      "connections=%zu seconds=%.3f conn_per_sec=%.1f p50_us=%u p90_us=%u p99_us=%u max_us=%u errors=%llu "
      "timeouts=%llu concurrency=%u threads=%u\n",
      latency.count, measured, rate, latency.p50, latency.p90, latency.p99, latency.max,
      static_cast<unsigned long long>(errors), static_cast<unsigned long long>(timeouts), options.concurrency,
      threads);
  bench::print_error_kinds(run.error_kinds);
  std::fflush(stdout);
  return latency.count == 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Options options = parse_options(argc, argv);
    return options.mode == "server" ? run_server(options) : run_client(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gateway_bench_connrate: %s\n", e.what());
    return 1;
  }
}
