#include "stack/anvil_rpc.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <map>

#include "core/http.h"
#include "core/json.h"
#include "core/jsonrpc.h"

namespace nodeops::stack {
namespace {

namespace asio = boost::asio;

std::optional<uint64_t> parse_quantity(std::string_view hex) {
  if (hex.size() < 3 || hex.substr(0, 2) != "0x" || hex.size() > 18) return std::nullopt;
  uint64_t v = 0;
  for (char c : hex.substr(2)) {
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return std::nullopt;
    v = v * 16 + static_cast<uint64_t>(d);
  }
  return v;
}

class AnvilRpc final : public NodeRpc {
 public:
  AnvilRpc(uint16_t port, Duration timeout) : pool_(io_, "127.0.0.1", port, 2), timeout_(timeout) {}
  // The pool's deadline sweep may still wait on its timer (call() returns before it): let it
  // finish on its loop rather than be torn down with the loop.
  ~AnvilRpc() override {
    io_.restart();
    io_.run();
  }

  std::optional<uint64_t> head() override {
    auto r = call("eth_blockNumber", "[]");
    if (!r) return std::nullopt;
    return parse_quantity(string_of(*r));
  }

  std::optional<std::string> block_hash(uint64_t height) override {
    auto b = block_object(height);
    if (!b) return std::nullopt;
    return b->hash;
  }

  std::optional<ReplayBlock> block(uint64_t height) override {
    auto b = block_object(height);
    if (!b) return std::nullopt;
    for (const auto& hash : b->tx_hashes) {
      auto raw = raw_transaction(hash);
      if (!raw) return std::nullopt;
      b->block.raw_transactions.push_back(std::move(*raw));
    }
    return std::move(b->block);
  }

  std::optional<std::vector<std::string>> pending_transactions() override {
    auto r = call("txpool_content", "[]");
    if (!r) return std::nullopt;
    // {"pending":{"0xsender":{"<nonce>":{tx ...}}}, "queued":{...}}: in nonce order per sender.
    std::vector<std::string> hashes;
    simdjson::dom::element doc;
    if (parser_.parse(*r).get(doc)) return std::nullopt;
    simdjson::dom::object pending;
    if (doc["pending"].get_object().get(pending)) return std::vector<std::string>{};
    for (auto [sender, by_nonce] : pending) {
      simdjson::dom::object txs;
      if (by_nonce.get_object().get(txs)) continue;
      std::map<uint64_t, std::string> ordered;
      for (auto [nonce, tx] : txs) {
        std::string_view hash;
        if (tx["hash"].get_string().get(hash)) continue;
        ordered[std::strtoull(std::string(nonce).c_str(), nullptr, 10)] = std::string(hash);
      }
      for (auto& [n, h] : ordered) hashes.push_back(h);
    }
    std::vector<std::string> raws;
    for (const auto& h : hashes) {
      if (auto raw = raw_transaction(h)) raws.push_back(std::move(*raw));
    }
    return raws;
  }

  bool send_raw_transaction(const std::string& raw) override {
    std::string error;
    if (call("eth_sendRawTransaction", "[" + json::quote(raw) + "]", &error)) return true;
    // Sent before (the gateway's broadcast got there first, or it is in a block already).
    return error.find("already") != std::string::npos || error.find("nonce too low") != std::string::npos;
  }

  bool drop_pending_transactions() override { return call("anvil_dropAllTransactions", "[]").has_value(); }

  bool rollback(uint64_t depth) override { return call("anvil_rollback", fmt::format("[{}]", depth)).has_value(); }

  bool set_next_base_fee(const std::string& base_fee) override {
    return call("anvil_setNextBlockBaseFeePerGas", "[" + json::quote(base_fee) + "]").has_value();
  }

  bool mine(uint64_t timestamp) override { return call("evm_mine", fmt::format("[{}]", timestamp)).has_value(); }

 private:
  struct BlockObject {
    std::string hash;
    ReplayBlock block;
    std::vector<std::string> tx_hashes;
  };

  std::optional<BlockObject> block_object(uint64_t height) {
    auto r = call("eth_getBlockByNumber", fmt::format("[\"0x{:x}\",false]", height));
    if (!r) return std::nullopt;
    simdjson::dom::element b;
    std::string_view hash, ts;
    if (parser_.parse(*r).get(b) || b["hash"].get_string().get(hash) || b["timestamp"].get_string().get(ts)) {
      return std::nullopt;
    }
    BlockObject out;
    out.hash = std::string(hash);
    out.block.hash = out.hash;
    auto t = parse_quantity(ts);
    if (!t) return std::nullopt;
    out.block.timestamp = *t;
    std::string_view base_fee;
    if (!b["baseFeePerGas"].get_string().get(base_fee)) out.block.base_fee = std::string(base_fee);
    simdjson::dom::array txs;
    if (!b["transactions"].get_array().get(txs)) {
      for (auto tx : txs) {
        std::string_view h;
        if (!tx.get_string().get(h)) out.tx_hashes.emplace_back(h);
      }
    }
    return out;
  }

  std::optional<std::string> raw_transaction(const std::string& hash) {
    auto r = call("eth_getRawTransactionByHash", "[" + json::quote(hash) + "]");
    if (!r) return std::nullopt;
    auto raw = string_of(*r);
    if (raw.empty()) return std::nullopt;
    return std::string(raw);
  }

  static std::string_view string_of(std::string_view json_string) {
    if (json_string.size() < 2 || json_string.front() != '"') return {};
    return json_string.substr(1, json_string.size() - 2);
  }

  /// The raw `result` of one call, or nullopt (with the error's message in `error`).
  std::optional<std::string> call(std::string_view method, std::string_view params, std::string* error = nullptr) {
    http::ClientResponse response;
    bool done = false, finished = false;
    // request() is a coroutine that runs after this full expression: everything it takes by
    // reference must outlive it (a defaulted `headers = {}` would be a dead temporary by then).
    asio::co_spawn(io_,
                   pool_.request("POST", "/", jsonrpc::upstream_request(++id_, method, params), timeout_,
                                 "application/json", no_headers_),
                   [&](std::exception_ptr e, http::ClientResponse r) {
                     finished = true;
                     done = !e;
                     if (done) response = std::move(r);
                   });
    // Until this call completes, not until the loop is idle: the pool's deadline sweep would hold
    // run() for another 10 ms tick per call, which a replay of thousands of blocks would feel.
    io_.restart();
    while (!finished && io_.run_one() > 0) {
    }
    if (!done || !response.ok() || response.status != 200) {
      if (error) *error = done ? response.message : "exception";
      return std::nullopt;
    }
    auto reply = jsonrpc::parse_upstream_reply(response.body, id_);
    if (reply.kind != jsonrpc::UpstreamReply::Kind::result) {
      if (error) *error = reply.kind == jsonrpc::UpstreamReply::Kind::error ? reply.error_message : reply.problem;
      return std::nullopt;
    }
    return std::string(reply.payload);
  }

  asio::io_context io_;
  const http::ClientPool::Headers no_headers_;
  http::ClientPool pool_;
  Duration timeout_;
  uint64_t id_ = 0;
  simdjson::dom::parser parser_;
};

}  // namespace

std::unique_ptr<NodeRpc> make_anvil_rpc(uint16_t port, Duration timeout) {
  return std::make_unique<AnvilRpc>(port, timeout);
}

}  // namespace nodeops::stack
