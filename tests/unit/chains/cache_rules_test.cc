// The cache rules for EVM calls: canonical keys (equivalent calls, one key), what is never
// cached, and when an answer is final.
#include "chains/cache_rules.h"

#include <gtest/gtest.h>

using namespace nodeops::chains::evm;

namespace {

std::string key(std::string_view method, std::string_view params) { return plan_cache(method, params).key; }

TEST(EvmCacheKey, EquivalentCallsShareOneKey) {
  // Whitespace, key order and hex case do not make a different call.
  EXPECT_EQ(key("eth_call", R"([{"to":"0xAbC0","data":"0x70A0"},"0x10"])"),
            key("eth_call", R"([ { "data" : "0x70a0", "to" : "0xabc0" } , "0x10" ])"));
  // A block number is one quantity however it is spelled; "earliest" is block 0.
  EXPECT_EQ(key("eth_getBlockByNumber", R"(["0x0A",false])"), key("eth_getBlockByNumber", R"(["0xa",false])"));
  EXPECT_EQ(key("eth_getBlockByNumber", R"(["0x00a",false])"), key("eth_getBlockByNumber", R"(["0xa",false])"));
  EXPECT_EQ(key("eth_getBalance", R"(["0xab","earliest"])"), key("eth_getBalance", R"(["0xAB","0x0"])"));
  EXPECT_EQ(key("eth_getBlockByNumber", R"(["0xa",false])"), R"(eth_getBlockByNumber("0xa",false))");
}

TEST(EvmCacheKey, DifferentCallsHaveDifferentKeys) {
  EXPECT_NE(key("eth_getBlockByNumber", R"(["0xa",false])"), key("eth_getBlockByNumber", R"(["0xa",true])"));
  EXPECT_NE(key("eth_getBlockByNumber", R"(["0xa",false])"), key("eth_getBlockByNumber", R"(["0xb",false])"));
  EXPECT_NE(key("eth_getBalance", R"(["0xab","0x1"])"), key("eth_getCode", R"(["0xab","0x1"])"));
  // Only hex strings are lower-cased: other strings keep their case.
  EXPECT_NE(key("eth_call", R"([{"to":"0x1","data":"Hello"},"0x1"])"), key("eth_call", R"([{"to":"0x1","data":"hello"},"0x1"])"));
}

TEST(EvmCacheKey, CanonicalJsonEscapesStrings) {
  EXPECT_EQ(canonical_json(R"({"b":1,"a":["x\"y",null,true]})"), R"({"a":["x\"y",null,true],"b":1})");
  EXPECT_FALSE(canonical_json("{not json"));
}

TEST(EvmCachePlan, NeverCached) {
  for (auto method : {"eth_sendRawTransaction", "eth_newFilter", "eth_getFilterChanges", "eth_subscribe",
                      "eth_blockNumber", "eth_gasPrice", "eth_estimateGas", "eth_feeHistory"}) {
    EXPECT_EQ(plan_cache(method, "[]").cls, CacheClass::none) << method;
  }
  EXPECT_EQ(plan_cache("eth_getBalance", R"(["0xab","pending"])").cls, CacheClass::none);
  EXPECT_EQ(plan_cache("eth_getBlockByNumber", R"(["pending",false])").cls, CacheClass::none);
  EXPECT_EQ(plan_cache("eth_getLogs", R"([{"fromBlock":"pending"}])").cls, CacheClass::none);
  EXPECT_EQ(plan_cache("eth_getLogs", R"([{"fromBlock":"0x1","toBlock":"pending"}])").cls, CacheClass::none);
  EXPECT_EQ(plan_cache("eth_getBalance", R"(["0xab","nonsense"])").cls, CacheClass::none);
  EXPECT_EQ(plan_cache("eth_getBalance", R"(["0xab",)").cls, CacheClass::none);  // not JSON
}

