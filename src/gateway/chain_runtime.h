// The live state of one chain, shared by the traffic loops (which only read the two snapshots)
// and the admin loop (which writes them and owns everything else here).
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "gateway/config.h"
#include "gateway/health.h"
#include "gateway/selector.h"

namespace nodeops::gateway {

/// @brief One point of an upstream's recent history, for the status page's sparklines.
struct HistoryPoint {
  int64_t unix_seconds = 0;
  uint64_t head = 0;
  bool healthy = false;
  double rps = 0;
  double error_ratio = 0;
  double p99_ms = 0;
};

struct ChainRuntime {
  const ChainConfig* config = nullptr;
  size_t index = 0;
  /// Read by every loop, written by the health tracker.
  HealthBoard health;
  /// Read by every loop, written by rollouts.
  std::atomic<std::shared_ptr<const TrafficSplit>> traffic;

  // Admin loop only.
  std::string active_pool;
  std::vector<std::deque<HistoryPoint>> history;  // per upstream, oldest first
  static constexpr size_t kHistoryPoints = 120;

  void set_traffic(TrafficSplit split) { traffic.store(std::make_shared<const TrafficSplit>(std::move(split))); }
};

}  // namespace nodeops::gateway
