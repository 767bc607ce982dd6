// Every metric family the gateway exports, registered in one place (docs/interfaces.md lists
// them). Chain-level series live here; each upstream registers and owns its own series
// (gateway/upstream.h) in the families listed by upstream_families(). Hot-path series are looked
// up once and cached, so a request costs a few relaxed atomic adds.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "gateway/config.h"
#include "gateway/upstream.h"

namespace nodeops::gateway {

struct ChainHealth;
class ResponseCache;

/// What the response cache did for one call (the `result` of nodeops_gateway_cache_requests_total).
enum class CacheResult { hit, miss, bypass };
constexpr std::array<const char*, 3> kCacheResultNames = {"hit", "miss", "bypass"};

/// Families a chain's cache series live in (ChainRuntime::CacheSeries).
struct CacheFamilies {
  metrics::Family<metrics::Counter>* requests;
  metrics::Family<metrics::Counter>* coalesced;
};

/// What a config reload did (the `result` of nodeops_gateway_config_reloads_total).
constexpr std::array<const char*, 3> kReloadResultNames = {"applied", "rejected", "unchanged"};

enum class Outcome { ok, rpc_error, rejected, failed };
constexpr std::array<const char*, 4> kOutcomeNames = {"ok", "rpc_error", "rejected", "failed"};

class GatewayMetrics {
 public:
  explicit GatewayMetrics(const GatewayConfig& config);

  metrics::Registry& registry() { return registry_; }
  const UpstreamFamilies& upstream_families() const { return upstream_; }
  const CacheFamilies& cache_families() const { return cache_; }
  /// Exports the cache's bytes, entries and evictions, read at every scrape.
  void watch_cache(const ResponseCache& cache);
  void record_request(size_t chain, std::string_view method, Outcome outcome, double seconds);
  void record_retry(size_t chain, std::string_view reason);
  void record_health(size_t chain, const ChainHealth& health);
  void count_head_regression(size_t chain) { chains_[chain].head_regressions->inc(); }
  void count_shed(size_t chain) { chains_[chain].shed->inc(); }
  /// A raw transaction sent on to another upstream: ok (taken or already known), rejected, failed.
  void count_broadcast(size_t chain, std::string_view outcome) {
    broadcasts_->labels({chains_[chain].name, std::string(outcome)}).inc();
  }
  void set_traffic(const ChainConfig& chain, const std::string& pool, double percent);
  void set_active_pool(const ChainConfig& chain, const std::string& pool);
  void set_rollout_phase(const ChainConfig& chain, const std::string& phase);
  void count_rollout(const ChainConfig& chain, const std::string& result);

  /// A reload ended with `result` (one of kReloadResultNames).
  void count_config_reload(std::string_view result);
  /// The config file now in force has this SHA-256; whether it holds changes that need a restart.
  void set_config_loaded(const std::string& sha256, bool restart_required);

  metrics::Gauge& in_flight() { return *in_flight_; }
  metrics::Gauge& client_connections() { return *client_connections_; }
  metrics::Counter& connections_refused() { return *connections_refused_; }
  metrics::Gauge& active_clients() { return *active_clients_; }
  metrics::Gauge& buffered_bytes() { return *buffered_bytes_; }
  /// The cache's shared tier: lookups by result (hit, miss, error), writes by result (ok, error).
  metrics::Counter& redis_lookups(size_t result) { return *redis_lookups_[result]; }
  metrics::Counter& redis_writes(bool ok) { return *redis_writes_[ok ? 0 : 1]; }
  metrics::Gauge& redis_connected() { return *redis_connected_; }

 private:
  struct ChainSeries {
    std::string name;
    metrics::Gauge* head;
    metrics::Gauge* healthy_count;
    metrics::Counter* head_regressions;
    metrics::Counter* shed;
    // Per (method index, outcome), created on first use of a method (all four outcomes at once);
    // index known_methods().size() is "other", created with the chain.
    std::unique_ptr<std::atomic<metrics::Counter*>[]> requests;
    std::unique_ptr<std::atomic<metrics::Histogram*>[]> durations;
  };
  metrics::Counter* request_counter(ChainSeries& cs, size_t method, std::string_view name, size_t outcome);

  metrics::Registry registry_;
  UpstreamFamilies upstream_{};
  CacheFamilies cache_{};
  metrics::Gauge* cache_bytes_;
  metrics::Gauge* cache_entries_;
  metrics::Counter* cache_evictions_;
  metrics::Family<metrics::Counter>* requests_;
  metrics::Family<metrics::Histogram>* request_duration_;
  metrics::Family<metrics::Counter>* retries_;
  metrics::Family<metrics::Counter>* broadcasts_;
  metrics::Family<metrics::Gauge>* active_pool_;
  metrics::Family<metrics::Gauge>* pool_traffic_;
  metrics::Family<metrics::Gauge>* rollout_phase_;
  metrics::Family<metrics::Counter>* rollouts_;
  metrics::Gauge* in_flight_;
  metrics::Gauge* client_connections_;
  metrics::Counter* connections_refused_;
  metrics::Gauge* active_clients_;
  metrics::Gauge* buffered_bytes_;
  std::array<metrics::Counter*, 3> redis_lookups_{};
  std::array<metrics::Counter*, 2> redis_writes_{};
  metrics::Gauge* redis_connected_ = nullptr;
  std::vector<ChainSeries> chains_;
  std::array<metrics::Counter*, kReloadResultNames.size()> config_reloads_{};
  metrics::Family<metrics::Gauge>* config_info_ = nullptr;
  std::string config_sha256_;  // admin loop only
  metrics::Gauge* config_reload_successful_ = nullptr;
  metrics::Gauge* config_reload_timestamp_ = nullptr;
  metrics::Gauge* config_restart_required_ = nullptr;
};

}  // namespace nodeops::gateway