TEST(EvmCachePlan, BlockParameters) {
  auto p = plan_cache("eth_getBalance", R"(["0xab","0x10"])");
  EXPECT_EQ(p.cls, CacheClass::state);
  EXPECT_EQ(p.block, 16u);
  EXPECT_FALSE(p.at_head);
  for (std::string tag : {"latest", "safe", "finalized"}) {
    EXPECT_TRUE(plan_cache("eth_getBalance", R"(["0xab",")" + tag + "\"]").at_head) << tag;
  }
  EXPECT_TRUE(plan_cache("eth_getBalance", R"(["0xab"])").at_head);  // no block: latest
  EXPECT_EQ(plan_cache("eth_call", R"([{"to":"0x1"},{"blockNumber":"0x5"}])").block, 5u);
  EXPECT_TRUE(plan_cache("eth_call", R"([{"to":"0x1"},{"blockHash":"0x01"}])").at_head);
  auto logs = plan_cache("eth_getLogs", R"([{"fromBlock":"0x1","toBlock":"0x20"}])");
  EXPECT_EQ(logs.cls, CacheClass::logs);
  EXPECT_EQ(logs.block, 32u);
  EXPECT_TRUE(plan_cache("eth_getLogs", R"([{"fromBlock":"0x1"}])").at_head);
  EXPECT_TRUE(plan_cache("eth_getLogs", R"([{"blockHash":"0x01"}])").at_head);
  EXPECT_TRUE(plan_cache("eth_getTransactionReceipt", R"(["0x01"])").block_in_result);
  EXPECT_TRUE(plan_cache("eth_chainId", "").immutable);
}

TEST(EvmCacheFinality, ByTheRequestedBlock) {
  auto p = plan_cache("eth_getBlockByNumber", R"(["0x10",false])");
  EXPECT_EQ(classify_answer(p, R"({"number":"0x10"})", 16), Finality::final);
  EXPECT_EQ(classify_answer(p, R"({"number":"0x10"})", 15), Finality::unfinal);
  EXPECT_EQ(classify_answer(p, R"({"number":"0x10"})", std::nullopt), Finality::unfinal);  // finality unknown
  EXPECT_EQ(classify_answer(p, "null", 100), Finality::uncacheable);  // not found: may appear later
  auto latest = plan_cache("eth_getBalance", R"(["0xab","latest"])");
  EXPECT_EQ(classify_answer(latest, R"("0x1")", 1000000), Finality::unfinal);
  EXPECT_EQ(classify_answer(plan_cache("eth_chainId", "[]"), R"("0x1")", std::nullopt), Finality::final);
}

TEST(EvmCacheFinality, ByTheAnswersBlock) {
  auto tx = plan_cache("eth_getTransactionByHash", R"(["0xaa"])");
  EXPECT_EQ(classify_answer(tx, R"({"hash":"0xaa","blockNumber":"0x5"})", 5), Finality::final);
  EXPECT_EQ(classify_answer(tx, R"({"hash":"0xaa","blockNumber":"0x6"})", 5), Finality::unfinal);
  EXPECT_EQ(classify_answer(tx, R"({"hash":"0xaa","blockNumber":null})", 5), Finality::uncacheable);  // pending
  EXPECT_EQ(classify_answer(tx, "null", 5), Finality::uncacheable);
  auto block = plan_cache("eth_getBlockByHash", R"(["0xbb",false])");
  EXPECT_EQ(classify_answer(block, R"({"number":"0x3","hash":"0xbb"})", 5), Finality::final);
  EXPECT_EQ(classify_answer(block, R"({"number":"0x9","hash":"0xbb"})", 5), Finality::unfinal);
}

TEST(EvmTagResolution, TagsBecomeTheNumbersTheGatewayKnows) {
  TagNumbers at{.latest = 0x64, .finalized = 0x24};
  EXPECT_EQ(resolve_block_tags("eth_getBalance", R"(["0xAB", "latest"])", at), R"(["0xab","0x64"])");
  EXPECT_EQ(resolve_block_tags("eth_getBlockByNumber", R"(["finalized",true])", at), R"(["0x24",true])");
  // An omitted block parameter is latest.
  EXPECT_EQ(resolve_block_tags("eth_getBalance", R"(["0xab"])", at), R"(["0xab","0x64"])");
  EXPECT_EQ(resolve_block_tags("eth_call", R"([{"to":"0x1"}])", at), R"([{"to":"0x1"},"0x64"])");
  // latest and the head's number are one cache entry, and a finalized read is final.
  auto latest = plan_cache("eth_getBalance", *resolve_block_tags("eth_getBalance", R"(["0xab","latest"])", at));
  auto number = plan_cache("eth_getBalance", R"(["0xab","0x64"])");
  EXPECT_EQ(latest.key, number.key);
  EXPECT_FALSE(latest.at_head);
  auto final_read = plan_cache("eth_getBlockByNumber", *resolve_block_tags("eth_getBlockByNumber", R"(["finalized",false])", at));
  EXPECT_EQ(classify_answer(final_read, R"({"number":"0x24"})", 0x24), Finality::final);
}

