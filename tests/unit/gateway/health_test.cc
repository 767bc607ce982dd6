#include "gateway/health.h"

#include <gtest/gtest.h>

using namespace nodeops;
using namespace nodeops::gateway;

namespace {
ChainConfig chain(size_t n, uint64_t max_lag = 5) {
  ChainConfig c;
  c.name = "ethereum";
  c.chain_id = 1;
  c.max_lag_blocks = max_lag;
  for (size_t i = 0; i < n; ++i) c.upstreams.push_back({std::string(1, static_cast<char>('a' + i)), {}, Role::full, 1, "default"});
  return c;
}
chains::NodeStatus node(uint64_t head, uint64_t chain_id = 1, bool syncing = false) {
  chains::NodeStatus s;
  s.reachable = true;
  s.head = head;
  s.chain_id = chain_id;
  s.syncing = syncing;
  return s;
}
}  // namespace

TEST(Health, AllSyncedAreHealthy) {
  auto h = evaluate_health(chain(3), {node(100), node(101), node(99)}, {});
  EXPECT_EQ(h.best_head, 101u);
  EXPECT_EQ(h.healthy, 3u);
  EXPECT_EQ(h.upstreams[2].lag, 2u);
}

TEST(Health, LaggingWrongChainSyncingAndDownLeaveRotation) {
  chains::NodeStatus down;
  down.error = "connect: refused";
  auto h = evaluate_health(chain(5), {node(100), node(90), node(100, 5), node(100, 1, true), down}, {});
  EXPECT_TRUE(h.upstreams[0].healthy);
  EXPECT_EQ(h.upstreams[1].reason, "lagging 10 blocks (max 5)");
  EXPECT_EQ(h.upstreams[2].reason, "wrong chain id 5 (want 1)");
  EXPECT_EQ(h.upstreams[3].reason, "syncing");
  EXPECT_EQ(h.upstreams[4].reason, "unreachable: connect: refused");
  EXPECT_EQ(h.healthy, 1u);
}

TEST(Health, OneAbsurdHeadDoesNotPushTheHonestOnesOut) {
  auto h = evaluate_health(chain(3), {node(100), node(101), node(1'000'000'000)}, {});
  EXPECT_EQ(h.best_head, 101u);
  EXPECT_TRUE(h.upstreams[0].healthy);
  EXPECT_TRUE(h.upstreams[1].healthy);
  EXPECT_FALSE(h.upstreams[2].healthy);
  EXPECT_NE(h.upstreams[2].reason.find("implausibly ahead"), std::string::npos);
}

TEST(Health, ASingleNodeSetsTheHeadItself) {
  auto h = evaluate_health(chain(1), {node(42)}, {});
  EXPECT_EQ(h.best_head, 42u);
  EXPECT_TRUE(h.upstreams[0].healthy);
}

TEST(Health, ASyncingNodeDoesNotSetTheBestHead) {
  auto h = evaluate_health(chain(2), {node(10), node(5000, 1, true)}, {});
  EXPECT_EQ(h.best_head, 10u);
  EXPECT_TRUE(h.upstreams[0].healthy);
}

TEST(Health, SolanaHasNoChainIdAndUnhealthyMeansOut) {
  auto c = chain(3, 150);
  c.type = "solana";
  c.chain_id = 0;
  chains::NodeStatus a = node(250'000'000, 0), b = node(250'000'010, 0), behind = node(249'000'000, 0, true);
  a.chain_id.reset();
  b.chain_id.reset();
  behind.chain_id.reset();
  auto h = evaluate_health(c, {a, b, behind}, {});
  EXPECT_TRUE(h.upstreams[0].healthy);
  EXPECT_TRUE(h.upstreams[1].healthy);
  EXPECT_EQ(h.upstreams[2].reason, "unhealthy (getHealth)");
}

TEST(Health, EveryVerdictHasItsState) {
  chains::NodeStatus down;
  down.error = "connect: refused";
  chains::NodeStatus garbled = down;
  garbled.answered = true;
  garbled.error = "reply is not JSON";
  chains::NodeStatus unknown_sync = node(100);
  unknown_sync.syncing.reset();
  auto h = evaluate_health(chain(7, 5), {node(100), node(90), node(100, 5), node(100, 1, true), down, garbled, unknown_sync}, {});
  EXPECT_EQ(h.upstreams[0].state, UpstreamState::healthy);
  EXPECT_EQ(h.upstreams[1].state, UpstreamState::lagging);
  EXPECT_EQ(h.upstreams[2].state, UpstreamState::wrong_chain);
  EXPECT_EQ(h.upstreams[3].state, UpstreamState::syncing);
  EXPECT_EQ(h.upstreams[4].state, UpstreamState::down);
  EXPECT_EQ(h.upstreams[5].state, UpstreamState::bad_response);
  // A node that does not say whether it syncs is not trusted to serve (the exporter agrees).
  EXPECT_EQ(h.upstreams[6].state, UpstreamState::syncing);
  EXPECT_EQ(h.upstreams[6].reason, "sync state unknown");
  // No head is kept for a node that is down or garbled: nothing stale to publish.
  EXPECT_FALSE(h.upstreams[4].head);
  EXPECT_FALSE(h.upstreams[5].head);
  // A lagging node's lag is its distance to the best head.
  EXPECT_EQ(h.upstreams[1].lag, 10u);
}

namespace {
chains::NodeStatus final_node(uint64_t head, std::string hash, std::optional<uint64_t> finalized) {
  auto s = node(head);
  s.head_hash = std::move(hash);
  s.finalized = finalized;
  return s;
}
}  // namespace

// The cache's finality facts come from the nodes in rotation, never guessed.
TEST(Health, FinalizedIsTheLowestOfTheNodesInRotation) {
  auto h = evaluate_health(chain(3), {final_node(100, "0xa", 36), final_node(100, "0xa", 35), final_node(50, "0xc", 1)},
                           {});
  EXPECT_EQ(h.finalized, 35u);  // the lagging node (out of rotation) does not count
  EXPECT_EQ(h.head_key, "0xa,0xa");
  // One node in rotation without the tag: nothing is final.
  h = evaluate_health(chain(2), {final_node(100, "0xa", 36), final_node(100, "0xb", std::nullopt)}, {});
  EXPECT_FALSE(h.finalized);
  EXPECT_EQ(h.head_key, "0xa,0xb");
  // One without a head hash: no key, so nothing unfinal is cached.
  h = evaluate_health(chain(2), {final_node(100, "0xa", 36), final_node(100, "", 36)}, {});
  EXPECT_EQ(h.head_key, "");
  EXPECT_EQ(h.finalized, 36u);
}

TEST(Health, AFinalityDepthReplacesTheTag) {
  auto c = chain(2);
  c.finality_depth = 10;
  auto h = evaluate_health(c, {final_node(100, "0xa", std::nullopt), final_node(99, "0xb", 90)}, {});
  EXPECT_EQ(h.finalized, 90u);  // best head 100 - 10, whatever the nodes say
  c.finality_depth = 200;
  EXPECT_FALSE(evaluate_health(c, {final_node(100, "0xa", 36)}, {}).finalized);
}
