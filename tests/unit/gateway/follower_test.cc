// The block follower against a fake chain: extending, reorgs at the same height, deeper and
// shorter, a source that fails mid-walk, and the bounded event log.
#include "gateway/follower.h"

#include "fake_chain.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <map>

using namespace nodeops;
using namespace nodeops::gateway;
namespace asio = boost::asio;

namespace {

using fake::FakeChain;
using fake::h;
using fake::step;

std::vector<std::string> describe(const ChainEvents& ev, uint64_t from = 0) {
  std::vector<std::string> out;
  for (const auto& e : ev.since(from)) {
    out.push_back((e.kind == ChainEvent::Kind::added ? "+" : "-") + std::to_string(e.number) + "/" +
                  std::to_string(e.hash[0]));
  }
  return out;
}

TEST(Follower, StartsAtTheTargetWithoutAnEventThenAddsEachBlockOnce) {
  FakeChain chain;
  chain.extend(11);
  ChainFollower f;
  auto r = step(f, chain, chain.head());
  EXPECT_EQ(r.head, 10u);
  EXPECT_TRUE(f.events()->events.empty());
  ASSERT_TRUE(f.events()->head);
  EXPECT_EQ(f.events()->head->number, 10u);
  chain.extend(3);
  r = step(f, chain, chain.head());
  EXPECT_EQ(r.head, 13u);
  EXPECT_EQ(describe(*f.events()), (std::vector<std::string>{"+11/0", "+12/0", "+13/0"}));
  // Nothing new: only the tip is checked, no event.
  step(f, chain, chain.head());
  EXPECT_EQ(f.events()->end_seq(), 3u);
}

TEST(Follower, AReorgAtTheSameHeightRemovesTheOldTipAndAddsTheNewOne) {
  FakeChain chain;
  chain.extend(6);
  ChainFollower f;
  step(f, chain, chain.head());
  // anvil_reorg 2: blocks 4 and 5 replaced.
  chain.forks[4] = chain.forks[5] = 1;
  auto r = step(f, chain, chain.head());
  EXPECT_EQ(r.reorgs, 1u);
  EXPECT_EQ(r.removed_blocks, 1u);  // the window only held block 5
  EXPECT_EQ(describe(*f.events()), (std::vector<std::string>{"-5/0", "+5/1"}));
}

TEST(Follower, AReorgWalksBackUntilTheNewChainJoinsAndPublishesRemovalsLowestFirst) {
  FakeChain chain;
  chain.extend(3);
  ChainFollower f;
  step(f, chain, chain.head());
  chain.extend(4);  // 3..6 on fork 0
  step(f, chain, chain.head());
  uint64_t seq = f.events()->end_seq();
  // Blocks 4..6 replaced by 4..7 of fork 2.
  chain.forks.resize(4);
  chain.extend(4, 2);
  auto r = step(f, chain, chain.head());
  EXPECT_EQ(r.reorgs, 1u);
  EXPECT_EQ(r.removed_blocks, 3u);
  EXPECT_EQ(describe(*f.events(), seq),
            (std::vector<std::string>{"-4/0", "-5/0", "-6/0", "+4/2", "+5/2", "+6/2", "+7/2"}));
  EXPECT_EQ(r.head, 7u);
}

TEST(Follower, AShorterChainIsSeenWhenThePoolHeadGoesBack) {
  FakeChain chain;
  chain.extend(8);
  ChainFollower f;
  step(f, chain, 5);
  step(f, chain, 7);  // holds 5..7
  chain.forks.resize(6);
  chain.forks[5] = 3;  // the chain is now 0..5 with a new block 5
  auto r = step(f, chain, 5);
  EXPECT_EQ(r.reorgs, 1u);
  EXPECT_EQ(describe(*f.events()), (std::vector<std::string>{"+6/0", "+7/0", "-5/0", "-6/0", "-7/0", "+5/3"}));
}

TEST(Follower, ASourceThatFailsMidWalkPublishesNothingOfTheReorgAndTheNextStepDoesIt) {
  FakeChain chain;
  chain.extend(10);
  ChainFollower f;
  step(f, chain, 9);
  chain.extend(1);
  step(f, chain, 10);  // window 9, 10
  uint64_t seq = f.events()->end_seq();
  chain.forks[9] = chain.forks[10] = 1;
  chain.extend(1, 1);  // 9..11 on fork 1
  chain.fail_at = 9;
  auto r = step(f, chain, 11);
  EXPECT_EQ(r.reorgs, 0u);
  EXPECT_EQ(f.events()->end_seq(), seq);
  chain.fail_at.reset();
  r = step(f, chain, 11);
  EXPECT_EQ(r.reorgs, 1u);
  EXPECT_EQ(describe(*f.events(), seq), (std::vector<std::string>{"-9/0", "-10/0", "+9/1", "+10/1", "+11/1"}));
}

TEST(Follower, AReorgDeeperThanTheWindowRemovesAllItHolds) {
  FakeChain chain;
  chain.extend(20);
  ChainFollower f(ChainFollower::Options{4, 100, 64});
  step(f, chain, 10);
  step(f, chain, 19);  // window: 16..19
  uint64_t seq = f.events()->end_seq();
  for (size_t i = 12; i < chain.forks.size(); ++i) chain.forks[i] = 5;
  step(f, chain, 19);
  auto ev = describe(*f.events(), seq);
  ASSERT_GE(ev.size(), 8u);
  EXPECT_EQ(std::vector<std::string>(ev.begin(), ev.begin() + 4),
            (std::vector<std::string>{"-16/0", "-17/0", "-18/0", "-19/0"}));
  EXPECT_EQ(ev.back(), "+19/5");
}

TEST(Follower, TheEventLogIsBoundedAndSequenceNumbersKeepGrowingAcrossAReset) {
  FakeChain chain;
  chain.extend(1);
  ChainFollower f(ChainFollower::Options{8, 5, 64});
  step(f, chain, 0);
  chain.extend(9);
  step(f, chain, 9);
  auto ev = f.events();
  EXPECT_EQ(ev->end_seq(), 9u);
  EXPECT_EQ(ev->first_seq, 4u);
  EXPECT_EQ(ev->events.size(), 5u);
  EXPECT_EQ(ev->since(0).size(), 5u);  // a cursor below first_seq gets what is left
  f.reset();
  EXPECT_FALSE(f.events()->head);
  step(f, chain, 9);
  chain.extend(1);
  step(f, chain, 10);
  EXPECT_EQ(f.events()->end_seq(), 10u);
}

TEST(Follower, ParsesABlockHeaderAndRefusesGarbage) {
  auto b = parse_block_header(
      R"({"number":"0x1b","hash":"0x00000000000000000000000000000000000000000000000000000000000000aa","parentHash":"0x00000000000000000000000000000000000000000000000000000000000000BB","timestamp":"0x1"})");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->number, 27u);
  EXPECT_EQ(b->hash[31], 0xaa);
  EXPECT_EQ(b->parent[31], 0xbb);
  EXPECT_FALSE(parse_block_header("null"));
  EXPECT_FALSE(parse_block_header("{\"number\":\"0x1\"}"));
  EXPECT_FALSE(parse_block_header("{\"number\":\"0x1\",\"hash\":\"0x12\",\"parentHash\":\"0x12\"}"));
  EXPECT_FALSE(parse_block_header("[1,2"));
  EXPECT_EQ(hash_hex(b->hash), "0x00000000000000000000000000000000000000000000000000000000000000aa");
}

}  // namespace
