#include "gateway/chain_runtime.h"

#include "gateway/metrics.h"

namespace nodeops::gateway {

std::vector<std::unique_ptr<ChainRuntime>> make_chains(const GatewayConfig& config, GatewayMetrics& metrics) {
  std::vector<std::unique_ptr<ChainRuntime>> chains;
  for (size_t i = 0; i < config.chains.size(); ++i) {
    const auto& cfg = config.chains[i];
    auto rt = std::make_unique<ChainRuntime>();
    rt->config = &cfg;
    rt->index = i;
    rt->active_pool = cfg.active_pool;
    rt->set_traffic(TrafficSplit{{{rt->active_pool, 100.0}}});
    auto set = std::make_shared<UpstreamSet>();
    set->config = std::shared_ptr<const ChainConfig>(std::shared_ptr<const void>(), &cfg);  // not owned
    set->generation = 1;
    for (const auto& u : cfg.upstreams) {
      set->upstreams.push_back(std::make_shared<Upstream>(cfg, i, u, rt->next_slot++, metrics.upstream_families()));
    }
    rt->latest_set = set;
    auto health = std::make_shared<ChainHealth>();
    health->upstreams.resize(cfg.upstreams.size());
    health->set = std::move(set);
    rt->health.publish(std::move(health));
    const auto& cf = metrics.cache_families();
    for (size_t k = 0; k < chains::evm::kCacheClassNames.size(); ++k) {
      for (size_t r = 0; r < kCacheResultNames.size(); ++r) {
        rt->cache.requests[k * kCacheResultNames.size() + r] =
            &cf.requests->labels({cfg.name, chains::evm::kCacheClassNames[k], kCacheResultNames[r]});
      }
    }
    rt->cache.coalesced = &cf.coalesced->labels({cfg.name});
    chains.push_back(std::move(rt));
  }
  return chains;
}

}  // namespace nodeops::gateway
