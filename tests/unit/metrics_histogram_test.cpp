#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "host/metrics.hpp"
#include "host/text_format.hpp"

using namespace gw;

namespace {

std::string prometheus_float(double value) {
  std::string out;
  host::append_prometheus_float(out, value);
  return out;
}

// Per-bucket counts (not cumulative) of a snapshot, the last one above the largest bound.
std::vector<std::uint64_t> bucket_counts(const Histogram& histogram) {
  const auto snap = histogram.snapshot();
  std::vector<std::uint64_t> counts;
  std::uint64_t previous = 0;
  for (std::size_t i = 0; i < histogram.upper_bounds().size(); ++i) {
    counts.push_back(snap.cumulative[i] - previous);
    previous = snap.cumulative[i];
  }
  counts.push_back(snap.count - previous);
  return counts;
}

}  // namespace

TEST(MetricsHistogram, ExpositionTextIsExact) {
  host::MetricsRegistry registry;
  const std::array<double, 3> bounds{0.005, 0.5, 1};
  auto& api = registry.histogram("http_request_duration_seconds", "Request durations.",
                                 {{"route", "api"}, {"method", "GET"}}, bounds);
  auto& odd = registry.histogram("http_request_duration_seconds", "Request durations.",
                                 {{"route", "q\"uote\\back\nline"}, {"method", "POST"}}, bounds);
  // Dyadic values, so the sum is exact.
  api.observe(0.00390625);
  api.observe(0.5);
  api.observe(0.75);
  api.observe(3.0);
  odd.observe(0.25);

  EXPECT_EQ(
      registry.render(),
      "# HELP http_request_duration_seconds Request durations.\n"
      "# TYPE http_request_duration_seconds histogram\n"
      "http_request_duration_seconds_bucket{method=\"GET\",route=\"api\",le=\"0.005\"} 1\n"
      "http_request_duration_seconds_bucket{method=\"GET\",route=\"api\",le=\"0.5\"} 2\n"
      "http_request_duration_seconds_bucket{method=\"GET\",route=\"api\",le=\"1\"} 3\n"
      "http_request_duration_seconds_bucket{method=\"GET\",route=\"api\",le=\"+Inf\"} 4\n"
      "http_request_duration_seconds_sum{method=\"GET\",route=\"api\"} 4.25390625\n"
      "http_request_duration_seconds_count{method=\"GET\",route=\"api\"} 4\n"
      "http_request_duration_seconds_bucket{method=\"POST\",route=\"q\\\"uote\\\\back\\nline\",le=\"0.005\"} "
      "0\n"
      "http_request_duration_seconds_bucket{method=\"POST\",route=\"q\\\"uote\\\\back\\nline\",le=\"0.5\"} "
      "1\n"
      "http_request_duration_seconds_bucket{method=\"POST\",route=\"q\\\"uote\\\\back\\nline\",le=\"1\"} 1\n"
      "http_request_duration_seconds_bucket{method=\"POST\",route=\"q\\\"uote\\\\back\\nline\",le=\"+Inf\"} "
      "1\n"
      "http_request_duration_seconds_sum{method=\"POST\",route=\"q\\\"uote\\\\back\\nline\"} 0.25\n"
      "http_request_duration_seconds_count{method=\"POST\",route=\"q\\\"uote\\\\back\\nline\"} 1\n");
}

TEST(MetricsHistogram, WithoutLabelsOnlyLeIsInBraces) {
  host::MetricsRegistry registry;
  const std::array<double, 1> bounds{2};
  registry.histogram("h", "help", {}, bounds).observe(1.0);
  EXPECT_EQ(registry.render(),
            "# HELP h help\n"
            "# TYPE h histogram\n"
            "h_bucket{le=\"2\"} 1\n"
            "h_bucket{le=\"+Inf\"} 1\n"
            "h_sum 1\n"
            "h_count 1\n");
}

TEST(MetricsHistogram, LatencyBoundsRenderAsShortestExactLeValues) {
  host::MetricsRegistry registry;
  registry.histogram("d_seconds", "help", {}, Histogram::kLatencyBounds);
  const auto text = registry.render();
  for (const char* le :
       {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}) {
    EXPECT_NE(text.find(std::string("d_seconds_bucket{le=\"") + le + "\"} 0\n"), std::string::npos)
        << le << "\n"
        << text;
  }
}

