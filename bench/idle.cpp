// gateway_bench_idle: opens many TCP connections through a proxy and holds them idle, so that the
// memory a proxy keeps per open connection can be read from its RSS.
//
//   gateway_bench_idle --host H --port P --count N [--concurrency C] [--size BYTES]
//                      [--timeout SECONDS]
//       Opens N connections to an echo server (gateway_bench_connrate server), at most C (default 256)
//       being set up at a time. Each one connects, writes BYTES (default 16) and reads them back: the
//       echo proves that the whole path to the server exists, not only the first hop (a proxy accepts
//       before it has reached the server). An attempt not done within the timeout (default 10 s)
//       fails. Then prints one logfmt line
//         established=... errors=... seconds=...
//       and holds every established connection open, sending nothing, until SIGINT or SIGTERM. Then it
//       closes them, prints "closed=N" and exits (status 0 when all N were established).
//
//       SIGUSR1 while holding: one more echo on every held connection, then a line
//         alive=... failed=...
//       which tells whether the connections measured were still usable.
//
// The tool raises its own RLIMIT_NOFILE soft limit to the hard limit; N + 16 descriptors are needed.
#include <utility>  // GCC 12 + Boost 1.74: boost/asio/awaitable.hpp needs std::exchange.

#include <sys/resource.h>

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
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "report.hpp"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace bench {
const char* const kToolName = "gateway_bench_idle";
const char* const kUsage =
    "usage: gateway_bench_idle --host H --port P --count N [--concurrency C] [--size BYTES]\n"
    "                          [--timeout SECONDS]\n";

}  // namespace bench

namespace {

using bench::parse_number;
using bench::usage;

struct Options {
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  std::uint64_t count = 0;
  unsigned concurrency = 256;
  std::size_t size = 16;
  double timeout = 10;
};

Options parse_options(int argc, char** argv) {
  Options options;
  bench::for_each_option(argc, argv, 1, [&](std::string_view name, std::string_view value) {
    if (name == "--host") {
      options.host = value;
    } else if (name == "--port") {
      options.port = parse_number<unsigned short>(name, value);
    } else if (name == "--count") {
      options.count = parse_number<std::uint64_t>(name, value);
    } else if (name == "--concurrency") {
      options.concurrency = parse_number<unsigned>(name, value);
    } else if (name == "--size") {
      options.size = parse_number<std::size_t>(name, value);
    } else if (name == "--timeout") {
      options.timeout = parse_number<double>(name, value);
    } else {
      usage(("unknown option " + std::string(name)).c_str());
    }
  });
  if (options.port == 0) usage("--port is required");
  if (options.count == 0) usage("--count must be at least 1");
  if (options.concurrency == 0) usage("--concurrency must be at least 1");
  if (options.size == 0 || options.size > 65536) usage("--size must be 1..65536");
  if (options.timeout <= 0) usage("--timeout must be positive");
  return options;
}

struct Run {
  explicit Run(const Options& o) : options(o), payload(o.size, 'i') {}
  const Options& options;
  tcp::endpoint target;
  std::vector<char> payload;
  std::uint64_t attempts = 0;  // started so far
  std::vector<std::shared_ptr<tcp::socket>> held;
  std::uint64_t errors = 0;
  std::map<std::string, std::uint64_t> error_kinds;  // "step: message" -> occurrences

  Clock::duration timeout() const {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.timeout));
  }
  void record_error(const std::string& what) {
    ++errors;
    ++error_kinds[what];
  }
};

// One echo of the payload on the socket, which is closed when the timeout expires first (which makes
// the pending operation fail). Empty on success, else "step: message".
asio::awaitable<std::string> echo_once(Run& run, const std::shared_ptr<tcp::socket>& socket, bool connect) {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer guard(executor, run.timeout());
  // Shared with the guard's handler, which may run after this coroutine has finished.
  struct Flags {
    bool done = false;
    bool expired = false;
  };
  auto flags = std::make_shared<Flags>();
  guard.async_wait([socket, flags](error_code ec) {
    if (ec || flags->done) return;
    flags->expired = true;
    error_code ignored;
    socket->close(ignored);
  });
  error_code ec;
  const char* step = "connect";
  if (connect) co_await socket->async_connect(run.target, asio::redirect_error(asio::use_awaitable, ec));
  std::vector<char> reply(run.payload.size());
  if (!ec) {
    step = "write";
    co_await asio::async_write(*socket, asio::buffer(run.payload),
                               asio::redirect_error(asio::use_awaitable, ec));
  }
  if (!ec) {
    step = "read";
    co_await asio::async_read(*socket, asio::buffer(reply), asio::redirect_error(asio::use_awaitable, ec));
  }
  if (!ec && reply != run.payload) {
    step = "compare";
    ec = asio::error::invalid_argument;
  }
  flags->done = true;
  guard.cancel();
  if (flags->expired) co_return std::string(step) + ": timed out";
  if (ec) co_return std::string(step) + ": " + ec.message();
  co_return std::string();
}

