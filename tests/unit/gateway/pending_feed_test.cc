// The pending-transaction feed without a network: what it takes from eth_getFilterChanges, how it
// installs its upstream filter again after a failure (a restart), that it removes its filter and
// stops when nobody wants it; and a pending filter's bounded queue of hashes.
#include "gateway/pending_feed.h"

#include "core/coroutine_warnings.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <deque>

#include "gateway/filters.h"

using namespace nodeops;
using namespace nodeops::gateway;
namespace asio = boost::asio;

namespace {

std::string hash(char digit) { return "0x" + std::string(64, digit); }
std::string quoted(char digit) { return "\"" + hash(digit) + "\""; }

}  // namespace

TEST(PendingHashes, KeepsHashesInOrderInLowerCaseAndRejectsWhatIsNotAnArray) {
  auto got = pending_hashes("[\"" + hash('A') + "\",\"0x12\",7,\"" + hash('b') + "\"]");
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, (std::vector<std::string>{quoted('a'), quoted('b')}));
  EXPECT_EQ(pending_hashes("[]"), std::vector<std::string>{});
  EXPECT_FALSE(pending_hashes("null"));  // a node that forgot the filter may say so
  EXPECT_FALSE(pending_hashes("{\"x\":1}"));
  EXPECT_FALSE(pending_hashes("[\"0x"));
}

TEST(PendingFilter, QueuesHashesUpToTheCapAndCountsWhatItDrops) {
  Filter f;
  f.kind = FilterKind::pending;
  EXPECT_EQ(f.add_hashes({quoted('1'), quoted('2')}), 0u);
  std::vector<std::string> many(Filter::kMaxOps, quoted('3'));
  EXPECT_EQ(f.add_hashes(many), 2u);
  EXPECT_EQ(f.hashes.size(), Filter::kMaxOps);
  EXPECT_EQ(f.hashes.front(), quoted('3'));  // the oldest went first
}

TEST(PendingFeed, InstallsAgainAfterAFailureAndRemovesItsFilterWhenNobodyWantsIt) {
  asio::io_context io;
  struct Step {
    std::string method;
    std::optional<std::string> result;
  };
  // What the nodes answer, in order: install on slot 1, two polls, the node fails, install on
  // slot 2, one poll; then the feed is no longer wanted and uninstalls.
  std::deque<Step> script = {
      {"eth_newPendingTransactionFilter", "\"0x1\""},
      {"eth_getFilterChanges", "[\"" + hash('a') + "\"]"},
      {"eth_getFilterChanges", "[]"},
      {"eth_getFilterChanges", std::nullopt},
      {"eth_newPendingTransactionFilter", "\"0x2\""},
      {"eth_getFilterChanges", "[\"" + hash('b') + "\",\"" + hash('c') + "\"]"},
  };
  std::vector<std::string> calls;
  std::vector<std::optional<size_t>> only;
  size_t slot = 0;
  PendingFeed::Call call = [&](std::string_view method, std::string params, std::optional<size_t> to,
                               Answered* answered) -> asio::awaitable<std::optional<std::string>> {
    calls.push_back(std::string(method) + params);
    only.push_back(to);
    if (method == "eth_uninstallFilter") co_return "true";
    EXPECT_FALSE(script.empty());
    if (script.empty()) co_return std::nullopt;
    auto step = script.front();
    script.pop_front();
    EXPECT_EQ(step.method, method);
    if (answered) *answered = Answered{++slot, "r" + std::to_string(slot)};
    co_return step.result;
  };
  std::vector<PendingFeed::Batch> batches;
  PendingFeed feed;
  feed.ensure_running(
      io, "eth", call, Duration(1), [&] { return !script.empty(); },
      [&](const PendingFeed::Batch& b) { batches.push_back(b); });
  feed.ensure_running(io, "eth", call, Duration(1), [] { return true; }, {});  // running: ignored
  io.run();
  EXPECT_FALSE(feed.running());
  EXPECT_FALSE(feed.live());
  ASSERT_EQ(batches.size(), 4u);
  EXPECT_EQ(batches[0].hashes, std::vector<std::string>{quoted('a')});
  EXPECT_FALSE(batches[0].restarted);
  EXPECT_TRUE(batches[1].restarted);  // installed again on the other node
  EXPECT_EQ(batches[2].hashes, (std::vector<std::string>{quoted('b'), quoted('c')}));
  EXPECT_FALSE(batches[3].running);  // the stop
  // Polls go to the node holding the filter; the last one removes it there.
  EXPECT_EQ(calls[1], "eth_getFilterChanges[\"0x1\"]");
  EXPECT_EQ(only[1], std::optional<size_t>(1));
  EXPECT_EQ(calls.back(), "eth_uninstallFilter[\"0x2\"]");
  EXPECT_EQ(only.back(), std::optional<size_t>(2));
}

TEST(PendingFeed, DoesNotWriteBackAFilterIdThatIsNotAPlainString) {
  asio::io_context io;
  int installs = 0;
  PendingFeed::Call call = [&](std::string_view method, std::string, std::optional<size_t>,
                               Answered*) -> asio::awaitable<std::optional<std::string>> {
    EXPECT_EQ(method, "eth_newPendingTransactionFilter");
    ++installs;
    co_return std::string("\"0x1\"],[\"x");
  };
  PendingFeed feed;
  feed.ensure_running(io, "eth", call, Duration(1), [&] { return installs < 3; }, {});
  io.run();
  EXPECT_EQ(installs, 3);
  EXPECT_FALSE(feed.live());
}
