// What a newHeads feed sends for the follower's events (gapless back-fill, reorgs, a feed that fell
// behind), the header object kept from a block, notification shapes, which subscriptions share a
// feed, and eth_subscribe's params; then the service itself: one feed fanned out to subscribers on
// two loops, each notification once and in order with its own id, the per-connection limit,
// unsubscribe, and a subscriber whose outbox refuses.
#include "gateway/subscriptions.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include "gateway/chain_runtime.h"
#include "gateway/metrics.h"

#include "fake_chain.h"

using namespace nodeops;
using namespace nodeops::gateway;
namespace asio = boost::asio;

namespace {

using fake::FakeChain;
using fake::h;
using fake::step;

std::vector<std::string> sent(const HeadsBatch& b) {
  std::vector<std::string> out;
  for (const auto& hdr : b.headers) out.push_back(*hdr);
  return out;
}

std::string head(uint64_t n, int fork = 0) {
  return "{\"number\":" + std::to_string(n) + ",\"fork\":" + std::to_string(fork) + "}";
}

}  // namespace

TEST(HeadsFeed, AGapIsBackFilledInOrderBeforeTheNewHead) {
  FakeChain chain;
  chain.extend(11);
  ChainFollower f;
  step(f, chain, chain.head());
  uint64_t cursor = f.events()->end_seq();  // a subscriber arrives
  chain.extend(1);
  step(f, chain, chain.head());
  // The node feeding the follower dies; the pool's head jumps 4 blocks when another is used.
  chain.extend(4);
  auto r = step(f, chain, chain.head());
  EXPECT_EQ(r.backfilled, 3u);  // 12, 13, 14 are below the target 15
  auto batch = heads_since(*f.events(), cursor);
  EXPECT_EQ(sent(batch), (std::vector<std::string>{head(11), head(12), head(13), head(14), head(15)}));
  EXPECT_EQ(batch.lost, 0u);
  // Read again from where it stood: nothing twice.
  EXPECT_TRUE(heads_since(*f.events(), batch.cursor).headers.empty());
}

TEST(HeadsFeed, AFetchThatFailsMidGapSendsNothingBeyondTheHoleUntilItIsFilled) {
  FakeChain chain;
  chain.extend(11);
  ChainFollower f;
  step(f, chain, chain.head());
  uint64_t cursor = f.events()->end_seq();
  chain.extend(5);
  chain.fail_at = 13;  // every node fails on 13 for now
  step(f, chain, chain.head());
  auto first = heads_since(*f.events(), cursor);
  EXPECT_EQ(sent(first), (std::vector<std::string>{head(11), head(12)}));
  chain.fail_at.reset();
  step(f, chain, chain.head());
  auto second = heads_since(*f.events(), first.cursor);
  EXPECT_EQ(sent(second), (std::vector<std::string>{head(13), head(14), head(15)}));
}

TEST(HeadsFeed, AReorgSendsTheNewBlocksOfTheReplacedHeights) {
  FakeChain chain;
  chain.extend(11);
  ChainFollower f;
  step(f, chain, chain.head());
  uint64_t cursor = f.events()->end_seq();
  chain.extend(3);  // 11, 12, 13 on fork 0
  step(f, chain, chain.head());
  auto before = heads_since(*f.events(), cursor);
  EXPECT_EQ(sent(before), (std::vector<std::string>{head(11), head(12), head(13)}));
  // Replace 12 and 13, and add 14, on fork 1.
  chain.forks.resize(12);
  chain.extend(3, 1);
  auto r = step(f, chain, chain.head());
  EXPECT_EQ(r.reorgs, 1u);
  EXPECT_EQ(r.removed_blocks, 2u);
  auto after = heads_since(*f.events(), before.cursor);
  EXPECT_EQ(sent(after), (std::vector<std::string>{head(12, 1), head(13, 1), head(14, 1)}));
}

