#include "chains/evm.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "chains/evm_syncing.h"
#include "chains/probe_text.h"

namespace nodeops::chains::evm {
namespace {

// EVM methods, then the Solana RPC methods the gateway also serves.
constexpr std::array<std::string_view, 72> kKnown = {
    "eth_blockNumber", "eth_chainId", "eth_call", "eth_estimateGas", "eth_gasPrice",
    "eth_maxPriorityFeePerGas", "eth_feeHistory", "eth_getBalance", "eth_getCode", "eth_getStorageAt",
    "eth_getTransactionCount", "eth_getBlockByNumber", "eth_getBlockByHash", "eth_getBlockReceipts",
    "eth_getBlockTransactionCountByNumber", "eth_getBlockTransactionCountByHash",
    "eth_getTransactionByHash", "eth_getTransactionByBlockNumberAndIndex",
    "eth_getTransactionByBlockHashAndIndex", "eth_getTransactionReceipt", "eth_getUncleByBlockNumberAndIndex",
    "eth_getUncleCountByBlockNumber", "eth_getLogs", "eth_getProof", "eth_createAccessList",
    "eth_sendRawTransaction", "eth_sendTransaction", "eth_syncing", "eth_accounts", "eth_blobBaseFee",
    "eth_newFilter", "eth_newBlockFilter", "eth_getFilterChanges", "eth_getFilterLogs",
    "eth_uninstallFilter", "eth_subscribe", "eth_unsubscribe", "eth_sign", "eth_signTransaction",
    "net_version", "net_peerCount", "net_listening", "web3_clientVersion", "web3_sha3",
    "debug_traceTransaction", "debug_traceCall", "debug_traceBlockByNumber", "trace_block",
    "trace_transaction", "trace_filter", "txpool_status", "txpool_content", "admin_peers",
    "admin_nodeInfo", "bor_getAuthor", "bor_getCurrentValidators",
    "getSlot", "getBalance", "getAccountInfo", "getMultipleAccounts", "getProgramAccounts", "getLatestBlockhash",
    "sendTransaction", "simulateTransaction", "getTransaction", "getSignatureStatuses", "getSignaturesForAddress",
    "getBlock", "getBlockHeight", "getEpochInfo", "getHealth", "getVersion"};

// Denied unless a chain allows them: methods that change a node's state outside consensus (admin,
// miner, dev-chain controls), sign with keys the node holds, expose its internals (debug_) or its
// engine API. Matched as prefixes, so "eth_sign" covers eth_signTransaction and eth_signTypedData_v4.
constexpr std::array<std::string_view, 10> kDeniedPrefixes = {
    "admin_", "debug_", "personal_", "miner_", "engine_", "anvil_", "hardhat_", "evm_", "eth_sign", "clique_"};

// Index of the block parameter for methods that take one positionally.
int block_param_index(std::string_view m) {
  static constexpr std::pair<std::string_view, int> kTable[] = {
      {"eth_getBlockByNumber", 0}, {"eth_getBlockTransactionCountByNumber", 0},
      {"eth_getUncleCountByBlockNumber", 0}, {"eth_getTransactionByBlockNumberAndIndex", 0},
      {"eth_getUncleByBlockNumberAndIndex", 0}, {"eth_getBlockReceipts", 0},
      {"debug_traceBlockByNumber", 0}, {"trace_block", 0}, {"trace_replayBlockTransactions", 0},
      {"eth_getBalance", 1}, {"eth_getCode", 1}, {"eth_getTransactionCount", 1}, {"eth_call", 1},
      {"eth_estimateGas", 1}, {"eth_feeHistory", 1}, {"eth_createAccessList", 1}, {"debug_traceCall", 1},
      {"eth_getStorageAt", 2}, {"eth_getProof", 2}};
  for (auto& [name, idx] : kTable) {
    if (name == m) return idx;
  }
  return -1;
}

std::optional<uint64_t> hex_quantity(std::string_view s) {
  if (!(s.starts_with("0x") || s.starts_with("0X")) || s.size() < 3 || s.size() > 18) return std::nullopt;
  uint64_t v = 0;
  for (char c : s.substr(2)) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return std::nullopt;
    v = v * 16 + static_cast<uint64_t>(d);
  }
  return v;
}

// A block parameter: quantity, tag, or EIP-1898 object {"blockNumber": ...} / {"blockHash": ...}.
BlockRange read_block(simdjson::dom::element e) {
  BlockRange r;
  std::string_view s;
  if (e.is_object()) {
    auto bn = e["blockNumber"];
    if (bn.error() || bn.get_string().get(s)) return r;
  } else if (e.get_string().get(s)) {
    return r;
  }
  if (s == "earliest") {
    r.low = r.high = 0;
  } else if (auto n = hex_quantity(s)) {
    r.low = r.high = *n;
  }
  return r;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

class EvmAdapter final : public Adapter {
 public:
  explicit EvmAdapter(std::string url) : url_(std::move(url)) {}

  std::vector<HttpCall> probe_calls() const override {
    return {HttpCall{"POST", url_,
                     R"([{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},)"
                     R"({"jsonrpc":"2.0","id":2,"method":"eth_syncing"},)"
                     R"({"jsonrpc":"2.0","id":3,"method":"eth_blockNumber"},)"
                     R"({"jsonrpc":"2.0","id":4,"method":"net_peerCount"},)"
                     R"({"jsonrpc":"2.0","id":5,"method":"web3_clientVersion"},)"
                     R"({"jsonrpc":"2.0","id":6,"method":"eth_getBlockByNumber","params":["latest",false]},)"
                     R"({"jsonrpc":"2.0","id":7,"method":"eth_getBlockByNumber","params":["finalized",false]}])"}};
  }

  NodeStatus parse_probe(std::span<const HttpReply> replies) const override {
    NodeStatus st;
    if (replies.empty() || !replies[0].ok) {
      st.error = replies.empty() ? "no reply" : replies[0].error;
      return st;
    }
    const auto& rep = replies[0];
    if (rep.status != 200) {
      st.error = "HTTP " + std::to_string(rep.status);
      return st;
    }
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(rep.body).get(doc)) {
      st.error = "reply is not JSON";
      return st;
    }
    simdjson::dom::array items;
    if (doc.get_array().get(items)) {
      st.error = "reply to the probe batch is not an array";
      return st;
    }
    bool any = false;
    for (auto item : items) {
      uint64_t id = 0;
      if (item["id"].get_uint64().get(id)) continue;
      auto result = item["result"];
      if (result.error()) {
        if (id == 7) continue;  // older nodes know no `finalized` tag: not a failed probe
        if (id == 1 || id == 3) st.error = "eth_" + std::string(id == 1 ? "chainId" : "blockNumber") + " failed";
        continue;
      }
      auto value = result.value_unsafe();
      any = true;
      switch (id) {
        case 1: st.chain_id = read_quantity(value); break;
        case 2: {
          std::string err;
          st.sync = parse_eth_syncing(value, &err);
          // Only a real answer (false, or an object) says anything about sync; garbage leaves it
          // unknown, and a node whose sync state is unknown does not serve.
          if (value.is_bool() || value.is_object()) st.syncing = st.sync.syncing;
          if (!err.empty() && st.error.empty()) st.error = err;  // says "eth_syncing: ..." itself
          break;
        }
        case 3: st.head = read_quantity(value); break;
        case 4: st.peers = read_quantity(value); break;
        case 5: {
          std::string_view v;
          if (!value.get_string().get(v)) st.client_version = printable(v);
          break;
        }
        case 6: {
          // A node may answer with any shape: every member is looked up, never assumed.
          simdjson::dom::object block;
          if (value.get_object().get(block)) break;
          simdjson::dom::element member;
          if (!block["timestamp"].get(member)) st.head_timestamp = read_quantity(member);
          // Prefer the block's own number when eth_blockNumber is missing.
          if (!st.head && !block["number"].get(member)) st.head = read_quantity(member);
          // The cache keys answers about the head by this hash: a reorg changes it.
          std::string_view hash;
          if (!block["hash"].get(member) && !member.get_string().get(hash) && hash.size() == 66) {
            st.head_hash = printable(hash, 66);
            for (auto& c : st.head_hash) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          }
          break;
        }
        case 7: {
          // Nodes without the `finalized` tag answer an error or null: finality stays unknown.
          simdjson::dom::object block;
          simdjson::dom::element member;
          if (!value.get_object().get(block) && !block["number"].get(member)) st.finalized = read_quantity(member);
          break;
        }
        default: break;
      }
    }
    st.reachable = any;
    if (!st.head && st.error.empty()) st.error = "no head in the reply";
    if (!any && st.error.empty()) st.error = "no usable result in the reply";
    return st;
  }

 private:
  std::string url_;
};

}  // namespace

