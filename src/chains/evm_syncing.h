// eth_syncing, read the same way for every execution client. Clients disagree on the shape:
//
//   false                                              synced (every client)
//   {"startingBlock":"0x0","currentBlock":"0x10",      Geth, Nethermind, Besu (+ extra Geth
//    "highestBlock":"0x20", ...}                       snap-sync counters, ignored)
//   {"currentBlock":"0x0","highestBlock":"0x0",        Erigon and Reth: per-stage progress; the
//    "stages":[{"stage_name":"Headers",                top-level numbers may be 0 while the stages
//               "block_number":"0x20"}, ...]}          move, so they fill in what is missing
//   {"startingBlock":"0x0",...,"warpChunksAmount":null} older Reth, all zeros
//
// and numbers come as hex quantities, decimal strings or JSON numbers. parse_eth_syncing never
// throws and never produces NaN: what cannot be read stays unset and `error` says why.
//
//   simdjson::dom::parser p;
//   auto doc = p.parse(body);                       // the whole JSON-RPC reply
//   std::string err;
//   SyncProgress s = parse_eth_syncing(doc["result"].value_unsafe(), &err);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "chains/node_status.h"

namespace nodeops::chains {

/// @brief Parses the `result` member of an eth_syncing reply. On an unreadable shape returns
/// `syncing = false` with every number unset and, when `error` is given, a one-line reason.
SyncProgress parse_eth_syncing(simdjson::dom::element result, std::string* error = nullptr);

/// @brief Same, from the JSON text of the `result` member (for example `false` or `{...}`).
SyncProgress parse_eth_syncing(std::string_view result_json, std::string* error = nullptr);

/// @brief A non-negative integer as nodes write it: hex quantity ("0x1a"), decimal string
/// ("26") or JSON number (26, 26.0). Anything else, negative or out of range is nullopt.
std::optional<uint64_t> read_quantity(simdjson::dom::element value);

}  // namespace nodeops::chains
