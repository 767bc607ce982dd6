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
//
// Peers are a second, slow probe (make_solana_gossip_adapter): Agave has no peer-count RPC, and
// getClusterNodes lists the whole cluster (thousands of entries, megabytes on mainnet), so the
// exporter asks it minutes apart, never in the per-second health probe.
#pragma once

#include <memory>
#include <string_view>

#include "chains/adapter.h"

namespace nodeops::chains {

/// @brief Adapter for an Agave RPC endpoint at `url` (for example http://127.0.0.1:8899).
std::unique_ptr<Adapter> make_solana_adapter(std::string_view url);

/// @brief The gossip probe of an Agave RPC endpoint: two JSON-RPC POSTs to `url`,
///   getIdentity      {"identity": "<base-58 pubkey>"}
///   getClusterNodes  [{"pubkey": ..., "gossip": "ip:port" | null, ...}, ...]
/// `peers` is the number of entries with a gossip address other than the node itself (Agave lists
/// only nodes of its own shred version; whether it lists itself depends on the release, so the
/// entry whose pubkey is the node's identity is not counted). `reachable` when getClusterNodes
/// answered with a JSON-RPC reply; `peers` stays unset unless its result is an array.
std::unique_ptr<Adapter> make_solana_gossip_adapter(std::string_view url);

}  // namespace nodeops::chains
