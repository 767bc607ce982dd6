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
  /// The chain's config at startup: only its name and type are read from it (a reload never
  /// changes them). Everything else comes from the published set: `upstreams()->config`.
  const ChainConfig* config = nullptr;
  size_t index = 0;
  /// Read by every loop, written by the health tracker (and by a reload, with a new set): the
  /// upstreams, their config and their health as one consistent snapshot.
  HealthBoard health;
  /// The upstreams being served now, with their chain config. A call takes one snapshot (via
  /// health.load()) and keeps it to its end.
  std::shared_ptr<const UpstreamSet> upstreams() const { return health.load()->set; }
  /// The upstream at `position` of the current set (tests, admin views).
  Upstream& upstream(size_t position) const { return *upstreams()->upstreams.at(position); }
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
  /// The newest set: published already, or being probed by a reload before it is published.
  std::shared_ptr<const UpstreamSet> latest_set;
  size_t next_slot = 0;  // the slot of the next upstream built for this chain

  void set_traffic(TrafficSplit split) { traffic.store(std::make_shared<const TrafficSplit>(std::move(split))); }
};

/// The runtime of every configured chain, upstreams and their metrics included; all traffic on
/// each chain's active pool.
/// `config` must outlive them (the gateway's startup config lives as long as the process).
std::vector<std::unique_ptr<ChainRuntime>> make_chains(const GatewayConfig& config, GatewayMetrics& metrics);

}  // namespace nodeops::gateway
