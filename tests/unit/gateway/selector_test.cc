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
           std::string pool = "default") {
    config.upstreams.push_back({name, {}, role, weight, pool});
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
