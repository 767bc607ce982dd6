#include "chains/evm.h"

#include <gtest/gtest.h>

using namespace nodeops::chains;
using namespace nodeops::chains::evm;

namespace {
NodeStatus parse(const std::string& body, int status = 200) {
  auto adapter = make_evm_adapter("http://127.0.0.1:8545");
  HttpReply r;
  r.ok = true;
  r.status = status;
  r.body = body;
  return adapter->parse_probe(std::span(&r, 1));
}
}  // namespace

TEST(EvmProbe, ReadsAnAnvilStyleBatchInAnyOrder) {
  auto st = parse(R"([{"jsonrpc":"2.0","id":3,"result":"0x1a"},{"jsonrpc":"2.0","id":1,"result":"0x89"},
    {"jsonrpc":"2.0","id":2,"result":false},{"jsonrpc":"2.0","id":4,"result":"0x19"},
    {"jsonrpc":"2.0","id":5,"result":"anvil/v1.7.1"},
    {"jsonrpc":"2.0","id":6,"result":{"number":"0x1a","timestamp":"0x6566a000","hash":"0xab"}}])");
  EXPECT_TRUE(st.reachable);
  EXPECT_EQ(st.head, 26u);
  EXPECT_EQ(st.chain_id, 137u);
  EXPECT_EQ(st.syncing, false);
  EXPECT_EQ(st.peers, 25u);
  EXPECT_EQ(st.client_version, "anvil/v1.7.1");
  EXPECT_EQ(st.head_timestamp, 0x6566a000u);
  EXPECT_TRUE(st.error.empty()) << st.error;
}

TEST(EvmProbe, ReadsTheHeadHashAndTheFinalizedBlock) {
  auto st = parse(R"([{"jsonrpc":"2.0","id":1,"result":"0x1"},{"jsonrpc":"2.0","id":2,"result":false},
    {"jsonrpc":"2.0","id":3,"result":"0x64"},
    {"jsonrpc":"2.0","id":6,"result":{"number":"0x64","hash":"0xDC599A20FDEC4AFB9D1B6B6C616797489D095124CC42C9135DA3DF63C9FE5168"}},
    {"jsonrpc":"2.0","id":7,"result":{"number":"0x24","hash":"0x01"}}])");
  EXPECT_EQ(st.head_hash, "0xdc599a20fdec4afb9d1b6b6c616797489d095124cc42c9135da3df63c9fe5168");
  EXPECT_EQ(st.finalized, 36u);
  EXPECT_TRUE(st.error.empty()) << st.error;
  // A node without the `finalized` tag (an error) or before any final block (null): unknown, and
  // the probe still passes; a hash that is not 32 bytes is not taken.
  for (const char* seventh : {R"({"jsonrpc":"2.0","id":7,"error":{"code":-32000,"message":"unknown block"}})",
                              R"({"jsonrpc":"2.0","id":7,"result":null})"}) {
    auto other = parse(std::string(R"([{"jsonrpc":"2.0","id":1,"result":"0x1"},{"jsonrpc":"2.0","id":2,"result":false},
      {"jsonrpc":"2.0","id":3,"result":"0x64"},{"jsonrpc":"2.0","id":6,"result":{"number":"0x64","hash":"0xab"}},)") +
                       seventh + "]");
    EXPECT_FALSE(other.finalized) << seventh;
    EXPECT_EQ(other.head_hash, "") << seventh;
    EXPECT_TRUE(other.error.empty()) << other.error;
    EXPECT_EQ(other.head, 100u);
  }
}

TEST(EvmProbe, SyncingNodeAndMissingMethods) {
  auto st = parse(R"([{"jsonrpc":"2.0","id":1,"result":"0x1"},
    {"jsonrpc":"2.0","id":2,"result":{"startingBlock":"0x0","currentBlock":"0x10","highestBlock":"0x20"}},
    {"jsonrpc":"2.0","id":3,"result":"0x10"},
    {"jsonrpc":"2.0","id":4,"error":{"code":-32601,"message":"the method net_peerCount does not exist"}}])");
  EXPECT_TRUE(st.reachable);
  EXPECT_EQ(st.syncing, true);
  EXPECT_EQ(st.sync.highest_block, 32u);
  EXPECT_FALSE(st.peers);
}

TEST(EvmProbe, GarbageIsUnreachableWithAReasonNeverACrash) {
  for (const char* body : {"", "<html>502</html>", "{\"jsonrpc\":\"2.0\"}", "[1,2,3]", "[{\"id\":3,\"result\":\"0xzz\"}]"}) {
    auto st = parse(body);
    EXPECT_FALSE(st.head) << body;
    EXPECT_FALSE(st.error.empty()) << body;
  }
  auto st = parse("[]", 503);
  EXPECT_FALSE(st.reachable);
  EXPECT_EQ(st.error, "HTTP 503");
}

