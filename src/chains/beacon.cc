#include "chains/beacon.h"

#include <string>

#include <simdjson.h>

#include "chains/evm_syncing.h"
#include "chains/probe_text.h"

namespace nodeops::chains {
namespace {

constexpr std::string_view kSyncing = "/eth/v1/node/syncing";
constexpr std::string_view kPeerCount = "/eth/v1/node/peer_count";
constexpr std::string_view kVersion = "/eth/v1/node/version";
constexpr std::string_view kHeadHeader = "/eth/v1/beacon/headers/head";
constexpr std::string_view kFinality = "/eth/v1/beacon/states/head/finality_checkpoints";
constexpr std::string_view kPaths[] = {kSyncing, kPeerCount, kVersion, kHeadHeader, kFinality};

// The `data` object of one Beacon API reply, or nullopt with the reason recorded.
std::optional<simdjson::dom::object> read_data(simdjson::dom::parser& parser, const HttpReply& r,
                                               std::string_view path, ErrorLine& errors) {
  if (!r.ok) {
    errors.add(path, r.error.empty() ? "no reply" : r.error);
    return std::nullopt;
  }
  if (r.status < 200 || r.status > 299) {
    errors.add(path, "HTTP " + std::to_string(r.status));
    return std::nullopt;
  }
  simdjson::dom::element doc;
  if (parser.parse(r.body.data(), r.body.size()).get(doc) != simdjson::SUCCESS) {
    errors.add(path, "not JSON");
    return std::nullopt;
  }
  simdjson::dom::object data;
  if (doc["data"].get(data) != simdjson::SUCCESS) {
    errors.add(path, "no data object");
    return std::nullopt;
  }
  return data;
}

std::optional<uint64_t> quantity_at(simdjson::dom::object obj, std::string_view key) {
  simdjson::dom::element v;
  if (obj[key].get(v) != simdjson::SUCCESS) return std::nullopt;
  return read_quantity(v);
}

std::optional<uint64_t> epoch_of(simdjson::dom::object data, std::string_view checkpoint) {
  simdjson::dom::object cp;
  if (data[checkpoint].get(cp) != simdjson::SUCCESS) return std::nullopt;
  return quantity_at(cp, "epoch");
}

class BeaconAdapter final : public Adapter {
 public:
  explicit BeaconAdapter(std::string base) : base_(std::move(base)) {}

  std::vector<HttpCall> probe_calls() const override {
    std::vector<HttpCall> calls;
    for (std::string_view path : kPaths) calls.push_back({"GET", base_ + std::string(path), ""});
    return calls;
  }

  NodeStatus parse_probe(std::span<const HttpReply> replies) const override {
    NodeStatus st;
    BeaconStatus beacon;
    ErrorLine errors;
    simdjson::dom::parser parser;
    auto reply = [&](size_t i) -> const HttpReply* {
      return i < replies.size() ? &replies[i] : nullptr;
    };
    static const HttpReply kMissing{false, 0, "", "no reply"};

    if (auto data = read_data(parser, reply(0) ? *reply(0) : kMissing, kSyncing, errors)) {
      st.reachable = true;
      beacon.head_slot = quantity_at(*data, "head_slot");
      beacon.sync_distance = quantity_at(*data, "sync_distance");
      bool syncing = false;
      if ((*data)["is_syncing"].get(syncing) == simdjson::SUCCESS) {
        st.syncing = syncing;
      } else {
        errors.add(kSyncing, "no is_syncing");
      }
    }
    if (auto data = read_data(parser, reply(1) ? *reply(1) : kMissing, kPeerCount, errors)) {
      st.peers = quantity_at(*data, "connected");
    }
    if (auto data = read_data(parser, reply(2) ? *reply(2) : kMissing, kVersion, errors)) {
      std::string_view version;
      if ((*data)["version"].get(version) == simdjson::SUCCESS) st.client_version = printable(version);
    }
    if (auto data = read_data(parser, reply(3) ? *reply(3) : kMissing, kHeadHeader, errors)) {
      simdjson::dom::object message;
      if ((*data)["header"]["message"].get(message) == simdjson::SUCCESS) {
        if (auto slot = quantity_at(message, "slot")) beacon.head_slot = slot;
      }
    }
    if (auto data = read_data(parser, reply(4) ? *reply(4) : kMissing, kFinality, errors)) {
      beacon.finalized_epoch = epoch_of(*data, "finalized");
      beacon.current_justified_epoch = epoch_of(*data, "current_justified");
      beacon.previous_justified_epoch = epoch_of(*data, "previous_justified");
    }

    st.head = beacon.head_slot;
    if (st.reachable) st.beacon = beacon;
    st.error = errors.str();
    return st;
  }

 private:
  std::string base_;
};

}  // namespace

std::unique_ptr<Adapter> make_beacon_adapter(std::string_view url) {
  return std::make_unique<BeaconAdapter>(trim_slash(url));
}

}  // namespace nodeops::chains