TEST(EvmTagResolution, WhatStaysAsWritten) {
  TagNumbers at{.latest = 0x64, .finalized = 0x24};
  // Numbers, hashes, tags without a number, methods without a block, bad params.
  EXPECT_FALSE(resolve_block_tags("eth_getBalance", R"(["0xab","0x10"])", at));
  EXPECT_FALSE(resolve_block_tags("eth_getBalance", R"(["0xab","safe"])", at));
  EXPECT_FALSE(resolve_block_tags("eth_getBalance", R"(["0xab","pending"])", at));
  EXPECT_FALSE(resolve_block_tags("eth_getBalance", R"(["0xab",{"blockHash":"0x01"}])", at));
  EXPECT_FALSE(resolve_block_tags("eth_getTransactionReceipt", R"(["0x01"])", at));
  EXPECT_FALSE(resolve_block_tags("eth_blockNumber", "[]", at));
  EXPECT_FALSE(resolve_block_tags("eth_getBalance", "{not json", at));
  EXPECT_FALSE(resolve_block_tags("eth_getBalance", R"({"a":1})", at));
  // Unknown numbers: latest stays latest.
  EXPECT_FALSE(resolve_block_tags("eth_getBalance", R"(["0xab","latest"])", TagNumbers{.finalized = 1}));
  EXPECT_EQ(resolve_block_tags("eth_getBalance", R"(["0xab","finalized"])", TagNumbers{.finalized = 1}), R"(["0xab","0x1"])");
}

TEST(EvmTagResolution, LogFilterBounds) {
  TagNumbers at{.latest = 0x64, .finalized = 0x24};
  // Omitted bounds are latest; keys stay sorted with the resolved bounds in place.
  EXPECT_EQ(resolve_block_tags("eth_getLogs", R"([{"address":"0xAA","topics":[]}])", at),
            R"([{"address":"0xaa","fromBlock":"0x64","toBlock":"0x64","topics":[]}])");
  EXPECT_EQ(resolve_block_tags("eth_getLogs", R"([{"toBlock":"finalized","fromBlock":"0x1"}])", at),
            R"([{"fromBlock":"0x1","toBlock":"0x24"}])");
  EXPECT_EQ(resolve_block_tags("eth_getLogs", R"([{"fromBlock":"finalized","zz":1}])", at),
            R"([{"fromBlock":"0x24","toBlock":"0x64","zz":1}])");
  // A filter by block hash has no bounds to resolve; explicit bounds stay.
  EXPECT_FALSE(resolve_block_tags("eth_getLogs", R"([{"blockHash":"0x01"}])", at));
  EXPECT_FALSE(resolve_block_tags("eth_getLogs", R"([{"fromBlock":"0x1","toBlock":"0x2"}])", at));
  auto plan = plan_cache("eth_getLogs", *resolve_block_tags("eth_getLogs", R"([{"fromBlock":"0x1","toBlock":"finalized"}])", at));
  EXPECT_FALSE(plan.at_head);
  EXPECT_EQ(plan.block, 0x24u);
}

TEST(SolanaCachePlan, FinalizedBlocksAndTransactionsOnly) {
  using nodeops::chains::solana::plan_cache;
  auto block = plan_cache("getBlock", R"([123, {"maxSupportedTransactionVersion":0, "encoding":"json"}])");
  EXPECT_EQ(block.cls, CacheClass::block);
  EXPECT_TRUE(block.immutable);
  // Key order and whitespace do not matter; base58 signatures keep their case.
  EXPECT_EQ(block.key, plan_cache("getBlock", R"([123,{"encoding":"json","maxSupportedTransactionVersion":0}])").key);
  auto tx = plan_cache("getTransaction", R"(["5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW"])");
  EXPECT_EQ(tx.cls, CacheClass::transaction);
  EXPECT_NE(tx.key.find("5VERv8NM"), std::string::npos);
  EXPECT_EQ(plan_cache("getTransaction", R"(["5VER", {"commitment":"finalized"}])").cls, CacheClass::transaction);
  EXPECT_EQ(plan_cache("getTransaction", R"(["5VER", {"commitment":"confirmed"}])").cls, CacheClass::none);
  EXPECT_EQ(plan_cache("getBlock", R"([1, {"commitment":"processed"}])").cls, CacheClass::none);
  EXPECT_EQ(plan_cache("getBlock", R"([1, "finalized"])").cls, CacheClass::none);  // not a config object
  EXPECT_EQ(plan_cache("getSlot", "[]").cls, CacheClass::none);
  EXPECT_EQ(plan_cache("getBalance", R"(["abc"])").cls, CacheClass::none);
  // Found: final at once; not found (null): never kept.
  EXPECT_EQ(classify_answer(block, R"({"blockhash":"x"})", std::nullopt), Finality::final);
  EXPECT_EQ(classify_answer(tx, "null", std::nullopt), Finality::uncacheable);
}

}  // namespace
