// What the response cache may keep of a call, and for how long: EVM calls (namespace evm) and
// Solana's final reads (namespace solana). Pure functions: no I/O, no
// clock, so the rules are unit-tested on their own (tests/unit/chains/cache_rules_test.cc).
//
// Two questions, asked at two moments:
//  - before the call (plan_cache): is the method cacheable at all, what is its canonical key, and
//    which block does the request name (a number, a tag, or "the block its answer is in");
//  - after the answer (classify_answer): given the chain's finalized block number, is the answer
//    final (kept until evicted), unfinal (short TTL, keyed by the head hashes it was read at) or
//    not to be kept (null, a pending transaction).
// The chain's finalized number comes from the nodes (the `finalized` tag) or the chain's
// finality_depth: the cache never guesses it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nodeops::chains::evm {

/// Method classes of the cache metrics (a bounded label).
enum class CacheClass { none, chain, block, transaction, logs, state };
constexpr std::array<const char*, 5> kCacheClassNames = {"chain", "block", "transaction", "logs", "state"};
/// Index into kCacheClassNames (not for CacheClass::none).
inline size_t cache_class_index(CacheClass c) { return static_cast<size_t>(c) - 1; }

/// @brief How one call may be cached; `cls == none` means never.
struct CachePlan {
  CacheClass cls = CacheClass::none;
  /// method + '(' + canonical params + ')': whitespace dropped, object keys sorted, hex strings
  /// lower-cased, the block parameter as a minimal quantity ("earliest" is 0x0).
  std::string key;
  /// The block the request names by number (for eth_getLogs, its range's end).
  std::optional<uint64_t> block;
  /// The answer depends on which block is the head (`latest`, `safe`, `finalized`, a block hash
  /// whose height the request does not say, or no block parameter at all): never final.
  bool at_head = false;
  /// Finality is read from the answer's own block number (transactions, receipts, blocks by hash).
  bool block_in_result = false;
  /// The answer cannot change on this chain (eth_chainId, net_version).
  bool immutable = false;
};

/// The plan for `method` with raw `params` (a JSON array, or empty). Unknown, write, filter,
/// subscription and `pending` calls, and params that are not valid JSON, get cls == none.
CachePlan plan_cache(std::string_view method, std::string_view params);

enum class Finality { uncacheable, unfinal, final };

/// What may be kept of `result_raw` (the upstream's `result`, valid JSON) for a call planned as
/// `plan`, with the chain's finalized block number (unset while unknown: nothing is final then).
/// `null` is never kept: a transaction or block not found yet may exist a moment later.
Finality classify_answer(const CachePlan& plan, std::string_view result_raw, std::optional<uint64_t> finalized);

/// Numbers the gateway stands behind for block tags; unset: that tag stays as the client wrote it.
struct TagNumbers {
  std::optional<uint64_t> latest;     // a head that healthy nodes of the pool hold
  std::optional<uint64_t> finalized;  // the chain's finalized block
};

/// The params of a cacheable call with its block tags replaced by numbers, as canonical JSON:
/// the block parameter (`latest`, `finalized`, or omitted, which means `latest`), and for
/// eth_getLogs without a blockHash its fromBlock/toBlock (omitted ones too). nullopt when nothing
/// was replaced: not a cacheable method, no tag, a tag without a number (`safe`, `pending`),
/// params that are not a JSON array. The node is then asked for exactly the block the cache key
/// names, so `latest` and the head's number are one entry, and a `finalized` read is final.
std::optional<std::string> resolve_block_tags(std::string_view method, std::string_view params,
                                              const TagNumbers& numbers);

/// Canonical JSON of `raw` (keys sorted, no whitespace, 0x-hex strings lower-cased), or nullopt
/// when `raw` is not JSON.
std::optional<std::string> canonical_json(std::string_view raw);

}  // namespace nodeops::chains::evm

namespace nodeops::chains::solana {

/// Solana's cacheable reads: getBlock and getTransaction at `finalized` commitment (their default),
/// which never change once found; every other call or commitment gets cls == none. The plan is
/// `immutable`: classify_answer keeps any non-null answer as final.
evm::CachePlan plan_cache(std::string_view method, std::string_view params);

}  // namespace nodeops::chains::solana