TEST(EvmMethods, BlockRanges) {
  auto r = block_range("eth_getBlockByNumber", R"(["0x10", true])");
  EXPECT_EQ(r.low, 16u);
  EXPECT_EQ(r.high, 16u);
  EXPECT_FALSE(block_range("eth_getBlockByNumber", R"(["latest", true])").high);
  EXPECT_EQ(block_range("eth_getBalance", R"(["0xabc", "earliest"])").low, 0u);
  EXPECT_EQ(block_range("eth_call", R"([{}, {"blockNumber": "0x5"}])").high, 5u);
  EXPECT_FALSE(block_range("eth_call", R"([{}, {"blockHash": "0xab"}])").high);
  EXPECT_EQ(block_range("eth_getStorageAt", R"(["0x1", "0x0", "0x20"])").high, 32u);
  auto logs = block_range("eth_getLogs", R"([{"fromBlock":"0x2","toBlock":"0x9"}])");
  EXPECT_EQ(logs.low, 2u);
  EXPECT_EQ(logs.high, 9u);
  EXPECT_FALSE(block_range("eth_chainId", "[]").high);
  EXPECT_FALSE(block_range("eth_getBalance", R"(["0x1", "0xnothex"])").high);
  EXPECT_FALSE(block_range("eth_getBalance", "not json").high);
}

TEST(EvmMethods, PolicyWritesAndErrors) {
  EXPECT_TRUE(denied_by_default("admin_addPeer"));
  EXPECT_TRUE(denied_by_default("engine_forkchoiceUpdatedV3"));
  EXPECT_FALSE(denied_by_default("eth_call"));
  // State-changing dev controls and node-side signing are denied too.
  for (auto m : {"anvil_setBalance", "hardhat_setBalance", "evm_mine", "evm_increaseTime", "eth_sendTransaction",
                 "eth_sign", "eth_signTransaction", "eth_signTypedData_v4", "anvil_dumpState"}) {
    EXPECT_TRUE(denied_by_default(m)) << m;
  }
  for (auto m : {"eth_sendRawTransaction", "eth_getBalance", "eth_syncing", "eth_estimateGas"}) {
    EXPECT_FALSE(denied_by_default(m)) << m;
  }
  EXPECT_TRUE(is_write("eth_sendRawTransaction"));
  EXPECT_FALSE(is_write("eth_call"));
  EXPECT_TRUE(is_already_known(-32000, "already known"));
  EXPECT_TRUE(is_already_known(-32010, "Transaction with the same hash was already imported."));
  EXPECT_FALSE(is_already_known(-32000, "nonce too low"));
  EXPECT_TRUE(is_state_unavailable(-32000, "missing trie node 1234 (path )"));
  EXPECT_TRUE(is_state_unavailable(-32000, "header not found"));
  EXPECT_FALSE(is_state_unavailable(3, "execution reverted"));
  EXPECT_EQ(metric_method("eth_call"), "eth_call");
  EXPECT_EQ(metric_method("eth_someInventedMethod"), "other");
}

TEST(Evm, ResultsMustHaveTheShapeOfTheirMethod) {
  using nodeops::chains::evm::plausible_result;
  EXPECT_TRUE(plausible_result("eth_getBalance", R"("0x21e19e0c9bab2400000")"));
  for (const std::string& bad : std::vector<std::string>{"{}", "null", "12345", R"("")", R"("-0x1")", R"("0x")", R"("0xzz")",
                                "\"0x1" + std::string(70, '0') + "\""}) {
    EXPECT_FALSE(plausible_result("eth_getBalance", bad)) << bad;
  }
  EXPECT_TRUE(plausible_result("eth_call", R"("0x")"));
  EXPECT_TRUE(plausible_result("eth_call", R"("0x000000000000000000000000000000000000000000000000000000000000002a")"));
  EXPECT_FALSE(plausible_result("eth_call", "{}"));
  EXPECT_TRUE(plausible_result("eth_getBlockByNumber", "null"));
  EXPECT_TRUE(plausible_result("eth_getBlockByNumber", R"({"number":"0x1"})"));
  EXPECT_FALSE(plausible_result("eth_getBlockByNumber", R"("0x1")"));
  // A block, transaction or receipt has members: `{}` is an upstream lying (tests/support/fault_upstream.py).
  EXPECT_FALSE(plausible_result("eth_getBlockByNumber", "{}"));
  EXPECT_FALSE(plausible_result("eth_getTransactionReceipt", "{ \n }"));
  // Methods without a known shape pass whatever they answer.
  EXPECT_TRUE(plausible_result("debug_traceTransaction", "12345"));
}