TEST(HeadsFeed, AFeedBehindTheLogCountsWhatItLost) {
  FakeChain chain;
  chain.extend(2);
  ChainFollower f(ChainFollower::Options{128, 4, 256});
  step(f, chain, chain.head());
  chain.extend(6);
  step(f, chain, chain.head());
  auto batch = heads_since(*f.events(), 0);
  EXPECT_EQ(batch.lost, 2u);
  EXPECT_EQ(sent(batch), (std::vector<std::string>{head(4), head(5), head(6), head(7)}));
}

TEST(HeadsFeed, TheStepReportsSourceSwitches) {
  FakeChain chain;
  chain.extend(3);
  ChainFollower f;
  step(f, chain, chain.head());
  chain.extend(1);
  chain.switch_next = 2;
  EXPECT_EQ(step(f, chain, chain.head()).source_switches, 2u);
  chain.extend(1);
  EXPECT_EQ(step(f, chain, chain.head()).source_switches, 0u);
}

TEST(BlockHeaderJson, KeepsTheHeaderFieldsInTheNodesOrderWithoutTheBody) {
  auto hdr = parse_block_header(
      R"({"hash":"0x)" + std::string(64, 'a') + R"(","parentHash":"0x)" + std::string(64, 'b') +
      R"(","number":"0x10","miner":"0x0000000000000000000000000000000000000001","transactions":["0x01"],)"
      R"("uncles":[],"size":"0x220","totalDifficulty":"0x0","withdrawals":[],"timestamp":"0x5"})");
  ASSERT_TRUE(hdr);
  ASSERT_TRUE(hdr->json);
  EXPECT_EQ(*hdr->json, R"({"hash":"0x)" + std::string(64, 'a') + R"(","parentHash":"0x)" + std::string(64, 'b') +
                            R"(","number":"0x10","miner":"0x0000000000000000000000000000000000000001",)"
                            R"("timestamp":"0x5"})");
}

TEST(Notifications, HaveGethsAndSolanasShapes) {
  EXPECT_EQ(eth_notification("\"0xab\"", "{\"number\":\"0x1\"}"),
            R"({"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0xab","result":{"number":"0x1"}}})");
  EXPECT_EQ(slot_notification("42", R"({"parent":1,"root":0,"slot":2})"),
            R"({"jsonrpc":"2.0","method":"slotNotification","params":{"result":{"parent":1,"root":0,"slot":2},"subscription":42}})");
}

TEST(FeedKey, SameFilterSharesAFeedWhateverTheCaseAndSpacing) {
  auto a = std::get<SubscribeRequest>(parse_subscribe(
      R"(["logs", {"address": "0xAbCdEf0000000000000000000000000000000001", "topics": [null, "0x)" +
      std::string(64, 'F') + R"("]}])"));
  auto b = std::get<SubscribeRequest>(parse_subscribe(
      R"(["logs",{"address":"0xabcdef0000000000000000000000000000000001","topics":[null,"0x)" + std::string(64, 'f') +
      R"("]}])"));
  auto c = std::get<SubscribeRequest>(
      parse_subscribe(R"(["logs",{"address":"0xabcdef0000000000000000000000000000000001"}])"));
  EXPECT_EQ(feed_key(a.kind, 0, &a.criteria), feed_key(b.kind, 0, &b.criteria));
  EXPECT_NE(feed_key(a.kind, 0, &a.criteria), feed_key(c.kind, 0, &c.criteria));
  EXPECT_NE(feed_key(a.kind, 0, &a.criteria), feed_key(a.kind, 1, &a.criteria));
  auto heads = std::get<SubscribeRequest>(parse_subscribe(R"(["newHeads"])"));
  EXPECT_EQ(heads.kind, SubscriptionKind::new_heads);
  EXPECT_EQ(feed_key(heads.kind, 0, &heads.criteria), feed_key(SubscriptionKind::new_heads, 0, nullptr));
}

