#include "chains/solana.h"

#include <string>

#include <simdjson.h>

#include "chains/evm_syncing.h"
#include "chains/probe_text.h"

namespace nodeops::chains {
namespace {

constexpr std::string_view kMethods[] = {"getHealth", "getSlot", "getBlockHeight", "getEpochInfo",
                                         "getVersion"};
// Agave's "node is unhealthy" error; data.numSlotsBehind says by how much when it knows.
constexpr int64_t kNodeUnhealthy = -32005;

// One JSON-RPC reply: `result` when it succeeded, `error` when the node said no.
struct RpcReply {
  bool parsed = false;
  std::optional<simdjson::dom::element> result;
  std::optional<simdjson::dom::object> error;
};

RpcReply read_rpc(simdjson::dom::parser& parser, const HttpReply* r, std::string_view method,
                  ErrorLine& errors) {
  RpcReply out;
  if (r == nullptr || !r->ok) {
    errors.add(method, r == nullptr || r->error.empty() ? "no reply" : r->error);
    return out;
  }
  simdjson::dom::object obj;
  if (parser.parse(r->body.data(), r->body.size()).get(obj) != simdjson::SUCCESS) {
    errors.add(method, r->status >= 200 && r->status <= 299 ? std::string("not a JSON object")
                                                             : "HTTP " + std::to_string(r->status));
    return out;
  }
  simdjson::dom::element result;
  simdjson::dom::object error;
  if (obj["error"].get(error) == simdjson::SUCCESS) {
    out.parsed = true;
    out.error = error;
  } else if (obj["result"].get(result) == simdjson::SUCCESS) {
    out.parsed = true;
    out.result = result;
  } else {
    errors.add(method, "neither result nor error");
  }
  return out;
}

std::string error_text(simdjson::dom::object error) {
  int64_t code = 0;
  std::string_view message;
  std::string out = "RPC error";
  if (error["code"].get(code) == simdjson::SUCCESS) out += " " + std::to_string(code);
  if (error["message"].get(message) == simdjson::SUCCESS) {
    out += ": " + std::string(message.substr(0, 120));
  }
  return out;
}

class SolanaAdapter final : public Adapter {
 public:
  explicit SolanaAdapter(std::string url) : url_(std::move(url)) {}

  std::vector<HttpCall> probe_calls() const override {
    std::vector<HttpCall> calls;
    int id = 1;
    for (std::string_view m : kMethods) {
      calls.push_back({"POST", url_,
                       R"({"jsonrpc":"2.0","id":)" + std::to_string(id++) + R"(,"method":")" +
                           std::string(m) + R"("})"});
    }
    return calls;
  }

