#include "core/metrics.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>
#include <vector>

using namespace nodeops::metrics;

TEST(Metrics, ExposesFamiliesEvenWithoutSamples) {
  Registry r;
  r.counter("x_total", "An x.", {"chain"});
  auto text = r.expose();
  EXPECT_NE(text.find("# HELP x_total An x.\n# TYPE x_total counter\n"), std::string::npos);
  EXPECT_EQ(text.find("x_total{"), std::string::npos);
}

TEST(Metrics, CountersGaugesAndLabels) {
  Registry r;
  auto& c = r.counter("req_total", "Requests.", {"chain", "outcome"});
  c.labels({"eth", "ok"}).inc();
  c.labels({"eth", "ok"}).inc(2);
  r.gauge("head", "Head.", {"upstream"}).labels({"a\"b"}).set(17);
  auto text = r.expose();
  EXPECT_NE(text.find("req_total{chain=\"eth\",outcome=\"ok\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("head{upstream=\"a\\\"b\"} 17\n"), std::string::npos);
}

TEST(Metrics, HistogramIsCumulativeWithInfSumAndCount) {
  Registry r;
  auto& h = r.histogram("lat_seconds", "Latency.", {}, {0.1, 1}).labels({});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(3);
  auto text = r.expose();
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_sum 3.55\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_count 3\n"), std::string::npos);
}

TEST(Metrics, QuantileInterpolatesWithinBuckets) {
  Histogram h({0.1, 0.2, 0.4});
  for (int i = 0; i < 100; ++i) h.observe(0.15);
  EXPECT_GT(h.quantile(0.99), 0.1);
  EXPECT_LE(h.quantile(0.99), 0.2);
  Histogram empty({1});
  EXPECT_EQ(empty.quantile(0.99), 0);
}

TEST(Metrics, WrongLabelArityIsAProgrammingError) {
  Registry r;
  auto& c = r.counter("a_total", "A.", {"x"});
  EXPECT_THROW(c.labels({"1", "2"}), std::logic_error);
}

TEST(Metrics, RemoveDropsASeries) {
  Registry r;
  auto& g = r.gauge("v", "Version.", {"version"});
  g.labels({"1.0"}).set(1);
  g.remove({"1.0"});
  g.labels({"1.1"}).set(1);
  auto text = r.expose();
  EXPECT_EQ(text.find("1.0"), std::string::npos);
  EXPECT_NE(text.find("v{version=\"1.1\"} 1"), std::string::npos);
}

// Updates land in per-thread shards; every read must still see all of them.
TEST(Metrics, UpdatesFromManyThreadsAddUp) {
  Counter c;
  Gauge g;
  Histogram h({0.1, 1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {  // more threads than shards: some share one
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        c.inc();
        g.inc(2);
        g.dec();
        h.observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 12000);
  EXPECT_EQ(g.value(), 12000);
  EXPECT_EQ(h.count(), 12000u);
  EXPECT_DOUBLE_EQ(h.sum(), 6000);
  EXPECT_EQ(h.cumulative(), (std::vector<uint64_t>{0, 12000, 12000}));
  g.set(7);  // a set replaces what every shard added
  EXPECT_EQ(g.value(), 7);
  EXPECT_THROW(Histogram(std::vector<double>(Histogram::kMaxBounds + 1, 1.0)), std::invalid_argument);
}
