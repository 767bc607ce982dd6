// Every metric the gateway exports, registered in one place (docs/interfaces.md lists them).
// Hot-path series are looked up once and cached per chain, so a request costs a few relaxed
// atomic adds.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "gateway/config.h"

namespace nodeops::gateway {

struct ChainHealth;

enum class Outcome { ok, rpc_error, rejected, failed };
constexpr std::array<const char*, 4> kOutcomeNames = {"ok", "rpc_error", "rejected", "failed"};

enum class UpstreamError { connect, timeout, http_status, bad_response };
constexpr std::array<const char*, 4> kUpstreamErrorNames = {"connect", "timeout", "http_status", "bad_response"};

/// @brief Cached series for one upstream.
struct UpstreamSeries {
  metrics::Counter* ok;
  metrics::Counter* rpc_error;
  metrics::Counter* error;
  std::array<metrics::Counter*, 4> errors;  // by UpstreamError
  metrics::Histogram* duration;
  metrics::Gauge* head;
  metrics::Gauge* lag;
  metrics::Gauge* healthy;
  metrics::Gauge* connections;
};

class GatewayMetrics {
 public:
  explicit GatewayMetrics(const GatewayConfig& config);

  metrics::Registry& registry() { return registry_; }
  void record_request(size_t chain, std::string_view method, Outcome outcome, double seconds);
  void record_retry(size_t chain, std::string_view reason);
  UpstreamSeries& upstream(size_t chain, size_t index) { return chains_[chain].upstreams[index]; }
  void record_health(const ChainConfig& chain, const ChainHealth& health);
  void set_traffic(const ChainConfig& chain, const std::string& pool, double percent);
  void set_active_pool(const ChainConfig& chain, const std::string& pool);
  void set_rollout_phase(const ChainConfig& chain, const std::string& phase);
  void count_rollout(const ChainConfig& chain, const std::string& result);

  metrics::Gauge& in_flight() { return *in_flight_; }
  metrics::Gauge& client_connections() { return *client_connections_; }
  metrics::Gauge& active_clients() { return *active_clients_; }

  /// Lifetime request counters of one upstream, for the status page.
  double upstream_requests(size_t chain, size_t index) const;
  double upstream_failures(size_t chain, size_t index) const;

 private:
  struct ChainSeries {
    std::string name;
    std::vector<UpstreamSeries> upstreams;
    metrics::Gauge* head;
    metrics::Gauge* healthy_count;
    // Per (method index, outcome), created on first use; index known_methods().size() is "other".
    std::unique_ptr<std::atomic<metrics::Counter*>[]> requests;
    std::unique_ptr<std::atomic<metrics::Histogram*>[]> durations;
  };
  metrics::Registry registry_;
  metrics::Family<metrics::Counter>* requests_;
  metrics::Family<metrics::Histogram>* request_duration_;
  metrics::Family<metrics::Counter>* retries_;
  metrics::Family<metrics::Gauge>* active_pool_;
  metrics::Family<metrics::Gauge>* pool_traffic_;
  metrics::Family<metrics::Gauge>* rollout_phase_;
  metrics::Family<metrics::Counter>* rollouts_;
  metrics::Gauge* in_flight_;
  metrics::Gauge* client_connections_;
  metrics::Gauge* active_clients_;
  std::vector<ChainSeries> chains_;
};

}  // namespace nodeops::gateway
