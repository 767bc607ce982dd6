// The live state of one chain: its upstreams (each one object, gateway/upstream.h), the health
// snapshot every loop reads and the traffic split rollouts write.
// Threads: traffic loops read `health` and `traffic` and use the upstreams' thread-safe parts;
// the admin loop writes the snapshots and owns everything marked admin-only.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "chains/cache_rules.h"
#include "core/log.h"
#include "gateway/client_heads.h"
#include "gateway/metrics.h"
#include "gateway/config.h"
#include "gateway/health.h"
#include "gateway/recent_writes.h"
#include "gateway/selector.h"
#include "gateway/upstream.h"

namespace nodeops::gateway {

class GatewayMetrics;

/// @brief The chain's response-cache counters (series of GatewayMetrics' cache families), every
/// (class, result) pair from the start.
struct CacheSeries {
  std::array<metrics::Counter*, chains::evm::kCacheClassNames.size() * kCacheResultNames.size()> requests{};
  metrics::Counter* coalesced = nullptr;
  void count(chains::evm::CacheClass cls, CacheResult result) {
    requests[chains::evm::cache_class_index(cls) * kCacheResultNames.size() + static_cast<size_t>(result)]->inc();
  }
  double total(CacheResult result) const {
    double n = 0;
    for (size_t i = static_cast<size_t>(result); i < requests.size(); i += kCacheResultNames.size()) {
      n += requests[i]->value();
    }
    return n;
  }
};

struct ChainRuntime {
  const ChainConfig* config = nullptr;
  size_t index = 0;
  /// Same order as config->upstreams and as every ChainHealth::upstreams.
  std::vector<std::unique_ptr<Upstream>> upstreams;
  /// Read by every loop, written by the health tracker.
  HealthBoard health;
  /// Read by every loop, written by rollouts.
  std::atomic<std::shared_ptr<const TrafficSplit>> traffic;
  CacheSeries cache;
  /// Samples "no healthy upstream" answers; reset when the chain has one again.
  log::Pow2Sampler unavailable_log;
  /// Which upstream accepted which client's recent transactions (read-your-writes).
  RecentWrites writes;
  /// The highest block each client has been served (monotonic reads).
  ClientHeads heads;

  // Admin loop only.
  std::string active_pool;

  void set_traffic(TrafficSplit split) { traffic.store(std::make_shared<const TrafficSplit>(std::move(split))); }
};

/// The runtime of every configured chain, upstreams and their metrics included; all traffic on
/// each chain's active pool.
std::vector<std::unique_ptr<ChainRuntime>> make_chains(const GatewayConfig& config, GatewayMetrics& metrics);

}  // namespace nodeops::gateway
