// What a newHeads feed sends for the follower's events (gapless back-fill, reorgs, a feed that fell
// behind), the header object kept from a block, notification shapes, which subscriptions share a
// feed, and eth_subscribe's params.
#include "gateway/subscriptions.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>

using namespace nodeops;
using namespace nodeops::gateway;
namespace asio = boost::asio;

namespace {

BlockHash h(uint64_t number, uint8_t fork) {
  BlockHash out{};
  out[0] = fork;
  for (int i = 0; i < 8; ++i) out[31 - i] = static_cast<uint8_t>(number >> (8 * i));
  return out;
}

// A chain of (number, fork) blocks whose header JSON names both; nodes can be made to fail, which
// moves the source to another (a "switch").
struct FakeChain : BlockSource {
  std::vector<uint8_t> forks;
  std::optional<uint64_t> fail_at;
  uint64_t switched = 0;
  uint64_t switch_next = 0;  // switches the next block() call makes (another node answered)

  void extend(size_t n, uint8_t fork = 0) {
    for (size_t i = 0; i < n; ++i) forks.push_back(fork);
  }
  uint64_t head() const { return forks.size() - 1; }
  asio::awaitable<std::optional<BlockHeader>> block(uint64_t n) override {
    switched += std::exchange(switch_next, 0);
    if (n >= forks.size() || (fail_at && n == *fail_at)) co_return std::nullopt;
    auto json = std::make_shared<const std::string>("{\"number\":" + std::to_string(n) +
                                                    ",\"fork\":" + std::to_string(forks[n]) + "}");
    co_return BlockHeader{n, h(n, forks[n]), n == 0 ? BlockHash{} : h(n - 1, forks[n - 1]), json};
  }
  uint64_t switches() const override { return switched; }
};

ChainFollower::StepReport step(ChainFollower& f, FakeChain& src, uint64_t target) {
  asio::io_context io;
  ChainFollower::StepReport out;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { out = co_await f.step(src, target); }, asio::detached);
  io.run();
  return out;
}

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
