// Chain-aware upstream health. The tracker probes every upstream of a chain each health_interval
// (on the admin loop), turns the answers into an immutable ChainHealth snapshot and publishes it;
// event loops read the latest snapshot without locks.
//
// Rules (evaluate_health): an upstream is in rotation when it answered, reports the configured
// chain id, is not syncing, and its head is within max_lag_blocks of the chain's best head.
// The best head only counts heads that another upstream corroborates (within max_lag_blocks), so
// one upstream reporting an absurd head is the one that leaves rotation — not every honest one.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chains/node_status.h"
#include "gateway/config.h"
#include "gateway/upstream.h"

namespace nodeops::gateway {

struct UpstreamHealth {
  bool healthy = false;
  UpstreamState state = UpstreamState::not_probed;
  std::string reason = "not probed yet";  // "ok" when healthy, else why not, one line
  std::optional<uint64_t> head;
  uint64_t lag = 0;
  chains::NodeStatus status;
  double probe_seconds = 0;
};

/// @brief A chain's upstreams and config as one immutable generation. A reload publishes a new one
/// (with the health snapshot that goes with it); a call takes one snapshot and reads positions in
/// it, so positions never shift under a call. Upstreams unchanged by a reload are the same objects
/// in the next set (health, breaker, connections kept).
struct UpstreamSet {
  std::shared_ptr<const ChainConfig> config;        // this generation's chain config
  std::vector<std::shared_ptr<Upstream>> upstreams;  // same order as config->upstreams
  uint64_t generation = 0;
  /// Position of the upstream with this slot, if it is in the set.
  std::optional<size_t> position_of_slot(size_t slot) const {
    for (size_t i = 0; i < upstreams.size(); ++i) {
      if (upstreams[i]->slot() == slot) return i;
    }
    return std::nullopt;
  }
};

struct ChainHealth {
  uint64_t best_head = 0;
  size_t healthy = 0;
  bool probed = false;  // at least one full round done
  /// The highest block every healthy upstream holds final (their `finalized` tag, the lowest of
  /// them), or best_head - finality_depth when the chain sets one; unset while unknown.
  std::optional<uint64_t> finalized;
  /// The head hashes of the healthy upstreams, joined: the response cache keys answers about
  /// unfinal blocks by it, so a new head or a reorg seen by a probe makes them unreachable at
  /// once. Empty when a healthy upstream's head hash is unknown (nothing unfinal is cached then).
  std::string head_key;
  /// The highest head at least two healthy upstreams hold (one when only one is healthy): what a
  /// `latest` tag stands for when the cache resolves it to a number, so that a call for it that
  /// fails on one node still has another that holds the block.
  std::optional<uint64_t> shared_head;
  std::vector<UpstreamHealth> upstreams;  // same order as ChainConfig::upstreams and set->upstreams
  /// The upstreams this verdict is about (published together, so their positions always match).
  std::shared_ptr<const UpstreamSet> set;
};

/// Pure rule: the snapshot for one round of probe results (same order as config.upstreams).
ChainHealth evaluate_health(const ChainConfig& config, std::vector<chains::NodeStatus> statuses,
                            const std::vector<double>& probe_seconds);

/// @brief Holds the latest snapshot of one chain. Written by the tracker, read by every loop.
class HealthBoard {
 public:
  HealthBoard();
  std::shared_ptr<const ChainHealth> load() const { return current_.load(std::memory_order_acquire); }
  /// A snapshot without a set (unit tests build them) keeps the current one's set.
  void publish(std::shared_ptr<const ChainHealth> next);

 private:
  std::atomic<std::shared_ptr<const ChainHealth>> current_;
};

class GatewayMetrics;
struct ChainRuntime;

/// @brief Probes the upstreams of one chain forever on `io` (the admin loop); publishes snapshots,
/// logs rotation changes, updates metrics and the status page history.
/// Lifecycle: start() spawns the loop on `io`; it ends when `io` stops.
class HealthTracker {
 public:
  HealthTracker(boost::asio::io_context& io, ChainRuntime& chain, GatewayMetrics& metrics, Duration probe_timeout);
  void start();
  /// One probe round of `set` (null: the chain's latest set) now; publishes its verdict with the
  /// set, unless a newer set was decided meanwhile. Used at startup, so traffic is routed from the
  /// first request, and by a reload, so a new set never serves before its upstreams are probed.
  boost::asio::awaitable<void> round(std::shared_ptr<const UpstreamSet> set = nullptr);

 private:
  boost::asio::awaitable<void> run();
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace nodeops::gateway