TEST(ParseSubscribe, RefusesWhatIsNotServedWithAClearMessage) {
  auto why = [](std::string_view params) {
    auto r = parse_subscribe(params);
    return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : std::string();
  };
  EXPECT_NE(why("[]"), "");
  EXPECT_NE(why("not json"), "");
  EXPECT_NE(why(R"(["syncing"])").find("unsupported subscription"), std::string::npos);
  EXPECT_NE(why(R"(["logs",{"address":"0x12"}])").find("address"), std::string::npos);
  EXPECT_NE(why(R"(["newPendingTransactions",true])").find("full transactions"), std::string::npos);
  EXPECT_EQ(why(R"(["newPendingTransactions"])"), "");
  EXPECT_EQ(why(R"(["logs"])"), "");
}

// --- the service: fan-out over loops ------------------------------------------------------------

namespace {

constexpr const char* kServiceConfig = R"(
websocket: { max_subscriptions_per_connection: 2 }
chains:
  - name: eth
    chain_id: 1
    upstreams:
      - { name: a, url: "http://127.0.0.1:9/" }
)";

// A connection's outbox that keeps what it is given; `refuse` makes it act as a connection being
// closed for a slow consumer.
struct FakeOutbox : http::WebSocketOutbox {
  std::vector<std::string> pushed;
  bool refuse = false;
  bool push(http::WebSocketMessage m) override {
    if (refuse) return false;
    pushed.push_back(std::move(m.text));
    return true;
  }
};

jsonrpc::Call call_of(std::string_view method, std::string_view params) {
  jsonrpc::Call c;
  c.id = "1";
  c.method = std::string(method);
  c.params = params;
  return c;
}

struct ServiceTest : ::testing::Test {
  GatewayConfig config = parse_gateway_config(kServiceConfig, "test.yaml");
  GatewayMetrics metrics{config};
  std::vector<std::unique_ptr<ChainRuntime>> chains = make_chains(config, metrics);
  asio::io_context admin, loop0, loop1;
  FilterService filters{config, chains, metrics.registry(), admin};
  SubscriptionService subs{config, chains, filters, metrics.registry(), admin, {&loop0, &loop1}};
  FakeChain chain;

  ServiceTest() {
    chain.extend(11);
    step(filters.follower(0), chain, chain.head());  // the follower holds block 10
  }
  // The id a subscribe call answered with (its `result`, as JSON).
  static std::string id_of(const std::string& reply) {
    auto at = reply.find("\"result\":");
    return at == std::string::npos ? std::string() : reply.substr(at + 9, reply.size() - at - 10);
  }
  void advance(size_t blocks, uint8_t fork = 0) {
    chain.extend(blocks, fork);
    subs.on_step(0, step(filters.follower(0), chain, chain.head()));
    for (auto* io : {&loop0, &loop1}) {
      io->restart();
      io->poll();
    }
  }
  // The block numbers (and forks) of the newHeads notifications pushed for subscription `id`.
  static std::vector<std::string> heads_for(const FakeOutbox& box, const std::string& id) {
    std::vector<std::string> out;
    for (const auto& m : box.pushed) {
      auto prefix = R"({"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":)" + id + R"(,"result":)";
      if (m.rfind(prefix, 0) != 0) continue;
      out.push_back(m.substr(prefix.size(), m.size() - prefix.size() - 2));
    }
    return out;
  }
};

}  // namespace

