// Polygon PoS Heimdall v2 adapter: CometBFT RPC (default port 26657) plus the Cosmos REST
// gateway (default port 1317).
//
// One probe is four GETs, in this order:
//   <rpc>/status              sync_info.catching_up, latest_block_height, latest_block_time,
//                             node_info.version
//   <rest>/checkpoints/count  {"ack_count":"N"}
//   <rest>/milestones/count   {"count":"N"}
//   <rest>/bor/spans/latest   {"span":{"id":"N",...}}
// When `rest_url` is empty only /status is probed. The node is `reachable` when /status
// answered; head = latest_block_height, head_timestamp = latest_block_time,
// syncing = catching_up.
#pragma once

#include <memory>
#include <optional>
#include <cstdint>
#include <string_view>

#include "chains/adapter.h"

namespace nodeops::chains {

/// @brief Adapter for a Heimdall node; `rest_url` may be empty.
std::unique_ptr<Adapter> make_heimdall_adapter(std::string_view rpc_url, std::string_view rest_url);

/// @brief Unix seconds of an RFC 3339 UTC timestamp such as CometBFT writes
/// ("2025-07-01T12:00:00.123456789Z"); nullopt when it is not one.
std::optional<uint64_t> parse_rfc3339_seconds(std::string_view text);

}  // namespace nodeops::chains
