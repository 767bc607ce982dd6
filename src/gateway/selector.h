// Which upstream takes a call. Pure functions of the health snapshot, the traffic split and the
// loop's own load figures, so they are unit-tested without any server.
#pragma once

#include <boost/container/small_vector.hpp>

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "chains/evm.h"
#include "gateway/config.h"
#include "gateway/health.h"

namespace nodeops::gateway {

/// @brief Share of a chain's traffic per pool, in percent. Blue/green rollouts change it.
struct TrafficSplit {
  std::vector<std::pair<std::string, double>> pools;  // only pools with a share > 0
  double share(const std::string& pool) const;
};

/// @brief Load of one upstream as seen by one event loop.
struct UpstreamLoad {
  uint32_t outstanding = 0;
  double ewma_ms = 0;  // 0 until the first answer
};

// Per-call lists sized by a chain's upstream count, which is small: inline, no allocation per call.
template <typename T>
using Small = boost::container::small_vector<T, 16>;

struct Criteria {
  chains::evm::BlockRange range;
  bool prefer_archive = false;  // a node said the state is gone: ask an archive next
  std::string pool;             // empty = any pool with traffic
  Small<bool> tried;            // upstreams already tried for this call
  std::optional<size_t> preferred;  // taken when it qualifies (read-your-writes: it has the tx)
};

using Rng = std::mt19937_64;

/// Picks a pool by traffic share.
std::string pick_pool(const TrafficSplit& split, Rng& rng);

/// Picks an upstream: healthy, in an allowed pool, not tried; primaries only while one of them can
/// serve the call (has the block, is an archive when old state is asked for), fallbacks when none
/// can (or when no primary is left, e.g. all tried); among those, ones whose head covers the block
/// asked for, and archives for old state, when any qualify; then at random, in proportion to
/// weight / ((outstanding + 1) x latency relative to the fastest).
std::optional<size_t> select_upstream(const ChainConfig& config, const ChainHealth& health,
                                      const TrafficSplit& split, std::span<const UpstreamLoad> load,
                                      const Criteria& criteria, Rng& rng);

}  // namespace nodeops::gateway
