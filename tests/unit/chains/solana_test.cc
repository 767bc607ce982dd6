#include "chains/solana.h"

#include <gtest/gtest.h>

#include "fixtures.h"

namespace nodeops::chains {
namespace {

using nodeops::testing::garbage_bodies;
using nodeops::testing::ok_reply;
using nodeops::testing::scenario;
using nodeops::testing::transport_error;

const std::vector<std::string> kFiles = {"getHealth.json", "getSlot.json", "getBlockHeight.json",
                                         "getEpochInfo.json", "getVersion.json"};

TEST(Solana, ProbeCallsAreJsonRpcPosts) {
  auto calls = make_solana_adapter("http://s:8899")->probe_calls();
  ASSERT_EQ(calls.size(), 5u);
  for (const auto& c : calls) {
    EXPECT_EQ(c.method, "POST");
    EXPECT_EQ(c.url, "http://s:8899");
  }
  EXPECT_EQ(calls[0].body, R"({"jsonrpc":"2.0","id":1,"method":"getHealth"})");
  EXPECT_NE(calls[3].body.find("getEpochInfo"), std::string::npos);
}

TEST(Solana, Healthy) {
  NodeStatus st = make_solana_adapter("http://s")->parse_probe(scenario("solana/healthy", kFiles));
  EXPECT_TRUE(st.reachable);
  EXPECT_EQ(st.error, "");
  EXPECT_EQ(st.syncing, false);
  EXPECT_EQ(st.head, 362188310u);
  EXPECT_EQ(st.client_version, "2.2.14");
  ASSERT_TRUE(st.solana);
  EXPECT_EQ(st.solana->healthy, true);
  EXPECT_EQ(st.solana->num_slots_behind, 0u);
  EXPECT_EQ(st.solana->slot, 362188310u);
  EXPECT_EQ(st.solana->block_height, 340512044u);
  EXPECT_EQ(st.solana->epoch, 838u);
}

TEST(Solana, BehindReportsNumSlotsBehind) {
  NodeStatus st = make_solana_adapter("http://s")->parse_probe(scenario("solana/behind", kFiles));
  EXPECT_TRUE(st.reachable);
  EXPECT_EQ(st.error, "");  // -32005 is an answer, not a probe failure
  EXPECT_EQ(st.syncing, true);
  EXPECT_EQ(st.solana->healthy, false);
  EXPECT_EQ(st.solana->num_slots_behind, 42u);
  EXPECT_EQ(st.head, 362188268u);
}

TEST(Solana, UnhealthyWithoutCount) {
  NodeStatus st =
      make_solana_adapter("http://s")->parse_probe(scenario("solana/unhealthy_unknown", kFiles));
  EXPECT_EQ(st.solana->healthy, false);
  EXPECT_FALSE(st.solana->num_slots_behind);
}

TEST(Solana, OtherRpcErrorIsNamed) {
  auto replies = scenario("solana/healthy", kFiles);
  replies[1] = ok_reply(R"({"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":2})");
  NodeStatus st = make_solana_adapter("http://s")->parse_probe(replies);
  EXPECT_TRUE(st.reachable);
  EXPECT_EQ(st.head, 362188310u);  // from getEpochInfo.absoluteSlot
  EXPECT_EQ(st.error, "getSlot: RPC error -32601: Method not found");
}

TEST(Solana, DownIsUnreachable) {
  std::vector<HttpReply> replies(5, transport_error("connection refused"));
  NodeStatus st = make_solana_adapter("http://s")->parse_probe(replies);
  EXPECT_FALSE(st.reachable);
  EXPECT_FALSE(st.solana);
  EXPECT_EQ(st.error, "getHealth: connection refused (+4 more)");
}

TEST(Solana, GarbageNeverCrashes) {
  auto a = make_solana_adapter("http://s");
  for (const HttpReply& g : garbage_bodies()) {
    std::vector<HttpReply> replies(5, g);
    NodeStatus st;
    EXPECT_NO_THROW(st = a->parse_probe(replies));
    EXPECT_NE(st.error, "") << g.body;
    EXPECT_EQ(st.error.find('\n'), std::string::npos);
  }
}

// ---------------------------------------------------------------- gossip probe (getClusterNodes)

const std::vector<std::string> kGossipFiles = {"getIdentity.json", "getClusterNodes.json"};

TEST(SolanaGossip, CallsAreGetIdentityThenGetClusterNodes) {
  auto calls = make_solana_gossip_adapter("http://s:8899/")->probe_calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].url, "http://s:8899");
  EXPECT_EQ(calls[0].body, R"({"jsonrpc":"2.0","id":1,"method":"getIdentity"})");
  EXPECT_EQ(calls[1].body, R"({"jsonrpc":"2.0","id":2,"method":"getClusterNodes"})");
}

