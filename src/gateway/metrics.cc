#include "gateway/metrics.h"

#include <unordered_map>

#include "chains/evm.h"
#include "gateway/health.h"
#include "nodeops/version.h"

namespace nodeops::gateway {

namespace {
using nodeops::kVersion;  // generated at build time (top-level CMakeLists.txt)
const char* role_name(Role r) { return r == Role::archive ? "archive" : "full"; }

// Index of a method in chains::evm::known_methods(), or its size for "other".
size_t method_index(std::string_view method) {
  static const auto* index = [] {
    auto* m = new std::unordered_map<std::string_view, size_t>();
    auto known = chains::evm::known_methods();
    for (size_t i = 0; i < known.size(); ++i) m->emplace(known[i], i);
    return m;
  }();
  auto it = index->find(method);
  return it == index->end() ? chains::evm::known_methods().size() : it->second;
}
}  // namespace

GatewayMetrics::GatewayMetrics(const GatewayConfig& config) {
  auto& r = registry_;
  requests_ = &r.counter("nodeops_gateway_requests_total",
                         "JSON-RPC calls answered, by chain, method and outcome (ok, rpc_error, rejected, failed).",
                         {"chain", "method", "outcome"});
  request_duration_ = &r.histogram("nodeops_gateway_request_duration_seconds",
                                   "Time to answer one JSON-RPC call, retries included.", {"chain", "method"});
  auto& up_requests = r.counter("nodeops_gateway_upstream_requests_total",
                                "Calls sent to an upstream, by outcome (ok, rpc_error, error).",
                                {"chain", "upstream", "outcome"});
  auto& up_errors = r.counter("nodeops_gateway_upstream_errors_total",
                              "Failed calls to an upstream, by reason (connect, timeout, http_status, bad_response).",
                              {"chain", "upstream", "reason"});
  auto& up_duration = r.histogram("nodeops_gateway_upstream_request_duration_seconds",
                                  "Time an upstream took to answer one call.", {"chain", "upstream"});
  auto& up_head = r.gauge("nodeops_gateway_upstream_head", "Head block reported by the upstream.", {"chain", "upstream"});
  auto& up_lag = r.gauge("nodeops_gateway_upstream_lag_blocks", "Blocks the upstream is behind the chain's best head.",
                         {"chain", "upstream"});
  auto& up_healthy = r.gauge("nodeops_gateway_upstream_healthy", "1 when the upstream is in rotation.",
                             {"chain", "upstream"});
  auto& up_info = r.gauge("nodeops_gateway_upstream_info", "Static facts of an upstream (always 1).",
                          {"chain", "upstream", "pool", "role"});
  auto& chain_head = r.gauge("nodeops_gateway_chain_head", "Best head of the chain across its upstreams.", {"chain"});
  auto& chain_healthy = r.gauge("nodeops_gateway_chain_healthy_upstreams", "Upstreams in rotation.", {"chain"});
  retries_ = &r.counter("nodeops_gateway_retries_total", "Calls retried on another upstream, by the failure that caused it.",
                        {"chain", "reason"});
  in_flight_ = &r.gauge("nodeops_gateway_in_flight_requests", "HTTP requests being answered.").labels({});
  client_connections_ = &r.gauge("nodeops_gateway_client_connections", "Open client connections.").labels({});
  auto& up_conns = r.gauge("nodeops_gateway_upstream_connections", "Open connections to an upstream.", {"chain", "upstream"});
  active_clients_ = &r.gauge("nodeops_gateway_active_clients",
                             "Distinct client addresses seen in the last 5 minutes.").labels({});
  active_pool_ = &r.gauge("nodeops_gateway_active_pool", "1 for the pool that takes the chain's traffic.", {"chain", "pool"});
  pool_traffic_ = &r.gauge("nodeops_gateway_pool_traffic_percent", "Share of the chain's traffic sent to a pool.",
                           {"chain", "pool"});
  rollout_phase_ = &r.gauge("nodeops_gateway_rollout_phase", "1 for the chain's current rollout phase.", {"chain", "phase"});
  rollouts_ = &r.counter("nodeops_gateway_rollouts_total", "Rollouts ended, by result.", {"chain", "result"});
  r.gauge("nodeops_gateway_build_info", "Version of the running gateway (always 1).", {"version"}).labels({kVersion}).set(1);
  metrics::register_process_metrics(r);

  for (const auto& c : config.chains) {
    ChainSeries cs;
    cs.name = c.name;
    cs.head = &chain_head.labels({c.name});
    cs.healthy_count = &chain_healthy.labels({c.name});
    size_t methods = chains::evm::known_methods().size() + 1;
    cs.requests.reset(new std::atomic<metrics::Counter*>[methods * kOutcomeNames.size()]());
    cs.durations.reset(new std::atomic<metrics::Histogram*>[methods]());
    for (const auto& u : c.upstreams) {
      UpstreamSeries s{};
      s.ok = &up_requests.labels({c.name, u.name, "ok"});
      s.rpc_error = &up_requests.labels({c.name, u.name, "rpc_error"});
      s.error = &up_requests.labels({c.name, u.name, "error"});
      for (size_t i = 0; i < kUpstreamErrorNames.size(); ++i) {
        s.errors[i] = &up_errors.labels({c.name, u.name, kUpstreamErrorNames[i]});
      }
      s.duration = &up_duration.labels({c.name, u.name});
      s.head = &up_head.labels({c.name, u.name});
      s.lag = &up_lag.labels({c.name, u.name});
      s.healthy = &up_healthy.labels({c.name, u.name});
      s.connections = &up_conns.labels({c.name, u.name});
      up_info.labels({c.name, u.name, u.pool, role_name(u.role)}).set(1);
      cs.upstreams.push_back(s);
    }
    chains_.push_back(std::move(cs));
    for (const auto& pool : c.pools()) {
      active_pool_->labels({c.name, pool}).set(pool == c.active_pool ? 1 : 0);
      pool_traffic_->labels({c.name, pool}).set(pool == c.active_pool ? 100 : 0);
    }
    set_rollout_phase(c, "idle");
    // Counters start at 0 so increase() sees the first rollout of a fresh gateway.
    for (const char* result : {"completed", "rolled_back", "aborted", "refused"}) rollouts_->labels({c.name, result});
  }
}

void GatewayMetrics::record_request(size_t chain, std::string_view method, Outcome outcome, double seconds) {
  auto& cs = chains_[chain];
  size_t mi = method_index(method);
  auto o = static_cast<size_t>(outcome);
  auto& slot = cs.requests[mi * kOutcomeNames.size() + o];
  auto* counter = slot.load(std::memory_order_acquire);
  if (!counter) {
    counter = &requests_->labels({cs.name, std::string(chains::evm::metric_method(method)), kOutcomeNames[o]});
    slot.store(counter, std::memory_order_release);
  }
  counter->inc();
  auto& hslot = cs.durations[mi];
  auto* histogram = hslot.load(std::memory_order_acquire);
  if (!histogram) {
    histogram = &request_duration_->labels({cs.name, std::string(chains::evm::metric_method(method))});
    hslot.store(histogram, std::memory_order_release);
  }
  histogram->observe(seconds);
}

void GatewayMetrics::record_retry(size_t chain, std::string_view reason) {
  retries_->labels({chains_[chain].name, std::string(reason)}).inc();
}

void GatewayMetrics::record_health(const ChainConfig& chain, const ChainHealth& health) {
  for (size_t c = 0; c < chains_.size(); ++c) {
    if (chains_[c].name != chain.name) continue;
    chains_[c].head->set(static_cast<double>(health.best_head));
    chains_[c].healthy_count->set(static_cast<double>(health.healthy));
    for (size_t i = 0; i < health.upstreams.size() && i < chains_[c].upstreams.size(); ++i) {
      const auto& u = health.upstreams[i];
      auto& s = chains_[c].upstreams[i];
      if (u.head) s.head->set(static_cast<double>(*u.head));
      s.lag->set(static_cast<double>(u.lag));
      s.healthy->set(u.healthy ? 1 : 0);
    }
  }
}

void GatewayMetrics::set_traffic(const ChainConfig& chain, const std::string& pool, double percent) {
  pool_traffic_->labels({chain.name, pool}).set(percent);
}

void GatewayMetrics::set_active_pool(const ChainConfig& chain, const std::string& pool) {
  for (const auto& p : chain.pools()) active_pool_->labels({chain.name, p}).set(p == pool ? 1 : 0);
}

void GatewayMetrics::set_rollout_phase(const ChainConfig& chain, const std::string& phase) {
  for (const char* p : {"idle", "shifting", "completed", "rolled_back", "aborted"}) {
    rollout_phase_->labels({chain.name, p}).set(phase == p ? 1 : 0);
  }
}

void GatewayMetrics::count_rollout(const ChainConfig& chain, const std::string& result) {
  rollouts_->labels({chain.name, result}).inc();
}

double GatewayMetrics::upstream_requests(size_t chain, size_t index) const {
  const auto& s = chains_[chain].upstreams[index];
  return s.ok->value() + s.rpc_error->value() + s.error->value();
}

double GatewayMetrics::upstream_failures(size_t chain, size_t index) const {
  return chains_[chain].upstreams[index].error->value();
}

}  // namespace nodeops::gateway
