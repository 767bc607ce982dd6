#include "chains/beacon.h"

#include <gtest/gtest.h>

#include "fixtures.h"

namespace nodeops::chains {
namespace {

using nodeops::testing::garbage_bodies;
using nodeops::testing::scenario;
using nodeops::testing::transport_error;

const std::vector<std::string> kFiles = {"syncing.json", "peer_count.json", "version.json",
                                         "header_head.json", "finality_checkpoints.json"};

TEST(Beacon, ProbeCallsUseStandardPaths) {
  auto a = make_beacon_adapter("http://127.0.0.1:5052/");
  auto calls = a->probe_calls();
  ASSERT_EQ(calls.size(), 5u);
  EXPECT_EQ(calls[0].method, "GET");
  EXPECT_EQ(calls[0].url, "http://127.0.0.1:5052/eth/v1/node/syncing");
  EXPECT_EQ(calls[1].url, "http://127.0.0.1:5052/eth/v1/node/peer_count");
  EXPECT_EQ(calls[2].url, "http://127.0.0.1:5052/eth/v1/node/version");
  EXPECT_EQ(calls[3].url, "http://127.0.0.1:5052/eth/v1/beacon/headers/head");
  EXPECT_EQ(calls[4].url, "http://127.0.0.1:5052/eth/v1/beacon/states/head/finality_checkpoints");
}

TEST(Beacon, Synced) {
  auto a = make_beacon_adapter("http://b");
  auto replies = scenario("beacon/synced", kFiles);
  NodeStatus st = a->parse_probe(replies);
  EXPECT_TRUE(st.reachable);
  EXPECT_EQ(st.error, "");
  EXPECT_EQ(st.syncing, false);
  EXPECT_EQ(st.head, 11923456u);
  EXPECT_EQ(st.peers, 87u);
  EXPECT_EQ(st.client_version, "Lighthouse/v7.0.1-e42406d/x86_64-linux");
  ASSERT_TRUE(st.beacon);
  EXPECT_EQ(st.beacon->sync_distance, 0u);
  EXPECT_EQ(st.beacon->finalized_epoch, 372606u);
  EXPECT_EQ(st.beacon->current_justified_epoch, 372607u);
  EXPECT_EQ(st.beacon->previous_justified_epoch, 372606u);
}

TEST(Beacon, Syncing) {
  auto a = make_beacon_adapter("http://b");
  NodeStatus st = a->parse_probe(scenario("beacon/syncing", kFiles));
  EXPECT_TRUE(st.reachable);
  EXPECT_EQ(st.syncing, true);
  EXPECT_EQ(st.beacon->sync_distance, 50354u);
  EXPECT_EQ(st.head, 11873102u);
}

TEST(Beacon, PartialFailureKeepsWhatAnswered) {
  auto a = make_beacon_adapter("http://b");
  auto replies = scenario("beacon/synced", kFiles);
  replies[2] = transport_error("timeout");
  replies[4].status = 500;
  NodeStatus st = a->parse_probe(replies);
  EXPECT_TRUE(st.reachable);
  EXPECT_EQ(st.head, 11923456u);
  EXPECT_EQ(st.client_version, "");
  EXPECT_FALSE(st.beacon->finalized_epoch);
  EXPECT_EQ(st.error, "/eth/v1/node/version: timeout (+1 more)");
}

TEST(Beacon, DownIsUnreachable) {
  auto a = make_beacon_adapter("http://b");
  std::vector<HttpReply> replies(5, transport_error("connection refused"));
  NodeStatus st = a->parse_probe(replies);
  EXPECT_FALSE(st.reachable);
  EXPECT_FALSE(st.head);
  EXPECT_FALSE(st.syncing);
  EXPECT_NE(st.error, "");
  // Fewer replies than calls must not read past the end.
  st = a->parse_probe({});
  EXPECT_FALSE(st.reachable);
}

TEST(Beacon, GarbageNeverCrashes) {
  auto a = make_beacon_adapter("http://b");
  for (const HttpReply& g : garbage_bodies()) {
    std::vector<HttpReply> replies(5, g);
    NodeStatus st;
    EXPECT_NO_THROW(st = a->parse_probe(replies));
    EXPECT_FALSE(st.head) << g.body;
    EXPECT_NE(st.error, "") << g.body;
    EXPECT_EQ(st.error.find('\n'), std::string::npos);
  }
}

}  // namespace
}  // namespace nodeops::chains