TEST(SolanaGossip, CountsOtherNodesWithAGossipAddress) {
  // 12 entries, one of them the node itself (its identity).
  NodeStatus st = make_solana_gossip_adapter("http://s")->parse_probe(scenario("solana/healthy", kGossipFiles));
  EXPECT_TRUE(st.reachable);
  EXPECT_EQ(st.error, "");
  EXPECT_EQ(st.peers, 11u);
  st = make_solana_gossip_adapter("http://s")->parse_probe(scenario("solana/isolated", kGossipFiles));
  EXPECT_EQ(st.peers, 1u);  // only its entrypoint
}

TEST(SolanaGossip, EntriesWithoutGossipAndTheNodeItselfAreNotPeers) {
  std::vector<HttpReply> replies = {
      ok_reply(R"({"jsonrpc":"2.0","result":{"identity":"Me111"},"id":1})"),
      ok_reply(R"({"jsonrpc":"2.0","result":[{"pubkey":"Me111","gossip":"1.2.3.4:8001"},)"
               R"({"pubkey":"Spy1","gossip":null},{"pubkey":"Odd","gossip":""},{"pubkey":"NoKey"},)"
               R"(7,{"gossip":"5.6.7.8:8001"},{"pubkey":"Peer","gossip":"9.9.9.9:8001"}],"id":2})")};
  NodeStatus st = make_solana_gossip_adapter("http://s")->parse_probe(replies);
  EXPECT_EQ(st.peers, 2u);
  EXPECT_EQ(st.error, "");
}

TEST(SolanaGossip, WithoutIdentityEveryGossipEntryCounts) {
  auto replies = scenario("solana/healthy", kGossipFiles);
  replies[0] = ok_reply(R"({"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":1})");
  NodeStatus st = make_solana_gossip_adapter("http://s")->parse_probe(replies);
  EXPECT_EQ(st.peers, 12u);
  EXPECT_EQ(st.error, "getIdentity: RPC error -32601: Method not found");
}

TEST(SolanaGossip, FailedOrWrongShapeLeavesPeersUnset) {
  auto a = make_solana_gossip_adapter("http://s");
  auto replies = scenario("solana/healthy", kGossipFiles);
  replies[1] = transport_error("too_large: reply over 1048576 bytes");
  NodeStatus st = a->parse_probe(replies);
  EXPECT_FALSE(st.reachable);
  EXPECT_FALSE(st.peers);
  EXPECT_EQ(st.error, "getClusterNodes: too_large: reply over 1048576 bytes");
  replies[1] = ok_reply(R"({"jsonrpc":"2.0","result":{"nodes":[]},"id":2})");
  st = a->parse_probe(replies);
  EXPECT_TRUE(st.reachable);
  EXPECT_FALSE(st.peers);
  EXPECT_EQ(st.error, "getClusterNodes: result is not an array");
}

TEST(SolanaGossip, GarbageNeverCrashes) {
  auto a = make_solana_gossip_adapter("http://s");
  for (const HttpReply& g : garbage_bodies()) {
    NodeStatus st;
    EXPECT_NO_THROW(st = a->parse_probe(std::vector<HttpReply>(2, g)));
    EXPECT_FALSE(st.peers) << g.body;
    EXPECT_NE(st.error, "") << g.body;
  }
  EXPECT_NO_THROW(a->parse_probe({}));
}

}  // namespace
}  // namespace nodeops::chains
