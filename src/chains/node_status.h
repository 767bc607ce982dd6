// What one probe of one node learned. Filled by a chain adapter from the node's own answers;
// read by the gateway's health tracker and the exporter. Absent values stay std::nullopt, never 0
// or NaN, so a node that did not answer is never mistaken for a node at height 0.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace nodeops::chains {

/// @brief Execution-layer sync progress (eth_syncing), normalised across Geth, Reth, Erigon, Nethermind.
struct SyncProgress {
  bool syncing = false;
  std::optional<uint64_t> starting_block;
  std::optional<uint64_t> current_block;
  std::optional<uint64_t> highest_block;
  /// 0..100; only set when it can be computed without dividing by zero.
  std::optional<double> percentage;
};

/// @brief Ethereum consensus (beacon) node view.
struct BeaconStatus {
  std::optional<uint64_t> head_slot;
  std::optional<uint64_t> sync_distance;
  std::optional<uint64_t> finalized_epoch;
  std::optional<uint64_t> current_justified_epoch;
  std::optional<uint64_t> previous_justified_epoch;
};

/// @brief Polygon Heimdall v2 (CometBFT + REST) view.
struct HeimdallStatus {
  std::optional<bool> catching_up;
  std::optional<uint64_t> latest_block_height;
  std::optional<uint64_t> latest_block_time;  // unix seconds
  std::optional<uint64_t> checkpoint_count;
  std::optional<uint64_t> milestone_count;
  std::optional<uint64_t> span_id;
};

/// @brief Solana (Agave RPC) view.
struct SolanaStatus {
  std::optional<bool> healthy;
  std::optional<uint64_t> num_slots_behind;
  std::optional<uint64_t> slot;
  std::optional<uint64_t> block_height;
  std::optional<uint64_t> epoch;
};

struct NodeStatus {
  /// True when the node answered the probe with something parseable.
  bool reachable = false;
  /// True when at least one HTTP answer came back (set by the prober): a node that answers garbage
  /// is not the same as a node that is down.
  bool answered = false;
  /// Why the probe failed or what looked wrong; empty when all is well. One short line.
  std::string error;

  /// Generic view used for health, lag and readiness: the head is a block number for EVM and
  /// Heimdall, a slot for beacon and Solana.
  std::optional<uint64_t> head;
  std::optional<uint64_t> head_timestamp;  // unix seconds of the head block, when the chain says
  std::string head_hash;                    // evm: hash of the head block ("0x..." lower case), when read
  std::optional<uint64_t> finalized;        // evm: number of the block the `finalized` tag names
  std::optional<bool> syncing;
  std::optional<uint64_t> peers;
  std::optional<uint64_t> chain_id;
  std::string client_version;

  SyncProgress sync;  // evm
  std::optional<BeaconStatus> beacon;
  std::optional<HeimdallStatus> heimdall;
  std::optional<SolanaStatus> solana;
};

}  // namespace nodeops::chains