  NodeStatus parse_probe(std::span<const HttpReply> replies) const override {
    NodeStatus st;
    SolanaStatus sol;
    ErrorLine errors;
    simdjson::dom::parser parser;
    auto reply = [&](size_t i) { return i < replies.size() ? &replies[i] : nullptr; };

    {  // getHealth
      RpcReply r = read_rpc(parser, reply(0), kMethods[0], errors);
      if (r.parsed) st.reachable = true;
      std::string_view text;
      if (r.result && r.result->get(text) == simdjson::SUCCESS && text == "ok") {
        sol.healthy = true;
        sol.num_slots_behind = 0;
      } else if (r.error) {
        sol.healthy = false;
        int64_t code = 0;
        simdjson::dom::element behind;
        if ((*r.error)["code"].get(code) == simdjson::SUCCESS && code == kNodeUnhealthy &&
            (*r.error)["data"]["numSlotsBehind"].get(behind) == simdjson::SUCCESS) {
          sol.num_slots_behind = read_quantity(behind);
        }
        if (code != kNodeUnhealthy) errors.add(kMethods[0], error_text(*r.error));
      } else if (r.result) {
        sol.healthy = false;
        errors.add(kMethods[0], "unexpected result");
      }
    }
    auto number = [&](size_t i) -> std::optional<uint64_t> {
      RpcReply r = read_rpc(parser, reply(i), kMethods[i], errors);
      if (r.parsed) st.reachable = true;
      if (r.error) errors.add(kMethods[i], error_text(*r.error));
      if (!r.result) return std::nullopt;
      auto v = read_quantity(*r.result);
      if (!v) errors.add(kMethods[i], "result is not a number");
      return v;
    };
    sol.slot = number(1);
    sol.block_height = number(2);
    {  // getEpochInfo
      RpcReply r = read_rpc(parser, reply(3), kMethods[3], errors);
      if (r.error) errors.add(kMethods[3], error_text(*r.error));
      simdjson::dom::object info;
      if (r.result && r.result->get(info) == simdjson::SUCCESS) {
        simdjson::dom::element epoch;
        if (info["epoch"].get(epoch) == simdjson::SUCCESS) sol.epoch = read_quantity(epoch);
        if (!sol.slot) {
          simdjson::dom::element slot;
          if (info["absoluteSlot"].get(slot) == simdjson::SUCCESS) sol.slot = read_quantity(slot);
        }
      }
    }
    {  // getVersion
      RpcReply r = read_rpc(parser, reply(4), kMethods[4], errors);
      if (r.error) errors.add(kMethods[4], error_text(*r.error));
      std::string_view core;
      if (r.result && (*r.result)["solana-core"].get(core) == simdjson::SUCCESS) {
        st.client_version = printable(core);
      }
    }

    if (st.reachable) {
      st.head = sol.slot;
      if (sol.healthy) st.syncing = !*sol.healthy;
      st.solana = sol;
    }
    st.error = errors.str();
    return st;
  }

 private:
  std::string url_;
};

class SolanaGossipAdapter final : public Adapter {
 public:
  explicit SolanaGossipAdapter(std::string url) : url_(std::move(url)) {}

  std::vector<HttpCall> probe_calls() const override {
    return {{"POST", url_, R"({"jsonrpc":"2.0","id":1,"method":"getIdentity"})"},
            {"POST", url_, R"({"jsonrpc":"2.0","id":2,"method":"getClusterNodes"})"}};
  }

  NodeStatus parse_probe(std::span<const HttpReply> replies) const override {
    NodeStatus st;
    ErrorLine errors;
    simdjson::dom::parser parser;
    auto reply = [&](size_t i) { return i < replies.size() ? &replies[i] : nullptr; };

    // Copied out: the parser's next document invalidates views into this one.
    std::string identity;
    {
      RpcReply r = read_rpc(parser, reply(0), "getIdentity", errors);
      if (r.error) errors.add("getIdentity", error_text(*r.error));
      std::string_view id;
      if (r.result && (*r.result)["identity"].get(id) == simdjson::SUCCESS) {
        identity = std::string(id);
      } else if (r.result) {
        errors.add("getIdentity", "result has no identity string");
      }
    }
    {
      RpcReply r = read_rpc(parser, reply(1), "getClusterNodes", errors);
      if (r.parsed) st.reachable = true;
      if (r.error) errors.add("getClusterNodes", error_text(*r.error));
      simdjson::dom::array nodes;
      if (r.result && r.result->get(nodes) == simdjson::SUCCESS) {
        uint64_t peers = 0;
        for (simdjson::dom::element node : nodes) {
          std::string_view gossip, pubkey;
          if (node["gossip"].get(gossip) != simdjson::SUCCESS || gossip.empty()) continue;
          if (!identity.empty() && node["pubkey"].get(pubkey) == simdjson::SUCCESS && pubkey == identity) continue;
          ++peers;
        }
        st.peers = peers;
      } else if (r.result) {
        errors.add("getClusterNodes", "result is not an array");
      }
    }
    st.error = errors.str();
    return st;
  }

 private:
  std::string url_;
};

}  // namespace

std::unique_ptr<Adapter> make_solana_gossip_adapter(std::string_view url) {
  return std::make_unique<SolanaGossipAdapter>(trim_slash(url));
}

std::unique_ptr<Adapter> make_solana_adapter(std::string_view url) {
  return std::make_unique<SolanaAdapter>(trim_slash(url));
}

}  // namespace nodeops::chains
