// Ethereum-style JSON-RPC (geth, reth, erigon, nethermind, bor): how to probe a node, and what the
// gateway must know about a method before routing it — is it a write, is it denied by default,
// which block does it read.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "chains/adapter.h"

namespace nodeops::chains::evm {

/// Methods reported under their own name in metrics; every other method is counted as "other"
/// so label sets stay bounded whatever clients send.
std::span<const std::string_view> known_methods();
/// The method itself when known, else "other".
std::string_view metric_method(std::string_view method);

/// Namespaces no public endpoint should serve: admin_, debug_, personal_, miner_, engine_ (and
/// the node-local txpool_ is allowed). Chains may re-allow or deny more in their config.
bool denied_by_default(std::string_view method);

/// Writes change state on the network. Re-sending the same signed transaction is safe (it has
/// one hash), so writes are retried like reads; see docs/gateway.md.
bool is_write(std::string_view method);

/// Light reads that may share an upstream batch with other calls (the gateway's batching): each
/// costs a node little and about the same, so none holds the others back. Heavy or unbounded calls
/// (eth_call, eth_estimateGas, eth_getLogs, eth_getBlockReceipts, debug_*, trace_*), writes and
/// filters always travel alone.
bool batchable(std::string_view method);

/// @brief The block numbers a call reads, when its params name them.
/// `low` steers old-state reads to archive nodes; `high` keeps a call away from an upstream whose
/// head is below it. Tags ("latest", "pending", "safe", "finalized") leave both unset;
/// "earliest" sets low = high = 0.
struct BlockRange {
  std::optional<uint64_t> low;
  std::optional<uint64_t> high;
};
BlockRange block_range(std::string_view method, std::string_view params_raw);

/// A node's answer to a re-sent transaction that it already has: the write succeeded.
bool is_already_known(int code, std::string_view message);
/// A node that lacks the state or block asked for (pruned, or not there yet): try another one.
bool is_state_unavailable(int code, std::string_view message);

/// Whether `result_raw` (validated JSON) has the shape the method's result must have: a quantity
/// ("0x" and 1 to 64 hex digits) for eth_blockNumber, eth_getBalance, eth_chainId...; hex data for
/// eth_call, eth_getCode, eth_getStorageAt; an object or null for blocks, transactions and receipts.
/// Methods not listed accept any result. A node answering eth_getBalance with {} is lying or
/// broken, and its answer must not reach a client as if it were a balance.
bool plausible_result(std::string_view method, std::string_view result_raw);

/// Probe: one batch of eth_chainId, eth_syncing, eth_blockNumber, net_peerCount,
/// web3_clientVersion, eth_getBlockByNumber("latest") for the head's timestamp and hash, and
/// eth_getBlockByNumber("finalized") for the chain's finalized block (the response cache's finality).
std::unique_ptr<Adapter> make_evm_adapter(std::string_view url);

}  // namespace nodeops::chains::evm
