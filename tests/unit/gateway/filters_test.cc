// Filter bookkeeping without sockets: ids, caps and expiry of the table; how a log filter turns
// the follower's events into work (a removal cancels an undelivered block, lost changes are
// counted); remembered logs coming back as removed; the criteria eth_newFilter accepts.
#include "gateway/filters.h"

#include <gtest/gtest.h>

#include <set>

using namespace nodeops;
using namespace nodeops::gateway;
using Clock = std::chrono::steady_clock;

namespace {

BlockHash h(uint8_t n, uint8_t fork = 0) {
  BlockHash out{};
  out[0] = fork;
  out[31] = n;
  return out;
}

ChainEvent added(uint8_t n, uint8_t fork = 0) { return {ChainEvent::Kind::added, n, h(n, fork)}; }
ChainEvent removed(uint8_t n, uint8_t fork = 0) { return {ChainEvent::Kind::removed, n, h(n, fork)}; }

std::shared_ptr<Filter> filter_of(std::string client, size_t chain = 0) {
  auto f = std::make_shared<Filter>();
  f->client = std::move(client);
  f->chain = chain;
  return f;
}

TEST(FilterIds, AreSixteenRandomBytesAsAQuantity) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = new_filter_id();
    ASSERT_TRUE(id.starts_with("0x")) << id;
    ASSERT_LE(id.size(), 34u);
    ASSERT_GE(id.size(), 20u);  // 2^-64 odds of being shorter
    ASSERT_NE(id[2], '0') << id;
    ASSERT_EQ(id.find_first_not_of("0123456789abcdef", 2), std::string::npos) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(FilterTable, CapsPerClientAndInTotal) {
  FilterTable table({2, 3, std::chrono::seconds(60)});
  auto now = Clock::now();
  ASSERT_TRUE(std::holds_alternative<std::string>(table.install(filter_of("a"), now)));
  ASSERT_TRUE(std::holds_alternative<std::string>(table.install(filter_of("a"), now)));
  auto third = table.install(filter_of("a"), now);
  ASSERT_TRUE(std::holds_alternative<FilterTable::Refusal>(third));
  EXPECT_EQ(std::get<FilterTable::Refusal>(third), FilterTable::Refusal::per_client);
  auto b = table.install(filter_of("b"), now);
  ASSERT_TRUE(std::holds_alternative<std::string>(b));
  auto c = table.install(filter_of("c"), now);
  ASSERT_TRUE(std::holds_alternative<FilterTable::Refusal>(c));
  EXPECT_EQ(std::get<FilterTable::Refusal>(c), FilterTable::Refusal::total);
  // Uninstalling frees the room.
  ASSERT_TRUE(table.uninstall(std::get<std::string>(b)));
  EXPECT_FALSE(table.uninstall(std::get<std::string>(b)));
  EXPECT_TRUE(std::holds_alternative<std::string>(table.install(filter_of("c"), now)));
}

TEST(FilterTable, AFilterNotPolledForTheTimeoutIsGoneAndPollingKeepsItAlive) {
  FilterTable table({10, 10, std::chrono::seconds(60)});
  auto t0 = Clock::now();
  auto polled = std::get<std::string>(table.install(filter_of("a"), t0));
  auto idle = std::get<std::string>(table.install(filter_of("a", 1), t0));
  EXPECT_TRUE(table.find(polled, t0 + std::chrono::seconds(50), true));
  EXPECT_TRUE(table.find(idle, t0 + std::chrono::seconds(50), false));  // not a poll: no new lease
  EXPECT_EQ(table.count_of_chain(1), 1u);
  auto later = t0 + std::chrono::seconds(70);
  EXPECT_FALSE(table.find(idle, later, true));
  EXPECT_TRUE(table.find(polled, later, true));
  auto gone = table.expire(later);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0]->chain, 1u);
  EXPECT_EQ(table.count_of_chain(1), 0u);
  EXPECT_FALSE(table.uninstall(idle));
  EXPECT_FALSE(table.find("0x1234", later, true));
}

TEST(LogFilter, TurnsEventsIntoOpsAndARemovalCancelsABlockNotDeliveredYet) {
  Filter f;
  f.kind = FilterKind::logs;
  ChainEvents ev;
  ev.events = {added(1), added(2), added(3)};
  EXPECT_EQ(f.absorb(ev), 0u);
  EXPECT_EQ(f.ops.size(), 3u);
  // Blocks 2, 3 delivered? No: still pending. A reorg replaces them: they are never fetched.
  ev.events.insert(ev.events.end(), {removed(2), removed(3), added(2, 1), added(3, 1)});
  EXPECT_EQ(f.absorb(ev), 0u);
  ASSERT_EQ(f.ops.size(), 3u);
  EXPECT_EQ(f.ops[0].hash, h(1));
  EXPECT_EQ(f.ops[1].hash, h(2, 1));
  EXPECT_EQ(f.ops[2].hash, h(3, 1));
  EXPECT_EQ(f.cursor, 7u);
}

