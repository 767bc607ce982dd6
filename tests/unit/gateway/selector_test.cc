#include "gateway/selector.h"

#include <gtest/gtest.h>

#include <map>

using namespace nodeops;
using namespace nodeops::gateway;

namespace {
struct Pool {
  ChainConfig config;
  ChainHealth health;
  TrafficSplit split{{{"default", 100}}};
  std::vector<UpstreamLoad> load;
  void add(std::string name, uint64_t head, bool healthy = true, Role role = Role::full, double weight = 1,
           std::string pool = "default", Tier tier = Tier::primary) {
    config.upstreams.push_back({name, {}, role, weight, pool});
    config.upstreams.back().tier = tier;
    UpstreamHealth h;
    h.healthy = healthy;
    h.head = head;
    health.upstreams.push_back(h);
    health.best_head = std::max(health.best_head, head);
    load.push_back({});
  }
  std::map<size_t, int> picks(const Criteria& c, int n = 2000) {
    Rng rng(7);
    std::map<size_t, int> out;
    for (int i = 0; i < n; ++i) {
      auto p = select_upstream(config, health, split, load, c, rng);
      out[p ? *p : 99]++;
    }
    return out;
  }
};
}  // namespace

TEST(Selector, OnlyHealthyUntriedUpstreams) {
  Pool p;
  p.add("a", 100, false);
  p.add("b", 100);
  p.add("c", 100);
  Criteria c;
  c.tried = {false, true, false};
  auto picks = p.picks(c);
  EXPECT_EQ(picks.size(), 1u);
  EXPECT_EQ(picks[2], 2000);
  c.tried = {false, true, true};
  EXPECT_EQ(p.picks(c)[99], 2000);  // nothing left
}

TEST(Selector, WeightsShareTheLoad) {
  Pool p;
  p.add("a", 100, true, Role::full, 1);
  p.add("b", 100, true, Role::full, 3);
  auto picks = p.picks({});
  EXPECT_GT(picks[1], picks[0] * 2);
  EXPECT_GT(picks[0], 100);
}

TEST(Selector, PrefersTheLessLoadedAndFaster) {
  Pool p;
  p.add("a", 100);
  p.add("b", 100);
  p.load[0] = {10, 50};
  p.load[1] = {0, 5};
  auto picks = p.picks({});
  EXPECT_GT(picks[1], 1950);  // a is 11x busier and 10x slower: about 1% of the calls
  EXPECT_GT(picks[0], 0);     // but never starved, so its latency figure stays current
}

TEST(Selector, AvoidsUpstreamsBelowTheBlockAsked) {
  Pool p;
  p.add("a", 100);
  p.add("b", 98);
  Criteria c;
  c.range.high = 100;
  EXPECT_EQ(p.picks(c)[0], 2000);
  c.range.high = 500;  // nobody has it: still answered, by anyone
  auto picks = p.picks(c);
  EXPECT_EQ(picks[99], 0);
}

TEST(Selector, OldStateGoesToArchives) {
  Pool p;
  p.add("full", 10'000);
  p.add("archive", 10'000, true, Role::archive);
  p.config.archive_after_blocks = 128;
  Criteria c;
  c.range.low = 5;
  EXPECT_EQ(p.picks(c)[1], 2000);
  c.range.low = 9'990;  // recent: anyone
  auto recent = p.picks(c);
  EXPECT_GT(recent[0], 0);
  Criteria pruned;
  pruned.prefer_archive = true;
  EXPECT_EQ(p.picks(pruned)[1], 2000);
}

TEST(Selector, PoolsFollowTheTrafficSplit) {
  Pool p;
  p.add("blue-a", 100, true, Role::full, 1, "blue");
  p.add("green-a", 100, true, Role::full, 1, "green");
  p.split = {{{"blue", 100}}};
  EXPECT_EQ(p.picks({})[0], 2000);
  p.split = {{{"blue", 90}, {"green", 10}}};
  Rng rng(1);
  int green = 0;
  for (int i = 0; i < 5000; ++i) green += pick_pool(p.split, rng) == "green";
  EXPECT_GT(green, 350);
  EXPECT_LT(green, 650);
  Criteria only_green;
  only_green.pool = "green";
  EXPECT_EQ(p.picks(only_green)[1], 2000);
}

TEST(Selector, WhenNoUpstreamHasTheBlockYetTheFreshestAnswers) {
  Pool p;
  p.add("old", 90);
  p.add("fresh", 99);
  p.add("older", 80);
  Criteria c;
  c.tried.assign(3, false);
  c.range.high = 100;  // nobody has it yet
  auto picks = p.picks(c, 200);
  EXPECT_EQ(picks[1], 200);
}

TEST(Selector, FallbackTierOnlyWhenNoPrimaryCanServe) {
  Pool p;
  p.config.archive_after_blocks = 100;
  p.add("a", 1000);
  p.add("b", 1000);
  p.add("prov", 1002, true, Role::archive, 10, "default", Tier::fallback);
  // Healthy primaries take everything, whatever the provider's weight.
  auto picks = p.picks({});
  EXPECT_EQ(picks[2], 0);
  EXPECT_EQ(picks[0] + picks[1], 2000);
  // Every primary tried (failed, saturated, out of budget): the provider.
  Criteria tried;
  tried.tried = {true, true, false};
  EXPECT_EQ(p.picks(tried)[2], 2000);
  // A block no primary has yet, that the provider has.
  Criteria ahead;
  ahead.range.high = 1002;
  EXPECT_EQ(p.picks(ahead)[2], 2000);
  // A block nobody has: the primaries keep it (the freshest of them answers).
  Criteria future;
  future.range.high = 5000;
  EXPECT_EQ(p.picks(future)[2], 0);
  // Old state: only the provider is an archive.
  Criteria old;
  old.range.low = 10;
  EXPECT_EQ(p.picks(old)[2], 2000);
  Criteria state_gone;
  state_gone.prefer_archive = true;
  EXPECT_EQ(p.picks(state_gone)[2], 2000);
}

TEST(Selector, FallbackTakesOverWhenPrimariesAreOutAndLeavesWhenTheyReturn) {
  Pool p;
  p.add("a", 1000, false);
  p.add("prov", 1000, true, Role::full, 1, "default", Tier::fallback);
  EXPECT_EQ(p.picks({})[1], 2000);
  p.health.upstreams[0].healthy = true;  // the primary recovered
  EXPECT_EQ(p.picks({})[0], 2000);
}

TEST(Selector, AnArchivePrimaryKeepsOldStateFromTheFallback) {
  Pool p;
  p.config.archive_after_blocks = 100;
  p.add("full", 1000);
  p.add("arch", 1000, true, Role::archive);
  p.add("prov", 1000, true, Role::archive, 1, "default", Tier::fallback);
  Criteria old;
  old.range.low = 10;
  EXPECT_EQ(p.picks(old)[1], 2000);
}
