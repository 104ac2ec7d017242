#include "host/host_services.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/splice.hpp"

namespace gw::host {

HostServices::HostServices(LogSink& logger, MetricsRegistry& metrics, Audit& audit, unsigned blocking_threads)
    : logger_(logger), metrics_(metrics), audit_(audit), blocking_pool_(blocking_threads) {}

HostServices::~HostServices() {
  stop();
}

void HostServices::stop() {
  blocking_pool_.stop();
  blocking_pool_.join();
}

asio::awaitable<SpliceResult> HostServices::splice(Stream& a, Stream& b, const SpliceOptions& options) {
  return net::splice(a, b, options);
}

asio::awaitable<void> HostServices::run_blocking(std::function<void()> work) {
  std::exception_ptr error;
  co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
      [this, &work, &error](auto handler) {
        asio::post(blocking_pool_, [&work, &error, handler = std::move(handler)]() mutable {
          try {
            work();
          } catch (...) {
            error = std::current_exception();
          }
          // Back to the caller's executor.
          auto executor = asio::get_associated_executor(handler);
          asio::post(executor, std::move(handler));
        });
      },
      asio::use_awaitable);
  if (error) std::rethrow_exception(error);
}

}  // namespace gw::host
