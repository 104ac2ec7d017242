#include <gtest/gtest.h>

#include "host/metrics.hpp"
#include "host/text_format.hpp"

using namespace gw;

TEST(TextFormat, LogfmtValuesAreBareUnlessTheyNeedQuoting) {
  std::string out;
  host::append_logfmt_value(out, "plain");
  EXPECT_EQ(out, "plain");
  out.clear();
  host::append_logfmt_value(out, "two words");
  EXPECT_EQ(out, "\"two words\"");
  out.clear();
  host::append_logfmt_value(out, "");
  EXPECT_EQ(out, "\"\"");
  out.clear();
  host::append_logfmt_value(out, "a=b");
  EXPECT_EQ(out, "\"a=b\"");
}

TEST(TextFormat, JsonEscapesQuotesBackslashesAndControlCharacters) {
  std::string out;
  host::append_json_string(out, std::string("q\"b\\n\nt\x01", 8));
  EXPECT_EQ(out, "\"q\\\"b\\\\n\\nt\\u0001\"");
}

TEST(TextFormat, LogInjectionIsNeutralised) {
  std::string out;
  host::append_logfmt_value(out, "x\n2026-01-01T00:00:00Z level=error event=forged");
  EXPECT_EQ(out.find('\n'), std::string::npos);
}

TEST(TextFormat, TimestampsAreRfc3339Utc) {
  std::string out;
  host::append_timestamp(out,
                         std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123)));
  EXPECT_EQ(out, "2023-11-14T22:13:20.123Z");
}

TEST(Metrics, SameNameAndLabelsGiveTheSameCounter) {
  host::MetricsRegistry registry;
  auto& a = registry.counter("x_total", "help", {{"b", "2"}, {"a", "1"}});
  auto& b = registry.counter("x_total", "help", {{"a", "1"}, {"b", "2"}});
  EXPECT_EQ(&a, &b);
  a.add(3);
  auto& g = registry.gauge("y", "gauge help", {{"d", "q\"uote"}});
  g.add(5);
  g.sub(2);
  auto text = registry.render();
  EXPECT_NE(text.find("# TYPE x_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_total{a=\"1\",b=\"2\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("y{d=\"q\\\"uote\"} 3\n"), std::string::npos) << text;
}

TEST(Metrics, ANameCannotBeBothCounterAndGauge) {
  host::MetricsRegistry registry;
  registry.counter("z", "h", {});
  EXPECT_THROW(registry.gauge("z", "h", {}), std::logic_error);
}