std::span<const std::string_view> known_methods() { return kKnown; }

std::string_view metric_method(std::string_view method) {
  for (auto k : kKnown) {
    if (k == method) return k;
  }
  return "other";
}

bool denied_by_default(std::string_view method) {
  for (auto p : kDeniedPrefixes) {
    if (method.starts_with(p)) return true;
  }
  return method == "eth_sendTransaction";  // signs with an unlocked account of the node
}

bool is_write(std::string_view method) {
  return method == "eth_sendRawTransaction" || method == "eth_sendRawTransactionConditional" ||
         method == "eth_sendTransaction";
}

bool batchable(std::string_view method) {
  static constexpr std::string_view kLight[] = {
      "eth_blockNumber", "eth_chainId", "net_version", "net_peerCount", "net_listening", "web3_clientVersion",
      "eth_syncing", "eth_gasPrice", "eth_maxPriorityFeePerGas", "eth_blobBaseFee", "eth_feeHistory",
      "eth_getBalance", "eth_getTransactionCount", "eth_getCode", "eth_getStorageAt", "eth_getBlockByNumber",
      "eth_getBlockByHash", "eth_getTransactionByHash", "eth_getTransactionReceipt",
      "eth_getBlockTransactionCountByNumber", "eth_getBlockTransactionCountByHash",
      "eth_getTransactionByBlockNumberAndIndex", "eth_getTransactionByBlockHashAndIndex",
      "eth_getUncleCountByBlockNumber", "eth_getUncleCountByBlockHash"};
  return std::find(std::begin(kLight), std::end(kLight), method) != std::end(kLight);
}

