// Ethereum consensus (beacon) node adapter, for any client (Lighthouse, Prysm, Teku, Nimbus,
// Lodestar, Grandine): the standard Beacon API only.
//
// One probe is five GETs, in this order:
//   /eth/v1/node/syncing                            head_slot, sync_distance, is_syncing
//   /eth/v1/node/peer_count                         connected peers
//   /eth/v1/node/version                            client version string
//   /eth/v1/beacon/headers/head                     head slot as the chain sees it
//   /eth/v1/beacon/states/head/finality_checkpoints finalized / justified epochs
// The node is `reachable` when /eth/v1/node/syncing answered; each other call that fails leaves
// its fields unset and is named in `error`.
#pragma once

#include <memory>
#include <string_view>

#include "chains/adapter.h"

namespace nodeops::chains {

/// @brief Adapter for a beacon node at `url` (for example http://127.0.0.1:5052).
std::unique_ptr<Adapter> make_beacon_adapter(std::string_view url);

}  // namespace nodeops::chains
