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
    for (size_t u = 0; u < cfg.upstreams.size(); ++u) {
      rt->upstreams.push_back(std::make_unique<Upstream>(cfg, i, cfg.upstreams[u], u, metrics.upstream_families()));
    }
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