TEST_F(ServiceTest, OneFeedFansOutToSubscribersOnEveryLoopOnceAndInOrder) {
  auto box_a = std::make_shared<FakeOutbox>(), box_b = std::make_shared<FakeOutbox>();
  auto a = subs.connect(*chains[0], 0, box_a);
  auto b = subs.connect(*chains[0], 1, box_b);
  auto id_a = id_of(subs.serve(*a, call_of("eth_subscribe", R"(["newHeads"])")));
  auto id_b = id_of(subs.serve(*b, call_of("eth_subscribe", R"(["newHeads"])")));
  ASSERT_FALSE(id_a.empty());
  EXPECT_NE(id_a, id_b);
  EXPECT_EQ(subs.feeds(), 1u);
  EXPECT_EQ(subs.subscriptions(), 2u);
  advance(1);  // 11
  advance(3);  // 12..14: a jump, back-filled in order
  chain.forks.resize(13);
  advance(3, 1);  // 13 and 14 replaced, 15 added: the replaced heights again
  std::vector<std::string> want = {head(11), head(12), head(13), head(14), head(13, 1), head(14, 1), head(15, 1)};
  EXPECT_EQ(heads_for(*box_a, id_a), want);
  EXPECT_EQ(heads_for(*box_b, id_b), want);
  EXPECT_EQ(box_a->pushed.size(), want.size()) << "nothing for the other connection's subscription";
}

TEST_F(ServiceTest, ConnectionLimitUnsubscribeAndTheEndOfAConnection) {
  auto box = std::make_shared<FakeOutbox>();
  auto c = subs.connect(*chains[0], 0, box);
  auto first = id_of(subs.serve(*c, call_of("eth_subscribe", R"(["newHeads"])")));
  auto logs = id_of(subs.serve(*c, call_of("eth_subscribe", R"(["logs",{"address":"0x00000000000000000000000000000000000000aa"}])")));
  EXPECT_EQ(subs.feeds(), 2u);
  auto refused = subs.serve(*c, call_of("eth_subscribe", R"(["newHeads"])"));
  EXPECT_NE(refused.find("-32005"), std::string::npos) << refused;
  EXPECT_NE(refused.find("max_subscriptions_per_connection"), std::string::npos) << refused;
  std::string params = "[" + first + "]";
  EXPECT_NE(subs.serve(*c, call_of("eth_unsubscribe", params)).find("\"result\":true"), std::string::npos);
  EXPECT_NE(subs.serve(*c, call_of("eth_unsubscribe", params)).find("\"result\":false"), std::string::npos);
  EXPECT_EQ(subs.feeds(), 1u) << "the last subscriber of a feed ends it";
  advance(1);
  EXPECT_TRUE(heads_for(*box, first).empty());
  EXPECT_NE(id_of(subs.serve(*c, call_of("eth_subscribe", R"(["newHeads"])"))), "");
  c.reset();  // the connection closed
  EXPECT_EQ(subs.feeds(), 0u);
  EXPECT_EQ(subs.subscriptions(), 0u);
  (void)logs;
}

TEST_F(ServiceTest, ASubscriberWhoseOutboxRefusesDoesNotHoldTheOthersBack) {
  auto slow = std::make_shared<FakeOutbox>(), fine = std::make_shared<FakeOutbox>();
  auto s = subs.connect(*chains[0], 0, slow);
  auto f = subs.connect(*chains[0], 0, fine);
  subs.serve(*s, call_of("eth_subscribe", R"(["newHeads"])"));
  auto id = id_of(subs.serve(*f, call_of("eth_subscribe", R"(["newHeads"])")));
  slow->refuse = true;  // closed as a slow consumer: its session will end the subscription
  advance(3);
  EXPECT_EQ(heads_for(*fine, id), (std::vector<std::string>{head(11), head(12), head(13)}));
  EXPECT_TRUE(slow->pushed.empty());
}

TEST_F(ServiceTest, SolanaCallsOnAnEvmChainAndBadParamsAreRefused) {
  auto box = std::make_shared<FakeOutbox>();
  auto c = subs.connect(*chains[0], 0, box);
  EXPECT_NE(subs.serve(*c, call_of("slotSubscribe", "[]")).find("-32601"), std::string::npos);
  EXPECT_NE(subs.serve(*c, call_of("eth_subscribe", R"(["syncing"])")).find("-32602"), std::string::npos);
  EXPECT_NE(subs.serve(*c, call_of("eth_unsubscribe", "[]")).find("-32602"), std::string::npos);
  EXPECT_EQ(subs.subscriptions(), 0u);
}
