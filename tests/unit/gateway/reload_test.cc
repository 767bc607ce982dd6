// The reload's pure parts: what a new config changes, what needs a restart, which upstream objects
// a new set keeps (gateway/reload.h).
#include "gateway/reload.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "gateway/chain_runtime.h"
#include "gateway/metrics.h"

namespace nodeops::gateway {
namespace {

std::string config_text(const std::string& upstreams, const std::string& top = "listen: 127.0.0.1:8545\n",
                        const std::string& more_chains = "") {
  return top + "chains:\n  - name: ethereum\n    chain_id: 1\n    upstreams:\n" + upstreams + more_chains;
}

const std::string kAB =
    "      - { name: a, url: \"http://127.0.0.1:1001\" }\n"
    "      - { name: b, url: \"http://127.0.0.1:1002\" }\n";

bool has(const std::vector<std::string>& lines, const std::string& text) {
  return std::any_of(lines.begin(), lines.end(), [&](const auto& l) { return l.find(text) != std::string::npos; });
}

TEST(PlanReload, SameConfigChangesNothing) {
  auto a = parse_gateway_config(config_text(kAB), "gw.yaml");
  auto plan = plan_reload(a, parse_gateway_config(config_text(kAB), "gw.yaml"), "gw.yaml");
  EXPECT_TRUE(plan.changes.empty());
  EXPECT_TRUE(plan.restart_required.empty());
  EXPECT_TRUE(plan.errors.empty());
  EXPECT_TRUE(plan.effective == a);
}

TEST(PlanReload, NamesUpstreamsAddedRemovedAndChanged) {
  auto running = parse_gateway_config(config_text(kAB), "gw.yaml");
  auto next = parse_gateway_config(config_text("      - { name: a, url: \"http://127.0.0.1:1001\", weight: 3 }\n"
                                               "      - { name: c, url: \"http://127.0.0.1:1003\" }\n"),
                                   "gw.yaml");
  auto plan = plan_reload(running, next, "gw.yaml");
  EXPECT_TRUE(has(plan.changes, "chain ethereum: upstream b removed"));
  EXPECT_TRUE(has(plan.changes, "chain ethereum: upstream c added"));
  EXPECT_TRUE(has(plan.changes, "chain ethereum: upstream a changed (kept): weight"));
  EXPECT_TRUE(plan.restart_required.empty());
  ASSERT_EQ(plan.effective.chains[0].upstreams.size(), 2u);
  EXPECT_EQ(plan.effective.chains[0].upstreams[1].name, "c");
}

TEST(PlanReload, ReportsWhatNeedsARestartAndAppliesTheRest) {
  auto running = parse_gateway_config(config_text(kAB), "gw.yaml");
  auto next = parse_gateway_config(
      config_text("      - { name: a, url: \"http://127.0.0.1:1009\" }\n", "listen: 127.0.0.1:9999\nthreads: 3\n",
                  "  - name: polygon\n    chain_id: 137\n    upstreams:\n"
                  "      - { name: p, url: \"http://127.0.0.1:1004\" }\n"),
      "gw.yaml");
  auto plan = plan_reload(running, next, "gw.yaml");
  EXPECT_TRUE(has(plan.restart_required, "listen"));
  EXPECT_TRUE(has(plan.restart_required, "threads"));
  EXPECT_TRUE(has(plan.restart_required, "chain polygon added"));
  // The running listen address and chain list stay; the chain's new upstream list applies.
  EXPECT_TRUE(plan.effective.listen == running.listen);
  EXPECT_EQ(plan.effective.chains.size(), 1u);
  EXPECT_TRUE(has(plan.changes, "upstream a changed (replaced): url"));
}

TEST(PlanReload, RequestLimitsApplyAndServerLimitsNeedARestart) {
  auto running = parse_gateway_config(config_text(kAB), "gw.yaml");
  auto next = parse_gateway_config(
      config_text(kAB, "listen: 127.0.0.1:8545\nlimits: { max_batch: 5, request_timeout: 3s, max_connections: 7 }\n"),
      "gw.yaml");
  auto plan = plan_reload(running, next, "gw.yaml");
  EXPECT_TRUE(has(plan.changes, "limits changed: max_batch,request_timeout"));
  EXPECT_EQ(plan.effective.limits.max_batch, 5u);
  EXPECT_EQ(plan.effective.limits.request_timeout, Duration(3000));
  // The server's connection cap is the listener's, fixed at start.
  EXPECT_TRUE(has(plan.restart_required, "limits.max_connections"));
  EXPECT_EQ(plan.effective.limits.max_connections, running.limits.max_connections);
  EXPECT_FALSE(has(plan.restart_required, "global settings"));
}

TEST(PlanReload, RefusesToEmptyThePoolServingTraffic) {
  auto running = parse_gateway_config(config_text(kAB), "gw.yaml");
  auto next = parse_gateway_config(config_text("      - { name: a, url: \"http://127.0.0.1:1001\", pool: green }\n"
                                               "    active_pool: green\n"),
                                   "gw.yaml");
  auto plan = plan_reload(running, next, "gw.yaml");
  ASSERT_EQ(plan.errors.size(), 1u);
  EXPECT_NE(plan.errors[0].find("gw.yaml: chains[0].upstreams: no upstream is left in pool 'default'"),
            std::string::npos);
  EXPECT_TRUE(has(plan.restart_required, "chain ethereum: active_pool"));
}

TEST(KeepsUpstream, OnlyWeightAndInflightKeepTheObject) {
  ChainConfig chain;
  UpstreamConfig u;
  u.name = "a";
  UpstreamConfig v = u;
  v.weight = 9;
  v.max_inflight = 3;
  EXPECT_TRUE(keeps_upstream(chain, u, chain, v));
  v.pool = "green";
  EXPECT_FALSE(keeps_upstream(chain, u, chain, v));
  ChainConfig stricter = chain;
  stricter.passive_health.consecutive_failures = 2;  // its breaker's settings
  EXPECT_FALSE(keeps_upstream(chain, u, stricter, u));
}

TEST(NextUpstreamSet, KeepsUnchangedObjectsAndGivesNewOnesFreshSlots) {
  auto running = parse_gateway_config(config_text(kAB), "gw.yaml");
  GatewayMetrics metrics(running);
  auto chains = make_chains(running, metrics);
  auto& rt = *chains[0];
  auto current = rt.latest_set;
  auto a = current->upstreams[0], b = current->upstreams[1];
  auto next = std::make_shared<GatewayConfig>(
      parse_gateway_config(config_text("      - { name: c, url: \"http://127.0.0.1:1003\" }\n"
                                       "      - { name: b, url: \"http://127.0.0.1:1002\", weight: 4 }\n"
                                       "      - { name: a, url: \"http://127.0.0.1:1001\", batching: off }\n"),
                           "gw.yaml"));
  auto set = next_upstream_set(*current, std::shared_ptr<const ChainConfig>(next, &next->chains[0]), 0, rt.next_slot,
                               metrics.upstream_families());
  ASSERT_EQ(set->upstreams.size(), 3u);
  EXPECT_EQ(set->generation, current->generation + 1);
  EXPECT_EQ(set->upstreams[1], b);  // re-weighted: the same object, now at position 1
  EXPECT_EQ(set->position_of_slot(b->slot()), 1u);
  EXPECT_NE(set->upstreams[2], a);  // batching changed: a new object under the same name
  EXPECT_EQ(set->upstreams[2]->name(), "a");
  // Slots are never reused: c and the new a get ones no upstream had.
  EXPECT_EQ(set->upstreams[0]->slot(), 2u);
  EXPECT_EQ(set->upstreams[2]->slot(), 3u);
  EXPECT_FALSE(set->position_of_slot(a->slot()));
  // The set's config carries the new weight; the kept object still has the one it was built with.
  EXPECT_EQ(set->config->upstreams[1].weight, 4);
}

TEST(Sha256Hex, IsTheFilesDigest) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace nodeops::gateway
