#include "gateway/recent_writes.h"

#include <gtest/gtest.h>

using namespace nodeops::gateway;

TEST(RecentWrites, RemembersWhoTookATransactionForAWhile) {
  RecentWrites w;
  auto t0 = RecentWrites::Clock::now();
  w.record("10.0.0.1", "\"0xaa\"", 2, t0);
  EXPECT_EQ(w.upstream_of_tx("\"0xaa\"", t0), 2u);
  EXPECT_EQ(w.upstream_of_client("10.0.0.1", t0), 2u);
  EXPECT_FALSE(w.upstream_of_client("10.0.0.2", t0));
  EXPECT_FALSE(w.upstream_of_tx("\"0xbb\"", t0));
  // A later transaction of the same client on another upstream moves its nonce reads there.
  w.record("10.0.0.1", "\"0xbb\"", 0, t0 + std::chrono::seconds(1));
  EXPECT_EQ(w.upstream_of_client("10.0.0.1", t0 + std::chrono::seconds(1)), 0u);
  EXPECT_EQ(w.upstream_of_tx("\"0xaa\"", t0 + std::chrono::seconds(1)), 2u);
  // After the window the others have long had it: no preference.
  auto later = t0 + RecentWrites::kWindow + std::chrono::seconds(2);
  EXPECT_FALSE(w.upstream_of_tx("\"0xaa\"", later));
  EXPECT_FALSE(w.upstream_of_client("10.0.0.1", later));
}

TEST(RecentWrites, StaysBounded) {
  RecentWrites w;
  auto t0 = RecentWrites::Clock::now();
  for (size_t i = 0; i < RecentWrites::kMaxEntries + 100; ++i) w.record("c", "\"0x" + std::to_string(i) + "\"", 1, t0);
  EXPECT_FALSE(w.upstream_of_tx("\"0x0\"", t0)) << "the oldest make room";
  EXPECT_TRUE(w.upstream_of_tx("\"0x" + std::to_string(RecentWrites::kMaxEntries + 99) + "\"", t0));
}
