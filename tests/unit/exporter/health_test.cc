#include "exporter/health.h"

#include <gtest/gtest.h>

namespace nodeops::exporter {
namespace {

using namespace std::chrono_literals;
using chains::NodeStatus;

const SteadyTime t0{};
const HealthLimits kLimits{5, Duration(120s), Duration(600s)};
constexpr int64_t kWall = 1'700'000'000;

NodeStatus synced_evm(uint64_t head, std::optional<uint64_t> ts = std::nullopt) {
  NodeStatus s;
  s.reachable = true;
  s.head = head;
  s.head_timestamp = ts;
  s.syncing = false;
  return s;
}

TEST(Health, NotProbedYet) {
  TargetHealth h("evm", t0);
  EXPECT_EQ(h.not_ready_reason(std::nullopt, kLimits, t0, kWall), "not probed yet");
  EXPECT_EQ(h.not_live_reason(kLimits, t0 + 1s), "");
}

TEST(Health, SyncedAndFreshIsReady) {
  TargetHealth h("evm", t0);
  h.observe(synced_evm(100, kWall - 3), t0);
  EXPECT_EQ(h.not_ready_reason(0, kLimits, t0, kWall), "");
  EXPECT_DOUBLE_EQ(*h.head_age_seconds(t0, kWall), 3.0);
}

TEST(Health, DownIsNotReady) {
  TargetHealth h("evm", t0);
  NodeStatus s;
  s.error = "connect: connection refused";
  h.observe(s, t0);
  EXPECT_EQ(h.not_ready_reason(std::nullopt, kLimits, t0, kWall), "down: connect: connection refused");
}

TEST(Health, SyncingReasonsAreChainAware) {
  NodeStatus evm = synced_evm(10);
  evm.syncing = true;
  evm.sync.syncing = true;
  evm.sync.current_block = 10;
  evm.sync.highest_block = 20;
  TargetHealth e("evm", t0);
  e.observe(evm, t0);
  EXPECT_EQ(e.not_ready_reason(0, kLimits, t0, kWall), "syncing: block 10 of 20");

  NodeStatus hd = synced_evm(5);
  hd.syncing = true;
  hd.heimdall = chains::HeimdallStatus{};
  hd.heimdall->catching_up = true;
  TargetHealth h("heimdall", t0);
  h.observe(hd, t0);
  EXPECT_EQ(h.not_ready_reason(0, kLimits, t0, kWall), "catching_up");

  NodeStatus sol = synced_evm(5);
  sol.syncing = true;
  sol.solana = chains::SolanaStatus{};
  sol.solana->healthy = false;
  sol.solana->num_slots_behind = 42;
  TargetHealth s("solana", t0);
  s.observe(sol, t0);
  EXPECT_EQ(s.not_ready_reason(0, kLimits, t0, kWall), "unhealthy (getHealth): 42 slots behind");

  NodeStatus bc = synced_evm(5);
  bc.syncing = true;
  bc.beacon = chains::BeaconStatus{};
  bc.beacon->sync_distance = 300;
  TargetHealth b("beacon", t0);
  b.observe(bc, t0);
  EXPECT_EQ(b.not_ready_reason(0, kLimits, t0, kWall), "syncing: sync_distance 300");

  NodeStatus unknown = synced_evm(5);
  unknown.syncing.reset();
  TargetHealth u("evm", t0);
  u.observe(unknown, t0);
  EXPECT_EQ(u.not_ready_reason(0, kLimits, t0, kWall), "sync state unknown");
}

TEST(Health, LagBeyondMaxIsNotReady) {
  TargetHealth h("evm", t0);
  h.observe(synced_evm(100), t0);
  EXPECT_EQ(h.not_ready_reason(5, kLimits, t0, kWall), "");
  EXPECT_EQ(h.not_ready_reason(6, kLimits, t0, kWall), "lag 6 > max_lag 5");
  EXPECT_EQ(h.not_ready_reason(std::nullopt, kLimits, t0, kWall), "");  // nothing to compare with
}

TEST(Health, OldBlockTimestampIsNotReady) {
  TargetHealth h("evm", t0);
  h.observe(synced_evm(100, kWall - 121), t0);
  EXPECT_EQ(h.not_ready_reason(0, kLimits, t0, kWall), "head age 121s > max_head_age 2m");
}

TEST(Health, WithoutTimestampAgeIsSinceHeadAdvanced) {
  TargetHealth h("solana", t0);
  NodeStatus s = synced_evm(100);
  h.observe(s, t0);
  h.observe(s, t0 + 60s);  // same head
  EXPECT_DOUBLE_EQ(*h.head_age_seconds(t0 + 60s, kWall), 60.0);
  s.head = 101;
  h.observe(s, t0 + 61s);
  EXPECT_DOUBLE_EQ(*h.head_age_seconds(t0 + 62s, kWall), 1.0);
  EXPECT_NE(h.not_ready_reason(0, kLimits, t0 + 61s + 121s, kWall), "");
}

TEST(Health, StalledHeadIsNotLive) {
  TargetHealth h("evm", t0);
  h.observe(synced_evm(100), t0);
  h.observe(synced_evm(100), t0 + 599s);
  EXPECT_EQ(h.not_live_reason(kLimits, t0 + 599s), "");
  EXPECT_EQ(h.not_live_reason(kLimits, t0 + 600s), "head 100 has not moved for 10m (stall_after 10m)");
  h.observe(synced_evm(101), t0 + 601s);
  EXPECT_EQ(h.not_live_reason(kLimits, t0 + 601s), "");
}

TEST(Health, SyncingNodeWhoseTargetMovesStaysLive) {
  // Geth snap sync: eth_blockNumber stays 0 while highestBlock follows the chain.
  TargetHealth h("evm", t0);
  for (int i = 0; i < 20; ++i) {
    NodeStatus s = synced_evm(0);
    s.syncing = true;
    s.sync.syncing = true;
    s.sync.current_block = 0;
    s.sync.highest_block = 1000 + i;
    h.observe(s, t0 + std::chrono::minutes(i));
  }
  EXPECT_EQ(h.not_live_reason(kLimits, t0 + 20min), "");
  EXPECT_NE(h.not_ready_reason(0, kLimits, t0 + 20min, kWall), "");
}

TEST(Health, DownLongerThanStallIsNotLive) {
  TargetHealth h("evm", t0);
  h.observe(synced_evm(100), t0);
  NodeStatus down;
  down.error = "timeout";
  h.observe(down, t0 + 300s);
  h.observe(down, t0 + 700s);
  EXPECT_NE(h.not_live_reason(kLimits, t0 + 700s), "");
  // A node that answers again with the same head is still stuck.
  h.observe(synced_evm(100), t0 + 701s);
  EXPECT_NE(h.not_live_reason(kLimits, t0 + 701s), "");
}

TEST(Health, Lag) {
  EXPECT_EQ(lag_behind(10, 15), 5u);
  EXPECT_EQ(lag_behind(15, 10), 0u);
  EXPECT_FALSE(lag_behind(std::nullopt, 10));
  EXPECT_FALSE(lag_behind(10, std::nullopt));
}

}  // namespace
}  // namespace nodeops::exporter
