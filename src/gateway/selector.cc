#include "gateway/selector.h"

#include <algorithm>

namespace nodeops::gateway {

double TrafficSplit::share(const std::string& pool) const {
  for (const auto& [name, pct] : pools) {
    if (name == pool) return pct;
  }
  return 0;
}

std::string pick_pool(const TrafficSplit& split, Rng& rng) {
  if (split.pools.size() == 1) return split.pools.front().first;
  double total = 0;
  for (const auto& p : split.pools) total += p.second;
  if (total <= 0) return {};
  double x = std::uniform_real_distribution<double>(0, total)(rng);
  for (const auto& p : split.pools) {
    if (x < p.second) return p.first;
    x -= p.second;
  }
  return split.pools.back().first;
}

std::optional<size_t> select_upstream(const ChainConfig& config, const ChainHealth& health,
                                      const TrafficSplit& split, std::span<const UpstreamLoad> load,
                                      const Criteria& criteria, Rng& rng) {
  std::vector<size_t> candidates;
  for (size_t i = 0; i < config.upstreams.size() && i < health.upstreams.size(); ++i) {
    if (!health.upstreams[i].healthy) continue;
    if (i < criteria.tried.size() && criteria.tried[i]) continue;
    const auto& pool = config.upstreams[i].pool;
    if (criteria.pool.empty() ? split.share(pool) <= 0 : pool != criteria.pool) continue;
    candidates.push_back(i);
  }
  if (candidates.empty()) return std::nullopt;

  // Narrow, but never to nothing: if no node has the block yet, the freshest one answers.
  auto narrow = [&](auto keep) {
    std::vector<size_t> kept;
    std::copy_if(candidates.begin(), candidates.end(), std::back_inserter(kept), keep);
    if (!kept.empty()) candidates = std::move(kept);
  };
  if (criteria.range.high) {
    narrow([&](size_t i) { return health.upstreams[i].head.value_or(0) >= *criteria.range.high; });
  }
  bool old_state = criteria.range.low && health.best_head > config.archive_after_blocks &&
                   *criteria.range.low < health.best_head - config.archive_after_blocks;
  if (criteria.prefer_archive || old_state) {
    narrow([&](size_t i) { return config.upstreams[i].role == Role::archive; });
  }
  if (candidates.size() == 1) return candidates.front();

  auto weighted_draw = [&](std::optional<size_t> exclude) {
    double total = 0;
    for (size_t i : candidates) {
      if (i != exclude) total += config.upstreams[i].weight;
    }
    double x = std::uniform_real_distribution<double>(0, total)(rng);
    for (size_t i : candidates) {
      if (i == exclude) continue;
      if (x < config.upstreams[i].weight) return i;
      x -= config.upstreams[i].weight;
    }
    return candidates.back() == exclude ? candidates.front() : candidates.back();
  };
  auto score = [&](size_t i) {
    const auto& l = i < load.size() ? load[i] : UpstreamLoad{};
    double latency = l.ewma_ms > 0 ? l.ewma_ms : 1.0;
    return (l.outstanding + 1) * latency / config.upstreams[i].weight;
  };
  size_t a = weighted_draw(std::nullopt);
  size_t b = weighted_draw(a);
  return score(b) < score(a) ? b : a;
}

}  // namespace nodeops::gateway
