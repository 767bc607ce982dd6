#include "gateway/client_heads.h"

#include <gtest/gtest.h>

using namespace nodeops::gateway;

TEST(ClientHeads, KeepsTheHighestBlockServedToEachClient) {
  ClientHeads h;
  auto t = ClientHeads::Clock::now();
  EXPECT_FALSE(h.get("a", t));
  h.saw("a", 10, t);
  h.saw("a", 8, t);  // an older answer never lowers it
  h.saw("b", 3, t);
  EXPECT_EQ(h.get("a", t), 10u);
  EXPECT_EQ(h.get("b", t), 3u);
  EXPECT_FALSE(h.get("a", t + ClientHeads::kIdle + std::chrono::seconds(1))) << "idle clients are forgotten";
}
