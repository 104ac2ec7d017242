// gw::Watchdog: expires once, only while watching, never after stop() or destruction.
#include "gateway/plugin/watchdog.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

using namespace std::chrono_literals;

namespace {

// Runs `context` until `done` holds (one handler at a time).
template <typename Condition>
void run_until(boost::asio::io_context& context, Condition done) {
  while (!done() && context.run_one() > 0) {
  }
}

// Runs `context` for `duration` of its own time: other handlers included.
void run_for(boost::asio::io_context& context, std::chrono::milliseconds duration) {
  bool over = false;
  boost::asio::steady_timer timer(context, duration);
  timer.async_wait([&over](const boost::system::error_code&) { over = true; });
  run_until(context, [&over] { return over; });
}

TEST(Watchdog, ExpiresOnceWhenNothingHappens) {
  boost::asio::io_context context;
  int expiries = 0;
  gw::Watchdog watchdog(context.get_executor(), 20ms, [&expiries] { ++expiries; });
  run_until(context, [&] { return expiries > 0; });
  EXPECT_TRUE(watchdog.expired());
  run_for(context, 100ms);
  EXPECT_EQ(expiries, 1);
}

TEST(Watchdog, DoesNotExpireWhilePausedAndCountsFromResume) {
  boost::asio::io_context context;
  int expiries = 0;
  gw::Watchdog watchdog(
      context.get_executor(), 20ms, [&expiries] { ++expiries; }, false);
  run_for(context, 100ms);
  EXPECT_EQ(expiries, 0);
  EXPECT_FALSE(watchdog.expired());
  watchdog.resume();
  watchdog.pause();
  run_for(context, 100ms);
  EXPECT_EQ(expiries, 0);
  watchdog.resume();
  run_until(context, [&] { return expiries > 0; });
  EXPECT_TRUE(watchdog.expired());
}

TEST(Watchdog, StoppedOrDestroyedNeverRunsItsAction) {
  boost::asio::io_context context;
  int expiries = 0;
  gw::Watchdog stopped(context.get_executor(), 20ms, [&expiries] { ++expiries; });
  stopped.stop();
  {
    gw::Watchdog destroyed(context.get_executor(), 20ms, [&expiries] { ++expiries; });
  }
  run_for(context, 100ms);
  EXPECT_EQ(expiries, 0);
  EXPECT_FALSE(stopped.expired());
}

TEST(Watchdog, ZeroTimeoutNeverExpires) {
  boost::asio::io_context context;
  int expiries = 0;
  gw::Watchdog watchdog(context.get_executor(), 0ms, [&expiries] { ++expiries; });
  watchdog.touch();
  run_for(context, 50ms);
  EXPECT_EQ(expiries, 0);
  EXPECT_FALSE(watchdog.expired());
}

}  // namespace