TEST(LogFilter, ARemovalOfADeliveredBlockBecomesAnOpAndGivesItsLogsBackAsRemoved) {
  Filter f;
  f.kind = FilterKind::logs;
  f.remember(5, h(5), {R"({"address":"0x1","blockHash":"x","removed":false})", R"({"logIndex":"0x1"})"}, 0);
  ChainEvents ev;
  ev.first_seq = 10;
  f.cursor = 10;
  ev.events = {removed(5), added(5, 1)};
  f.absorb(ev);
  ASSERT_EQ(f.ops.size(), 2u);
  EXPECT_EQ(f.ops[0].kind, ChainEvent::Kind::removed);
  auto back = f.unremember(h(5));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, (std::vector<std::string>{R"({"address":"0x1","blockHash":"x","removed":true})",
                                             R"({"removed":true,"logIndex":"0x1"})"}));
  EXPECT_FALSE(f.unremember(h(5)));  // once
  EXPECT_EQ(f.delivered_bytes, 0u);
}

TEST(LogFilter, RemembersOnlyRecentBlocksAndABoundedNumberOfBytes) {
  Filter f;
  for (uint8_t n = 1; n <= 10; ++n) f.remember(n, h(n), {"{}"}, n > 3 ? n - 3 : 0);
  EXPECT_EQ(f.delivered.front().number, 7u);
  std::string big(Filter::kMaxRememberedBytes / 2, 'x');
  f.remember(11, h(11), {big}, 0);
  f.remember(12, h(12), {big}, 0);
  EXPECT_LE(f.delivered_bytes, Filter::kMaxRememberedBytes);
  EXPECT_EQ(f.delivered.back().number, 12u);
  EXPECT_FALSE(f.unremember(h(7)));  // forgotten to make room
}

TEST(LogFilter, CountsWhatASlowPollerLost) {
  Filter f;
  f.cursor = 2;
  ChainEvents ev;
  ev.first_seq = 5;  // events 2..4 are no longer kept
  ev.events = {added(5), added(6)};
  EXPECT_EQ(f.absorb(ev), 3u);
  EXPECT_EQ(f.ops.size(), 2u);
  // Over the cap of pending ops: the oldest go, counted.
  ChainEvents many;
  many.first_seq = f.cursor;
  for (size_t i = 0; i < Filter::kMaxOps; ++i) many.events.push_back(added(static_cast<uint8_t>(i)));
  EXPECT_EQ(f.absorb(many), 2u);
  EXPECT_EQ(f.ops.size(), Filter::kMaxOps);
}

TEST(BlockFilter, TakesTheAddedHashesInOrderOnce) {
  Filter f;
  ChainEvents ev;
  ev.events = {added(1), added(2), removed(2), added(2, 1)};
  size_t lost = 0;
  auto got = f.take_blocks(ev, lost);
  EXPECT_EQ(got, (std::vector<BlockHash>{h(1), h(2), h(2, 1)}));
  EXPECT_EQ(lost, 0u);
  EXPECT_TRUE(f.take_blocks(ev, lost).empty());
}

TEST(LogCriteria, AcceptsWhatGethAcceptsAndSaysWhatIsWrong) {
  auto ok = parse_log_criteria(
      R"([{"address":"0x5FbDB2315678afecb367f032d93F642f64180aa3","topics":[null,["0x0000000000000000000000000000000000000000000000000000000000000001"]],"fromBlock":"0x10","toBlock":"latest"}])");
  ASSERT_TRUE(std::holds_alternative<LogCriteria>(ok));
  const auto& c = std::get<LogCriteria>(ok);
  EXPECT_EQ(c.from_block, 16u);
  EXPECT_FALSE(c.to_block);
  EXPECT_TRUE(c.covers(16));
  EXPECT_FALSE(c.covers(15));
  auto params = c.params_for(h(7));
  EXPECT_NE(params.find("\"blockHash\":\"0x00"), std::string::npos) << params;
  EXPECT_NE(params.find("\"address\":\"0x5FbDB2315678afecb367f032d93F642f64180aa3\""), std::string::npos) << params;
  EXPECT_NE(params.find("\"topics\":[null,["), std::string::npos) << params;
  EXPECT_EQ(c.raw.front(), '{');

  auto empty = parse_log_criteria("[{}]");
  ASSERT_TRUE(std::holds_alternative<LogCriteria>(empty));
  EXPECT_EQ(std::get<LogCriteria>(empty).params_for(h(1)).find("address"), std::string::npos);

  for (const char* bad : {"", "[]", "[1]", "{}", R"([{"address":"0x12"}])", R"([{"topics":"0x1"}])",
                          R"([{"topics":[1]}])", R"([{"topics":[null,null,null,null,null]}])",
                          R"([{"fromBlock":"0x5","toBlock":"0x4"}])", R"([{"fromBlock":"soon"}])",
                          R"([{"blockHash":"0x0000000000000000000000000000000000000000000000000000000000000001"}])",
                          R"([{"topics":[[["0x1"]]]}])"}) {
    auto r = parse_log_criteria(bad);
    EXPECT_TRUE(std::holds_alternative<std::string>(r)) << bad;
  }
}

TEST(LogCriteria, MarksALogRemoved) {
  EXPECT_EQ(mark_removed(R"({"a":1,"removed":false})"), R"({"a":1,"removed":true})");
  EXPECT_EQ(mark_removed(R"({"a":1})"), R"({"removed":true,"a":1})");
  EXPECT_EQ(mark_removed("{}"), R"({"removed":true})");
}

}  // namespace