TEST(MetricsHistogram, PrometheusFloatsAreShortestExact) {
  EXPECT_EQ(prometheus_float(0.005), "0.005");
  EXPECT_EQ(prometheus_float(1), "1");
  EXPECT_EQ(prometheus_float(2.5), "2.5");
  EXPECT_EQ(prometheus_float(0), "0");
  EXPECT_EQ(prometheus_float(-0.25), "-0.25");
  EXPECT_EQ(prometheus_float(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(prometheus_float(1e-7), "1e-07");
  EXPECT_EQ(prometheus_float(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(prometheus_float(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(prometheus_float(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(prometheus_float(-std::numeric_limits<double>::denorm_min()), "-5e-324");
  EXPECT_EQ(prometheus_float(std::numeric_limits<double>::lowest()), "-1.7976931348623157e+308");
}

TEST(MetricsHistogram, BoundsAreInclusive) {
  const std::array<double, 2> bounds{1, 2};
  Histogram histogram(bounds);
  histogram.observe(1.0);                                      // le="1"
  histogram.observe(std::nextafter(1.0, 2.0));                 // le="2"
  histogram.observe(2.0);                                      // le="2"
  histogram.observe(std::nextafter(2.0, 3.0));                 // +Inf only
  histogram.observe(-5.0);                                     // below the first bound: le="1"
  histogram.observe(std::numeric_limits<double>::infinity());  // +Inf only
  EXPECT_EQ(bucket_counts(histogram), (std::vector<std::uint64_t>{2, 2, 2}));
  const auto snap = histogram.snapshot();
  EXPECT_EQ(snap.cumulative[0], 2u);
  EXPECT_EQ(snap.cumulative[1], 4u);
  EXPECT_EQ(snap.count, 6u);
}

TEST(MetricsHistogram, NanIsIgnored) {
  const std::array<double, 1> bounds{1};
  Histogram histogram(bounds);
  histogram.observe(0.5);
  histogram.observe(std::numeric_limits<double>::quiet_NaN());
  const auto snap = histogram.snapshot();
  EXPECT_EQ(snap.count, 1u);
  EXPECT_EQ(snap.sum, 0.5);
}

TEST(MetricsHistogram, InvalidBoundsAreRejected) {
  const auto rejects = [](std::vector<double> bounds) {
    try {
      Histogram histogram(bounds);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(rejects({}).find("1 to 32 upper bounds, got 0"), std::string::npos) << rejects({});
  EXPECT_NE(rejects(std::vector<double>(33, 1.0)).find("got 33"), std::string::npos);
  EXPECT_NE(rejects({1, 1}).find("strictly increasing"), std::string::npos);
  EXPECT_NE(rejects({2, 1}).find("strictly increasing"), std::string::npos);
  EXPECT_NE(rejects({1, std::numeric_limits<double>::quiet_NaN()}).find("not finite"), std::string::npos);
  EXPECT_NE(rejects({1, std::numeric_limits<double>::infinity()}).find("not finite"), std::string::npos);
  EXPECT_NE(rejects({-std::numeric_limits<double>::infinity(), 1}).find("not finite"), std::string::npos);

  std::vector<double> thirty_two;
  for (int i = 1; i <= 32; ++i) thirty_two.push_back(i);
  EXPECT_EQ(rejects(thirty_two), "");
  EXPECT_EQ(rejects({-1, 0, 0.5}), "");

  // Through the registry: rejected bounds leave the name free.
  host::MetricsRegistry registry;
  const std::array<double, 2> descending{2, 1};
  EXPECT_THROW(registry.histogram("h", "help", {}, descending), std::invalid_argument);
  EXPECT_NO_THROW(registry.counter("h", "help", {}));
}

TEST(MetricsHistogram, SameNameAndLabelsGiveTheSameHistogram) {
  host::MetricsRegistry registry;
  auto& a = registry.histogram("h", "help", {{"b", "2"}, {"a", "1"}}, Histogram::kLatencyBounds);
  auto& b = registry.histogram("h", "help", {{"a", "1"}, {"b", "2"}}, Histogram::kLatencyBounds);
  auto& c = registry.histogram("h", "help", {{"a", "other"}}, Histogram::kLatencyBounds);
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
}

TEST(MetricsHistogram, SameNameWithOtherBoundsIsRejected) {
  host::MetricsRegistry registry;
  const std::array<double, 2> first{0.5, 1};
  const std::array<double, 2> other{0.5, 2};
  const std::array<double, 1> fewer{0.5};
  registry.histogram("h", "help", {{"a", "1"}}, first);
  try {
    registry.histogram("h", "help", {{"a", "2"}}, other);
    FAIL() << "other bounds accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(),
                 "histogram 'h' registered with bounds [0.5, 1], asked for again with bounds [0.5, 2]");
  }
  EXPECT_THROW(registry.histogram("h", "help", {{"a", "1"}}, fewer), std::invalid_argument);
  EXPECT_EQ(registry.render().find("a=\"2\""), std::string::npos);
}

TEST(MetricsHistogram, ANameKeepsItsType) {
  host::MetricsRegistry registry;
  registry.counter("c_total", "h", {});
  registry.histogram("h_seconds", "h", {}, Histogram::kLatencyBounds);
  try {
    registry.histogram("c_total", "h", {}, Histogram::kLatencyBounds);
    FAIL() << "counter name accepted as histogram";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "metric 'c_total' registered as both counter and histogram");
  }
  EXPECT_THROW(registry.gauge("h_seconds", "h", {}), std::invalid_argument);
  EXPECT_THROW(registry.counter("h_seconds", "h", {}), std::invalid_argument);
}

TEST(MetricsHistogram, LeLabelIsReserved) {
  host::MetricsRegistry registry;
  EXPECT_THROW(registry.histogram("h", "help", {{"le", "1"}}, Histogram::kLatencyBounds),
               std::invalid_argument);
}

TEST(MetricsHistogram, DurationsAreRecordedInSeconds) {
  host::MetricsRegistry registry;
  auto& histogram = registry.histogram("d_seconds", "help", {}, Histogram::kLatencyBounds);
  histogram.observe(std::chrono::milliseconds(5));     // exactly the first bound: le="0.005"
  histogram.observe(std::chrono::microseconds(5001));  // just above: le="0.01"
  histogram.observe(std::chrono::seconds(2));          // le="2.5"
  histogram.observe(std::chrono::minutes(1));          // +Inf only
  EXPECT_EQ(bucket_counts(histogram), (std::vector<std::uint64_t>{1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1}));
  EXPECT_DOUBLE_EQ(histogram.snapshot().sum, 0.005 + 0.005001 + 2 + 60);
  const auto text = registry.render();
  EXPECT_NE(text.find("d_seconds_bucket{le=\"0.005\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("d_seconds_bucket{le=\"0.01\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("d_seconds_bucket{le=\"2.5\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("d_seconds_bucket{le=\"10\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("d_seconds_bucket{le=\"+Inf\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("d_seconds_count 4\n"), std::string::npos) << text;
}

// `threads` threads, each observing `per_thread` of `values` in turn (thread t starting at values[t % 4]).
std::vector<std::thread> start_observers(Histogram& histogram, const std::array<double, 4>& values,
                                         int threads, int per_thread) {
  std::vector<std::thread> started;
  for (int t = 0; t < threads; ++t) {
    started.emplace_back([&histogram, &values, t, per_thread] {
      for (int i = 0; i < per_thread; ++i) histogram.observe(values[static_cast<std::size_t>(i + t) % 4]);
    });
  }
  return started;
}

TEST(MetricsHistogram, ConcurrentObservesAddUpExactly) {
  const std::array<double, 3> bounds{1, 2, 4};
  Histogram histogram(bounds);
  // One value per bucket, dyadic so that every partial sum is exact whatever the order.
  const std::array<double, 4> values{0.5, 1.5, 3.0, 8.0};
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100000;
  for (auto& thread : start_observers(histogram, values, kThreads, kPerThread)) thread.join();

  constexpr std::uint64_t kPerBucket = kThreads * kPerThread / 4;
  EXPECT_EQ(bucket_counts(histogram),
            (std::vector<std::uint64_t>{kPerBucket, kPerBucket, kPerBucket, kPerBucket}));
  const auto snap = histogram.snapshot();
  EXPECT_EQ(snap.count, std::uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(snap.sum, static_cast<double>(kPerBucket) * (0.5 + 1.5 + 3.0 + 8.0));
}

TEST(MetricsHistogram, SnapshotsStayConsistentDuringObserves) {
  const std::array<double, 3> bounds{1, 2, 4};
  Histogram histogram(bounds);
  const std::array<double, 4> values{0.5, 1.5, 3.0, 8.0};
  constexpr int kWriters = 3;
  constexpr int kPerWriter = 50000;
  std::vector<std::thread> writers = start_observers(histogram, values, kWriters, kPerWriter);
  // Reads while the writers run (as many snapshots as it takes, however the threads are scheduled).
  Histogram::Snapshot previous;
  bool consistent = true;
  for (int i = 0; i < 2000 && consistent; ++i) {
    const auto snap = histogram.snapshot();
    for (std::size_t b = 0; b < bounds.size(); ++b) {
      if (b > 0 && snap.cumulative[b] < snap.cumulative[b - 1]) consistent = false;
      if (snap.cumulative[b] < previous.cumulative[b]) consistent = false;
    }
    if (snap.count < snap.cumulative[bounds.size() - 1] || snap.count < previous.count) consistent = false;
    if (snap.sum < previous.sum) consistent = false;  // all values are positive
    previous = snap;
  }
  for (auto& writer : writers) writer.join();
  EXPECT_TRUE(consistent);
  EXPECT_EQ(histogram.snapshot().count, std::uint64_t{kWriters} * kPerWriter);
}
