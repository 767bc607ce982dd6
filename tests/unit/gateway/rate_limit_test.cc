#include "gateway/rate_limit.h"

#include <gtest/gtest.h>

using namespace nodeops::gateway;
using namespace std::chrono_literals;

TEST(TokenBucket, StartsFullRefillsAtItsRateAndSaysWhenToComeBack) {
  TokenBucket b({10, 20});
  auto t0 = LimitClock::now();
  EXPECT_EQ(b.take(20, t0), 0) << "a new bucket holds its burst";
  double wait = b.take(5, t0);
  EXPECT_NEAR(wait, 0.5, 1e-9) << "5 tokens at 10/s";
  EXPECT_FALSE(b.has_token(t0));
  EXPECT_TRUE(b.has_token(t0 + 100ms));
  EXPECT_EQ(b.take(5, t0 + 500ms), 0);
  // Never above its capacity, however long it idles.
  EXPECT_EQ(b.take(20, t0 + 1h), 0);
  EXPECT_GT(b.take(1, t0 + 1h), 0);
}

TEST(TokenBucket, ACostAboveTheBurstTakesAFullBucket) {
  TokenBucket b({1, 5});
  auto t0 = LimitClock::now();
  EXPECT_EQ(b.take(50, t0), 0) << "a request heavier than the burst is not refused forever";
  EXPECT_NEAR(b.take(50, t0), 5.0, 1e-9) << "it waits for a full bucket";
}

TEST(TokenBucket, ABurstOfZeroIsOneSecondsWorth) {
  TokenBucket b({4, 0});
  auto t0 = LimitClock::now();
  EXPECT_EQ(b.take(4, t0), 0);
  EXPECT_GT(b.take(1, t0), 0);
}

TEST(TokenBucket, ANewRateKeepsTheTokensWithinTheNewCapacity) {
  TokenBucket b({10, 100});
  auto t0 = LimitClock::now();
  EXPECT_EQ(b.take(10, t0), 0);  // 90 left
  b.set_rate({1, 5});
  EXPECT_EQ(b.take(5, t0), 0);
  EXPECT_GT(b.take(1, t0), 0);
}

TEST(AddressBuckets, EachAddressHasItsOwnBucket) {
  AddressBuckets a({1, 2}, 100);
  auto t0 = LimitClock::now();
  EXPECT_EQ(a.take("198.51.100.1", 2, t0), 0);
  EXPECT_GT(a.take("198.51.100.1", 1, t0), 0);
  EXPECT_FALSE(a.has_token("198.51.100.1", t0));
  EXPECT_EQ(a.take("198.51.100.2", 2, t0), 0) << "another address is not charged for the first";
  a.give_back("198.51.100.1", 1);
  EXPECT_TRUE(a.has_token("198.51.100.1", t0));
}

TEST(AddressBuckets, RotatingAddressesCannotGrowMemory) {
  AddressBuckets a({1, 1}, 64);
  auto t0 = LimitClock::now();
  for (int i = 0; i < 100000; ++i)
    a.take("10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256), 1,
           t0);
  EXPECT_LE(a.tracked(), 64u + 16u) << "at most max_tracked (rounded up per shard)";
  EXPECT_GE(a.evictions(), 100000u - 80u);
  // A recently used address is still tracked (and still empty).
  a.take("203.0.113.1", 1, t0);
  EXPECT_GT(a.take("203.0.113.1", 1, t0), 0);
}

TEST(MethodWeights, ExactThenLongestPrefixThenOne) {
  MethodWeights w(
      {{"eth_getLogs", 20}, {"debug_", 50}, {"debug_traceCall", 100}, {"eth_chainId", 0}, {"x_", 2}, {"x_y_", 3}});
  EXPECT_EQ(w.of("eth_getLogs"), 20);
  EXPECT_EQ(w.of("debug_traceCall"), 100) << "an exact name beats a prefix";
  EXPECT_EQ(w.of("debug_getRawBlock"), 50);
  EXPECT_EQ(w.of("x_y_z"), 3) << "the longest prefix wins";
  EXPECT_EQ(w.of("x_z"), 2);
  EXPECT_EQ(w.of("eth_chainId"), 0);
  EXPECT_EQ(w.of("eth_blockNumber"), 1);
}

TEST(RateLimiter, KeyedRequestsUseTheKeyAnonymousOnesTheAddressAllTheGlobalCap) {
  RateLimitConfig cfg;
  cfg.per_ip_rps = 1;
  cfg.per_ip_burst = 2;
  cfg.global_rps = 1;
  cfg.global_burst = 5;
  RateLimiter limiter(cfg);
  TokenBucket key({1, 2});
  auto t0 = LimitClock::now();
  EXPECT_FALSE(limiter.take(nullptr, "198.51.100.1", 2, t0));
  auto r = limiter.take(nullptr, "198.51.100.1", 1, t0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->scope, Refusal::Scope::address);
  EXPECT_FALSE(limiter.take(&key, "198.51.100.1", 2, t0)) << "a keyed request is not charged to its address";
  // 4 of the global 5 are gone; a request of 2 from a fresh address is refused by the global cap
  // and its own bucket gets its tokens back.
  r = limiter.take(nullptr, "198.51.100.9", 2, t0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->scope, Refusal::Scope::global);
  EXPECT_TRUE(limiter.admits(nullptr, "198.51.100.9", t0 + 1s) == std::nullopt);
  EXPECT_FALSE(limiter.take(nullptr, "198.51.100.9", 1, t0)) << "all or nothing: its tokens came back";
}

TEST(RateLimiter, NoLimitsConfiguredRefusesNothing) {
  RateLimiter limiter(RateLimitConfig{});
  auto t0 = LimitClock::now();
  for (int i = 0; i < 1000; ++i) ASSERT_FALSE(limiter.take(nullptr, "198.51.100.1", 100, t0));
  EXPECT_EQ(limiter.addresses(), nullptr) << "no table without a per-address limit";
}
