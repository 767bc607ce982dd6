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
  Small<size_t> candidates;
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
    Small<size_t> kept;
    std::copy_if(candidates.begin(), candidates.end(), std::back_inserter(kept), keep);
    if (!kept.empty()) candidates = std::move(kept);
  };
  bool old_state = criteria.range.low && health.best_head > config.archive_after_blocks &&
                   *criteria.range.low < health.best_head - config.archive_after_blocks;
  bool needs_archive = criteria.prefer_archive || old_state;
  // Tiers: a fallback (a provider that bills) takes a call only when no primary candidate can
  // serve it: has the block asked for and, for old state, is an archive. When no candidate at all
  // can, the primaries keep it (the freshest of them answers, as without tiers).
  auto serves = [&](size_t i) {
    if (criteria.range.high && health.upstreams[i].head.value_or(0) < *criteria.range.high) return false;
    return !needs_archive || config.upstreams[i].role == Role::archive;
  };
  auto primary = [&](size_t i) { return config.upstreams[i].tier == Tier::primary; };
  if (std::any_of(candidates.begin(), candidates.end(), primary)) {
    bool primary_serves = false, fallback_serves = false;
    for (size_t i : candidates) (primary(i) ? primary_serves : fallback_serves) |= serves(i);
    if (primary_serves || !fallback_serves) narrow(primary);
    else narrow([&](size_t i) { return !primary(i); });
  }
  if (criteria.range.high) {
    // Those that have the block; when none has it yet, the freshest (a client that was served a
    // higher head must not be sent back to an older one).
    uint64_t want = *criteria.range.high;
    uint64_t freshest = 0;
    for (size_t i : candidates) freshest = std::max(freshest, health.upstreams[i].head.value_or(0));
    narrow([&](size_t i) { return health.upstreams[i].head.value_or(0) >= std::min(want, freshest); });
  }
  if (needs_archive) {
    narrow([&](size_t i) { return config.upstreams[i].role == Role::archive; });
  }
  if (candidates.size() == 1) return candidates.front();
  if (criteria.preferred &&
      std::find(candidates.begin(), candidates.end(), *criteria.preferred) != candidates.end()) {
    return criteria.preferred;
  }

  // Weighted random choice on an effective weight: the configured weight divided by how busy
  // (outstanding calls) and how slow (EWMA latency relative to the fastest candidate) the upstream
  // is. At equal load the configured weights set the shares; under load the quick ones take more.
  double fastest = 0;
  for (size_t i : candidates) {
    double l = i < load.size() ? load[i].ewma_ms : 0;
    if (l > 0 && (fastest == 0 || l < fastest)) fastest = l;
  }
  Small<double> effective;
  double total = 0;
  for (size_t i : candidates) {
    const auto& l = i < load.size() ? load[i] : UpstreamLoad{};
    double slowness = (fastest > 0 && l.ewma_ms > 0) ? l.ewma_ms / fastest : 1.0;
    double w = config.upstreams[i].weight / ((l.outstanding + 1.0) * slowness);
    effective.push_back(w);
    total += w;
  }
  double x = std::uniform_real_distribution<double>(0, total)(rng);
  for (size_t k = 0; k < candidates.size(); ++k) {
    if (x < effective[k]) return candidates[k];
    x -= effective[k];
  }
  return candidates.back();
}

}  // namespace nodeops::gateway
