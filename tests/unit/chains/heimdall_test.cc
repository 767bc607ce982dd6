#include "chains/heimdall.h"

#include <gtest/gtest.h>

#include "fixtures.h"

namespace nodeops::chains {
namespace {

using nodeops::testing::garbage_bodies;
using nodeops::testing::scenario;
using nodeops::testing::transport_error;

const std::vector<std::string> kFiles = {"status.json", "checkpoints_count.json", "milestones_count.json",
                                         "spans_latest.json", "net_info.json"};

TEST(Heimdall, ProbeCalls) {
  auto a = make_heimdall_adapter("http://h:26657/", "http://h:1317");
  auto calls = a->probe_calls();
  ASSERT_EQ(calls.size(), 5u);
  EXPECT_EQ(calls[0].url, "http://h:26657/status");
  EXPECT_EQ(calls[1].url, "http://h:1317/checkpoints/count");
  EXPECT_EQ(calls[2].url, "http://h:1317/milestones/count");
  EXPECT_EQ(calls[3].url, "http://h:1317/bor/spans/latest");
  EXPECT_EQ(calls[4].url, "http://h:26657/net_info");
  auto rpc_only = make_heimdall_adapter("http://h:26657", "")->probe_calls();
  ASSERT_EQ(rpc_only.size(), 2u);
  EXPECT_EQ(rpc_only[1].url, "http://h:26657/net_info");
}

TEST(Heimdall, Synced) {
  auto a = make_heimdall_adapter("http://h", "http://h");
  NodeStatus st = a->parse_probe(scenario("heimdall/synced", kFiles));
  EXPECT_TRUE(st.reachable);
  EXPECT_EQ(st.error, "");
  EXPECT_EQ(st.syncing, false);
  EXPECT_EQ(st.head, 26112733u);
  EXPECT_EQ(st.head_timestamp, 1756808142u);  // 2025-09-02T10:15:42Z
  EXPECT_EQ(st.client_version, "0.38.17");
  ASSERT_TRUE(st.heimdall);
  EXPECT_EQ(st.heimdall->catching_up, false);
  EXPECT_EQ(st.heimdall->checkpoint_count, 80412u);
  EXPECT_EQ(st.heimdall->milestone_count, 3614920u);
  EXPECT_EQ(st.heimdall->span_id, 10822u);
  EXPECT_EQ(st.peers, 2u);
}

TEST(Heimdall, CatchingUp) {
  auto a = make_heimdall_adapter("http://h", "http://h");
  NodeStatus st = a->parse_probe(scenario("heimdall/catching_up", kFiles));
  EXPECT_TRUE(st.reachable);
  EXPECT_EQ(st.syncing, true);
  EXPECT_EQ(st.heimdall->catching_up, true);
  EXPECT_EQ(st.head, 24981220u);
}

TEST(Heimdall, RpcOnly) {
  auto a = make_heimdall_adapter("http://h", "");
  NodeStatus st = a->parse_probe(scenario("heimdall/synced", {"status.json", "net_info.json"}));
  EXPECT_TRUE(st.reachable);
  EXPECT_EQ(st.error, "");
  EXPECT_EQ(st.peers, 2u);
  EXPECT_FALSE(st.heimdall->checkpoint_count);
}

TEST(Heimdall, RestDownStillReachable) {
  auto a = make_heimdall_adapter("http://h", "http://h");
  auto replies = scenario("heimdall/synced", kFiles);
  replies[1] = replies[2] = replies[3] = transport_error("connection refused");
  NodeStatus st = a->parse_probe(replies);
  EXPECT_TRUE(st.reachable);
  EXPECT_EQ(st.head, 26112733u);
  EXPECT_EQ(st.error, "/checkpoints/count: connection refused (+2 more)");
}

TEST(Heimdall, GarbageNeverCrashes) {
  auto a = make_heimdall_adapter("http://h", "http://h");
  for (const HttpReply& g : garbage_bodies()) {
    std::vector<HttpReply> replies(4, g);
    NodeStatus st;
    EXPECT_NO_THROW(st = a->parse_probe(replies));
    EXPECT_FALSE(st.head) << g.body;
    EXPECT_FALSE(st.syncing) << g.body;
    EXPECT_NE(st.error, "");
  }
}

TEST(Rfc3339, Parses) {
  EXPECT_EQ(parse_rfc3339_seconds("1970-01-01T00:00:00Z"), 0u);
  EXPECT_EQ(parse_rfc3339_seconds("2025-09-02T10:15:42.123456789Z"), 1756808142u);
  EXPECT_EQ(parse_rfc3339_seconds("2025-09-02T10:15:42+00:00"), 1756808142u);
  EXPECT_FALSE(parse_rfc3339_seconds("2025-09-02 10:15:42"));
  EXPECT_FALSE(parse_rfc3339_seconds("2025-13-02T10:15:42Z"));
  EXPECT_FALSE(parse_rfc3339_seconds("2025-09-02T10:15:42.Z"));
  EXPECT_FALSE(parse_rfc3339_seconds("2025-09-02T10:15:42+02:00"));
  EXPECT_FALSE(parse_rfc3339_seconds(""));
}

}  // namespace
}  // namespace nodeops::chains
