// Solana (Agave) RPC adapter.
//
// One probe is five JSON-RPC POSTs to `url`, in this order:
//   getHealth      "ok", or error -32005 "Node is behind by N slots" with data.numSlotsBehind
//   getSlot        current slot (the head)
//   getBlockHeight
//   getEpochInfo   epoch
//   getVersion     {"solana-core": "2.1.x", ...}
// The node is `reachable` when getHealth or getSlot answered with a JSON-RPC reply (an error
// reply counts: -32005 is how an unhealthy node answers). syncing = !healthy.
#pragma once

#include <memory>
#include <string_view>

#include "chains/adapter.h"

namespace nodeops::chains {

/// @brief Adapter for an Agave RPC endpoint at `url` (for example http://127.0.0.1:8899).
std::unique_ptr<Adapter> make_solana_adapter(std::string_view url);

}  // namespace nodeops::chains
