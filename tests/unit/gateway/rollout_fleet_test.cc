#include "gateway/rollout_fleet.h"

#include <gtest/gtest.h>

#include "core/metrics.h"

namespace nodeops::gateway::fleet {
namespace {

FleetState shifting(uint64_t epoch, double percent, int64_t lease_ms = 10000) {
  FleetState s;
  s.chain = "ethereum";
  s.epoch = epoch;
  s.switch_id = "ab12";
  s.phase = "shifting";
  s.from = "blue";
  s.to = "green";
  s.steps = {10, 50, 100};
  s.step = percent == 10 ? 0 : percent == 50 ? 1 : 2;
  s.percent = percent;
  s.lease = Duration(lease_ms);
  return s;
}

TEST(FleetState, RoundTripsThroughJson) {
  auto s = shifting(1700000000123, 50);
  s.reason = "a \"quoted\" reason";
  std::string why;
  auto back = parse_state(to_json(s), why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->chain, "ethereum");
  EXPECT_EQ(back->epoch, 1700000000123u);
  EXPECT_EQ(back->switch_id, "ab12");
  EXPECT_EQ(back->phase, "shifting");
  EXPECT_EQ(back->from, "blue");
  EXPECT_EQ(back->to, "green");
  EXPECT_EQ(back->steps, (std::vector<double>{10, 50, 100}));
  EXPECT_EQ(back->step, 1u);
  EXPECT_EQ(back->percent, 50);
  EXPECT_EQ(back->lease.count(), 10000);
  EXPECT_EQ(back->reason, "a \"quoted\" reason");
}

TEST(FleetState, RejectsWhatCannotBeApplied) {
  std::string why;
  EXPECT_FALSE(parse_state("not json", why));
  EXPECT_EQ(why, "body must be a JSON object");
  EXPECT_FALSE(parse_state("[]", why));
  EXPECT_FALSE(parse_state(R"({"phase":"shifting","from":"blue","to":"green","epoch":1})", why));
  EXPECT_EQ(why, "chain is required (a string)");
  EXPECT_FALSE(parse_state(R"({"chain":"e","phase":"sideways","from":"blue","to":"green","epoch":1})", why));
  EXPECT_NE(why.find("phase must be"), std::string::npos);
  EXPECT_FALSE(parse_state(R"({"chain":"e","phase":"completed","from":"blue","to":"blue","epoch":1})", why));
  EXPECT_NE(why.find("two different pools"), std::string::npos);
  EXPECT_FALSE(parse_state(R"({"chain":"e","phase":"completed","from":"blue","to":"green","epoch":0})", why));
  EXPECT_NE(why.find("epoch"), std::string::npos);
  EXPECT_FALSE(parse_state(R"({"chain":"e","phase":"completed","from":"blue","to":"green","epoch":-3})", why));
  EXPECT_FALSE(parse_state(R"({"chain":"e","phase":"shifting","from":"blue","to":"green","epoch":5,"percent":0,"lease_ms":100})", why));
  EXPECT_NE(why.find("percent"), std::string::npos);
  EXPECT_FALSE(parse_state(R"({"chain":"e","phase":"shifting","from":"blue","to":"green","epoch":5,"percent":101,"lease_ms":100})", why));
  EXPECT_FALSE(parse_state(R"({"chain":"e","phase":"shifting","from":"blue","to":"green","epoch":5,"percent":10})", why));
  EXPECT_NE(why.find("lease_ms"), std::string::npos);
  EXPECT_FALSE(parse_state(R"({"chain":"e","phase":"shifting","from":"blue","to":"green","epoch":5,"percent":10,"lease_ms":100,"steps":["x"]})", why));
  EXPECT_EQ(why, "steps must be numbers");
  EXPECT_TRUE(parse_state(R"({"chain":"e","phase":"rolled_back","from":"blue","to":"green","epoch":5})", why));
}

TEST(FleetState, TheLaterTransitionWins) {
  FleetState never;  // a replica that never took part: epoch 0
  EXPECT_TRUE(should_adopt(never, shifting(10, 10)));
  EXPECT_TRUE(should_adopt(shifting(10, 10), shifting(11, 50)));
  EXPECT_FALSE(should_adopt(shifting(11, 50), shifting(10, 10)));  // never back to an older step
  EXPECT_FALSE(should_adopt(shifting(11, 50), shifting(11, 50)));  // the same transition: nothing to do
  auto completed = shifting(12, 100);
  completed.phase = "completed";
  completed.lease = Duration(0);
  EXPECT_TRUE(should_adopt(shifting(11, 50), completed));
  auto rolled_back = completed;
  rolled_back.epoch = 13;
  rolled_back.phase = "rolled_back";
  EXPECT_TRUE(should_adopt(completed, rolled_back));
}

TEST(FleetState, AStepWhoseLeaseRanOutIsNotJoined) {
  EXPECT_FALSE(should_adopt(FleetState{}, shifting(10, 10, 0)));
  EXPECT_TRUE(should_adopt(FleetState{}, shifting(10, 10, 1)));
}

TEST(FleetState, EpochsRiseAndFollowTheClock) {
  EXPECT_EQ(next_epoch(0, 1700000000000), 1700000000000u);
  EXPECT_EQ(next_epoch(1700000000000, 1700000000000), 1700000000001u);  // same millisecond: still later
  EXPECT_EQ(next_epoch(1800000000000, 1700000000000), 1800000000001u);  // a clock behind the fleet's
}

std::vector<uint64_t> buckets_with(double seconds, uint64_t n) {
  auto bounds = metrics::latency_buckets();
  std::vector<uint64_t> out(bounds.size() + 1, 0);
  for (size_t i = 0; i < out.size(); ++i) {
    if (i == bounds.size() || seconds <= bounds[i]) out[i] = n;
  }
  return out;
}

GateReport report(std::string name, double requests, double failures, double seconds = 0.01) {
  GateReport r;
  r.replica = std::move(name);
  r.healthy = 2;
  r.min_healthy = 2;
  r.requests = requests;
  r.failures = failures;
  r.buckets = buckets_with(seconds, static_cast<uint64_t>(requests));
  return r;
}

TEST(FleetGate, PassesAHealthyFleet) {
  EXPECT_EQ(fleet_gate("green", {report("a", 100, 0), report("b", 100, 1), report("c", 50, 0)}, {}), "");
  EXPECT_EQ(fleet_gate("green", {}, {}), "");
}

TEST(FleetGate, OneReplicaWithoutHealthyTargetsFailsTheFleet) {
  auto b = report("b", 100, 0);
  b.healthy = 1;
  auto why = fleet_gate("green", {report("a", 100, 0), b, report("c", 100, 0)}, {});
  EXPECT_NE(why.find("replica b: pool green has 1 healthy upstreams (min_healthy 2)"), std::string::npos) << why;
}

TEST(FleetGate, AReplicaThatHasNotProbedYetIsNotCountedUnhealthy) {
  auto fresh = report("new", 0, 0);
  fresh.probed = false;
  fresh.healthy = 0;
  EXPECT_EQ(fleet_gate("green", {report("a", 100, 0), fresh}, {}), "");
}

TEST(FleetGate, ErrorRatioIsTheFleets) {
  // 3 of 10 calls failed on one replica (30%), but 3 of 1010 over the fleet: passes at 1%.
  EXPECT_EQ(fleet_gate("green", {report("a", 10, 3), report("b", 1000, 0)}, {0.01, Duration(500)}), "");
  auto why = fleet_gate("green", {report("a", 100, 3), report("b", 100, 0)}, {0.01, Duration(500)});
  EXPECT_NE(why.find("error ratio 0.015"), std::string::npos) << why;
  EXPECT_NE(why.find("3 of 200"), std::string::npos) << why;
}

TEST(FleetGate, P99IsOverEveryReplicasCalls) {
  // 2% of the fleet's calls take 2 s: p99 is slow although replica a alone is fast.
  auto why = fleet_gate("green", {report("a", 98, 0, 0.01), report("b", 2, 0, 2.0)}, {0.5, Duration(500)});
  EXPECT_NE(why.find("p99"), std::string::npos) << why;
  EXPECT_EQ(fleet_gate("green", {report("a", 999, 0, 0.01), report("b", 1, 0, 2.0)}, {0.5, Duration(500)}), "");
}

}  // namespace
}  // namespace nodeops::gateway::fleet