BlockRange block_range(std::string_view method, std::string_view params_raw) {
  BlockRange r;
  if (params_raw.empty()) return r;
  int idx = block_param_index(method);
  bool logs = method == "eth_getLogs";
  if (idx < 0 && !logs) return r;
  // Called for every routed call: reuse one parser per thread instead of allocating one each time.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(params_raw).get(doc)) return r;
  simdjson::dom::array arr;
  if (doc.get_array().get(arr)) return r;
  if (logs) {
    simdjson::dom::element filter;
    if (arr.at(0).get(filter) || !filter.is_object()) return r;
    auto from = filter["fromBlock"];
    auto to = filter["toBlock"];
    if (!from.error()) r.low = read_block(from.value_unsafe()).low;
    if (!to.error()) r.high = read_block(to.value_unsafe()).high;
    return r;
  }
  simdjson::dom::element e;
  if (arr.at(static_cast<size_t>(idx)).get(e)) return r;
  return read_block(e);
}

bool is_already_known(int code, std::string_view message) {
  (void)code;
  auto m = lower(message);
  return m.find("already known") != std::string::npos || m.find("known transaction") != std::string::npos ||
         m.find("already imported") != std::string::npos || m.find("alreadyknown") != std::string::npos;
}

bool is_state_unavailable(int code, std::string_view message) {
  (void)code;
  auto m = lower(message);
  return m.find("missing trie node") != std::string::npos || m.find("header not found") != std::string::npos ||
         m.find("historical state") != std::string::npos || m.find("state not available") != std::string::npos ||
         m.find("state is not available") != std::string::npos || m.find("pruned") != std::string::npos;
}

namespace {
enum class Shape { any, quantity, data, object_or_null };

Shape result_shape(std::string_view m) {
  static constexpr std::pair<std::string_view, Shape> kShapes[] = {
      {"eth_blockNumber", Shape::quantity}, {"eth_chainId", Shape::quantity}, {"eth_getBalance", Shape::quantity},
      {"eth_getTransactionCount", Shape::quantity}, {"eth_gasPrice", Shape::quantity},
      {"eth_estimateGas", Shape::quantity}, {"eth_maxPriorityFeePerGas", Shape::quantity},
      {"eth_blobBaseFee", Shape::quantity}, {"eth_getBlockTransactionCountByNumber", Shape::quantity},
      {"eth_getBlockTransactionCountByHash", Shape::quantity},
      {"eth_call", Shape::data}, {"eth_getCode", Shape::data}, {"eth_getStorageAt", Shape::data},
      {"eth_getBlockByNumber", Shape::object_or_null}, {"eth_getBlockByHash", Shape::object_or_null},
      {"eth_getTransactionByHash", Shape::object_or_null}, {"eth_getTransactionReceipt", Shape::object_or_null},
      {"eth_getTransactionByBlockNumberAndIndex", Shape::object_or_null},
      {"eth_getTransactionByBlockHashAndIndex", Shape::object_or_null}};
  for (auto& [name, shape] : kShapes) {
    if (name == m) return shape;
  }
  return Shape::any;
}

bool hex_string(std::string_view raw, size_t min_digits, size_t max_digits) {
  if (raw.size() < 4 || raw.front() != '"' || raw.back() != '"' || raw[1] != '0' || (raw[2] != 'x' && raw[2] != 'X')) {
    return false;
  }
  auto digits = raw.substr(3, raw.size() - 4);
  if (digits.size() < min_digits || digits.size() > max_digits) return false;
  return std::all_of(digits.begin(), digits.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}
}  // namespace

namespace {
bool empty_object(std::string_view r) {
  size_t i = 1;
  while (i < r.size() && (r[i] == ' ' || r[i] == '\t' || r[i] == '\n' || r[i] == '\r')) ++i;
  return i < r.size() && r[i] == '}';
}
}  // namespace

bool plausible_result(std::string_view method, std::string_view r) {
  switch (result_shape(method)) {
    case Shape::any: return true;
    case Shape::quantity: return hex_string(r, 1, 64);
    case Shape::data: return r == "\"0x\"" || hex_string(r, 1, SIZE_MAX);
    // A block, transaction or receipt always has members: `{}` is a node (or a proxy) lying.
    case Shape::object_or_null: return r == "null" || (!r.empty() && r.front() == '{' && !empty_object(r));
  }
  return true;
}

std::unique_ptr<Adapter> make_evm_adapter(std::string_view url) { return std::make_unique<EvmAdapter>(std::string(url)); }

}  // namespace nodeops::chains::evm