asio::awaitable<void> opener(Run& run, unsigned& running) {
  auto executor = co_await asio::this_coro::executor;
  while (run.attempts < run.options.count) {
    ++run.attempts;
    auto socket = std::make_shared<tcp::socket>(executor);
    std::string failure = co_await echo_once(run, socket, true);
    if (failure.empty()) {
      run.held.push_back(std::move(socket));
    } else {
      run.record_error(failure);
      error_code ignored;
      socket->close(ignored);
    }
  }
  --running;
}

asio::awaitable<void> verify_range(Run& run, std::size_t first, std::size_t step, std::uint64_t& alive,
                                   std::uint64_t& failed, unsigned& running) {
  for (std::size_t i = first; i < run.held.size(); i += step) {
    std::string failure = co_await echo_once(run, run.held[i], false);
    if (failure.empty()) {
      ++alive;
    } else {
      ++failed;
      ++run.error_kinds["verify " + failure];
    }
  }
  --running;
}

void raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int run_idle(const Options& options) {
  raise_descriptor_limit();
  asio::io_context context(1);
  Run run(options);
  {
    error_code ec;
    tcp::resolver resolver(context);
    auto resolved = resolver.resolve(options.host, std::to_string(options.port), ec);
    if (ec || resolved.empty()) {
      std::fprintf(stderr, "gateway_bench_idle: cannot resolve %s: %s\n", options.host.c_str(),
                   ec.message().c_str());
      return 1;
    }
    run.target = resolved.begin()->endpoint();
  }
  run.held.reserve(options.count);

  const auto start = Clock::now();
  unsigned running = static_cast<unsigned>(std::min<std::uint64_t>(options.concurrency, options.count));
  const unsigned openers = running;
  for (unsigned i = 0; i < openers; ++i) asio::co_spawn(context, opener(run, running), asio::detached);
  while (running > 0 && context.run_one() > 0) {
  }
  // Installed before the line below, which tells the driver that it may send SIGUSR1 (whose default
  // action would end the process). Before this point SIGTERM ends the process by default.
  asio::signal_set signals(context, SIGINT, SIGTERM, SIGUSR1);
  std::printf("established=%zu errors=%llu seconds=%.3f\n", run.held.size(),
              static_cast<unsigned long long>(run.errors),
              std::chrono::duration<double>(Clock::now() - start).count());
  std::fflush(stdout);
  bench::print_error_kinds(run.error_kinds);
  std::fflush(stderr);

  bool stop = false;
  std::function<void(error_code, int)> on_signal = [&](error_code ec, int number) {
    if (ec) return;
    if (number != SIGUSR1) {
      stop = true;
      return;
    }
    run.error_kinds.clear();
    auto alive = std::make_shared<std::uint64_t>(0);
    auto failed = std::make_shared<std::uint64_t>(0);
    auto checking = std::make_shared<unsigned>(0);
    const std::size_t lanes =
        std::max<std::size_t>(1, std::min<std::size_t>(options.concurrency, run.held.size()));
    *checking = static_cast<unsigned>(lanes);
    for (std::size_t lane = 0; lane < lanes; ++lane) {
      asio::co_spawn(context, verify_range(run, lane, lanes, *alive, *failed, *checking),
                     [&, alive, failed, checking](std::exception_ptr) {
                       if (*checking != 0) return;
                       std::printf("alive=%llu failed=%llu\n", static_cast<unsigned long long>(*alive),
                                   static_cast<unsigned long long>(*failed));
                       std::fflush(stdout);
                       bench::print_error_kinds(run.error_kinds);
                       std::fflush(stderr);
                     });
    }
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  while (!stop && context.run_one() > 0) {
  }
  std::size_t closed = 0;
  for (auto& socket : run.held) {
    error_code ignored;
    if (socket->is_open()) ++closed;
    socket->close(ignored);
  }
  std::printf("closed=%zu\n", closed);
  std::fflush(stdout);
  return run.held.size() == options.count ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run_idle(parse_options(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gateway_bench_idle: %s\n", e.what());
    return 1;
  }
}
