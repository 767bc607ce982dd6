#include "chains/evm_syncing.h"

#include <cmath>

#include <gtest/gtest.h>

#include "fixtures.h"

namespace nodeops::chains {
namespace {

using nodeops::testing::read_fixture;

// Parses the `result` of a recorded JSON-RPC reply.
SyncProgress parse_reply(const std::string& file, std::string* error = nullptr) {
  std::string body = read_fixture("evm/eth_syncing/" + file);
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(body);
  return parse_eth_syncing(doc["result"].value(), error);
}

TEST(EthSyncing, SyncedIsFalse) {
  std::string err;
  SyncProgress s = parse_reply("geth_synced.json", &err);
  EXPECT_FALSE(s.syncing);
  EXPECT_FALSE(s.current_block);
  EXPECT_FALSE(s.percentage);
  EXPECT_EQ(err, "");
}

TEST(EthSyncing, GethSnapSync) {
  SyncProgress s = parse_reply("geth_snap_syncing.json");
  EXPECT_TRUE(s.syncing);
  EXPECT_EQ(s.starting_block, 0x1540000u);
  EXPECT_EQ(s.current_block, 0x1546a1bu);
  EXPECT_EQ(s.highest_block, 0x154a2b0u);
  ASSERT_TRUE(s.percentage);
  EXPECT_NEAR(*s.percentage, 100.0 * 0x1546a1b / 0x154a2b0, 1e-9);
}

TEST(EthSyncing, RethStagesFillZeroTopLevel) {
  SyncProgress s = parse_reply("reth_stages.json");
  EXPECT_TRUE(s.syncing);
  EXPECT_EQ(s.current_block, 17600000u);  // the Execution stage
  EXPECT_EQ(s.highest_block, 22295842u);  // the furthest stage (Headers)
  ASSERT_TRUE(s.percentage);
  EXPECT_NEAR(*s.percentage, 100.0 * 17600000 / 22295842, 1e-9);
}

TEST(EthSyncing, RethNullishHasNoPercentage) {
  SyncProgress s = parse_reply("reth_nullish.json");
  EXPECT_TRUE(s.syncing);
  EXPECT_EQ(s.current_block, 0u);
  EXPECT_EQ(s.highest_block, 0u);
  EXPECT_FALSE(s.percentage);  // 0/0 must never become NaN
}

TEST(EthSyncing, ErigonStagesKeepTopLevel) {
  SyncProgress s = parse_reply("erigon_stages.json");
  EXPECT_TRUE(s.syncing);
  EXPECT_EQ(s.current_block, 22291020u);
  EXPECT_EQ(s.highest_block, 22295842u);
  EXPECT_FALSE(s.starting_block);
  ASSERT_TRUE(s.percentage);
  EXPECT_GT(*s.percentage, 99.9);
  EXPECT_LE(*s.percentage, 100.0);
}

TEST(EthSyncing, ErigonAllZeroStages) {
  SyncProgress s = parse_reply("erigon_zero_stages.json");
  EXPECT_TRUE(s.syncing);
  EXPECT_FALSE(s.percentage);
}

TEST(EthSyncing, NethermindObject) {
  SyncProgress s = parse_reply("nethermind_syncing.json");
  EXPECT_TRUE(s.syncing);
  EXPECT_EQ(s.current_block, 0x13f2c41u);
  ASSERT_TRUE(s.percentage);
  EXPECT_LT(*s.percentage, 100.0);
}

TEST(EthSyncing, NethermindExplicitNotSyncing) {
  SyncProgress s = parse_eth_syncing(std::string_view(
      R"({"isSyncing":false,"startingBlock":"0x0","currentBlock":"0x0","highestBlock":"0x0"})"));
  EXPECT_FALSE(s.syncing);
  EXPECT_FALSE(s.percentage);
}

TEST(EthSyncing, DecimalNumbers) {
  SyncProgress s = parse_reply("decimal_numbers.json");
  EXPECT_EQ(s.current_block, 900u);
  EXPECT_EQ(s.highest_block, 1000u);
  EXPECT_DOUBLE_EQ(*s.percentage, 90.0);
}

TEST(EthSyncing, CurrentAboveHighestClampsTo100) {
  SyncProgress s = parse_eth_syncing(std::string_view(R"({"currentBlock":"0x20","highestBlock":"0x10"})"));
  EXPECT_DOUBLE_EQ(*s.percentage, 100.0);
}

TEST(EthSyncing, GarbageNeverThrowsNorNaN) {
  for (std::string_view text :
       {std::string_view("\"yes\""), std::string_view("42"), std::string_view("null"),
        std::string_view("[1,2]"), std::string_view("{"), std::string_view(""),
        std::string_view(R"({"currentBlock":"0xZZ","highestBlock":1e300})"),
        std::string_view(R"({"currentBlock":-1,"highestBlock":"0x"})"),
        std::string_view(R"({"currentBlock":"0x1","highestBlock":"0xfffffffffffffffffffff"})"),
        std::string_view(R"({"stages":[1,{"stage_name":5},{"block_number":"0x5"}]})"),
        std::string_view("true")}) {
    std::string err;
    SyncProgress s;
    EXPECT_NO_THROW(s = parse_eth_syncing(text, &err)) << text;
    if (s.percentage) {
      EXPECT_FALSE(std::isnan(*s.percentage)) << text;
      EXPECT_GE(*s.percentage, 0.0);
      EXPECT_LE(*s.percentage, 100.0);
    }
  }
  std::string err;
  parse_eth_syncing(std::string_view("\"yes\""), &err);
  EXPECT_NE(err, "");
  EXPECT_EQ(err.find('\n'), std::string::npos);
}

TEST(ReadQuantity, Encodings) {
  simdjson::dom::parser p;
  auto q = [&](std::string_view json) {
    simdjson::dom::element e = p.parse(json.data(), json.size());
    return read_quantity(e);
  };
  EXPECT_EQ(q("\"0x1a\""), 26u);
  EXPECT_EQ(q("\"26\""), 26u);
  EXPECT_EQ(q("26"), 26u);
  EXPECT_EQ(q("26.0"), 26u);
  EXPECT_EQ(q("\"0xffffffffffffffff\""), UINT64_MAX);
  EXPECT_FALSE(q("\"0x10000000000000000\""));
  EXPECT_FALSE(q("-1"));
  EXPECT_FALSE(q("26.5"));
  EXPECT_FALSE(q("\"0x\""));
  EXPECT_FALSE(q("\"\""));
  EXPECT_FALSE(q("\"1e3\""));
  EXPECT_FALSE(q("true"));
  EXPECT_FALSE(q("1e300"));
}

}  // namespace
}  // namespace nodeops::chains
