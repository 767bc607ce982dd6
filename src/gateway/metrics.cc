#include "gateway/metrics.h"

#include <chrono>
#include <unordered_map>

#include "chains/evm.h"
#include "gateway/cache.h"
#include "gateway/health.h"
#include "nodeops/version.h"

namespace nodeops::gateway {

namespace {
using nodeops::kVersion;  // generated at build time (top-level CMakeLists.txt)

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
  upstream_.requests = &r.counter("nodeops_gateway_upstream_requests_total",
                                  "Calls sent to an upstream, by outcome (ok, rpc_error, error, rate_limited: it "
                                  "answered HTTP 429).",
                                  {"chain", "upstream", "outcome"});
  upstream_.errors = &r.counter("nodeops_gateway_upstream_errors_total",
                                "Failed calls to an upstream, by reason (connect, timeout, http_status, bad_response).",
                                {"chain", "upstream", "reason"});
  upstream_.duration = &r.histogram("nodeops_gateway_upstream_request_duration_seconds",
                                    "Time an upstream took to answer one call.", {"chain", "upstream"});
  upstream_.head = &r.gauge("nodeops_gateway_upstream_head",
                            "Head block reported by the upstream; absent while it has no fresh head.",
                            {"chain", "upstream"});
  upstream_.lag = &r.gauge("nodeops_gateway_upstream_lag_blocks",
                           "Blocks the upstream is behind the chain's best head; absent while it has no fresh head.",
                           {"chain", "upstream"});
  upstream_.healthy = &r.gauge("nodeops_gateway_upstream_healthy", "1 when the upstream is in rotation.",
                               {"chain", "upstream"});
  upstream_.state = &r.gauge("nodeops_gateway_upstream_state",
                             "1 for the upstream's current state (healthy, down, syncing, wrong_chain, lagging, "
                             "failing_calls, circuit_open, bad_response, not_probed).",
                             {"chain", "upstream", "state"});
  upstream_.info = &r.gauge("nodeops_gateway_upstream_info", "Static facts of an upstream (always 1).",
                            {"chain", "upstream", "pool", "role", "tier"});
  upstream_.throttled = &r.counter("nodeops_gateway_upstream_throttled_total",
                                   "Calls not sent to an upstream that could serve them, by reason (budget: its "
                                   "max_rps is spent; backoff: it answered 429 and its Retry-After has not passed).",
                                   {"chain", "upstream", "reason"});
  upstream_.tier_requests = &r.counter("nodeops_gateway_tier_requests_total",
                                       "Calls answered by an upstream of the tier (primary, fallback): fallback "
                                       "traffic is what a paid provider bills.",
                                       {"chain", "tier"});
  upstream_.connections = &r.gauge("nodeops_gateway_upstream_connections", "Open connections to an upstream.",
                                   {"chain", "upstream"});
  upstream_.in_flight = &r.gauge("nodeops_gateway_upstream_in_flight", "Calls in flight to an upstream.",
                                 {"chain", "upstream"});
  upstream_.batch_calls = &r.histogram("nodeops_gateway_upstream_batch_calls",
                                       "Calls per exchange with an upstream that batching handled (1: sent alone).",
                                       {"chain", "upstream"}, {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128});
  upstream_.coalesced = &r.counter("nodeops_gateway_upstream_coalesced_calls_total",
                                   "Calls that travelled to an upstream in a batch with other calls.",
                                   {"chain", "upstream"});
  upstream_.coalesce_wait = &r.histogram("nodeops_gateway_upstream_coalesce_wait_seconds",
                                         "Time a call queued for a busy upstream before it was sent.",
                                         {"chain", "upstream"},
                                         {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1});
  upstream_.batching = &r.gauge("nodeops_gateway_upstream_batching",
                                "1 while light calls to an upstream may travel in batches (0: batching off, or the "
                                "upstream answered a batch as something else).",
                                {"chain", "upstream"});
  auto& chain_head = r.gauge("nodeops_gateway_chain_head", "Best head of the chain across its upstreams.", {"chain"});
  auto& chain_healthy = r.gauge("nodeops_gateway_chain_healthy_upstreams", "Upstreams in rotation.", {"chain"});
  auto& head_regressions = r.counter("nodeops_gateway_head_regressions_total",
                                     "Times the best head the chain serves went down (a reorg deeper than a block, "
                                     "or the leading upstreams left and a node behind them took over).",
                                     {"chain"});
  auto& shed = r.counter("nodeops_gateway_shed_total",
                         "Calls refused at once because every eligible upstream was at max_inflight, out of its "
                         "max_rps budget or backing off after a 429.", {"chain"});
  retries_ = &r.counter("nodeops_gateway_retries_total", "Calls retried on another upstream, by the failure that caused it.",
                        {"chain", "reason"});
  broadcasts_ = &r.counter("nodeops_gateway_broadcasts_total",
                           "Raw transactions sent on to the chain's other upstreams after one accepted them, by "
                           "outcome (ok, rejected, failed).",
                           {"chain", "outcome"});
  in_flight_ = &r.gauge("nodeops_gateway_in_flight_requests", "HTTP requests being answered.").labels({});
  {
    auto& lookups = r.counter("nodeops_gateway_cache_redis_lookups_total",
                              "Lookups in the cache's shared tier (Redis), by result (hit, miss, error: down, slow "
                              "or refusing).",
                              {"result"});
    size_t i = 0;
    for (const char* result : {"hit", "miss", "error"}) redis_lookups_[i++] = &lookups.labels({result});
    auto& writes = r.counter("nodeops_gateway_cache_redis_writes_total",
                             "Final answers written to the cache's shared tier, by result (ok, error: not sent).",
                             {"result"});
    redis_writes_ = {&writes.labels({"ok"}), &writes.labels({"error"})};
    redis_connected_ = &r.gauge("nodeops_gateway_cache_redis_connected",
                                "Traffic loops connected to the cache's shared tier (Redis).")
                            .labels({});
  }
  client_connections_ = &r.gauge("nodeops_gateway_client_connections", "Open client connections.").labels({});
  connections_refused_ = &r.counter("nodeops_gateway_client_connections_refused_total",
                                    "Client connections closed at accept because limits.max_connections were open.")
                              .labels({});
  buffered_bytes_ = &r.gauge("nodeops_gateway_buffered_reply_bytes",
                             "Upstream reply bytes held by requests in progress (limits.max_buffered_bytes).")
                         .labels({});
  active_clients_ = &r.gauge("nodeops_gateway_active_clients",
                             "Distinct client addresses seen in the last 5 minutes.").labels({});
  active_pool_ = &r.gauge("nodeops_gateway_active_pool", "1 for the pool that takes the chain's traffic.", {"chain", "pool"});
  pool_traffic_ = &r.gauge("nodeops_gateway_pool_traffic_percent", "Share of the chain's traffic sent to a pool.",
                           {"chain", "pool"});
  rollout_phase_ = &r.gauge("nodeops_gateway_rollout_phase", "1 for the chain's current rollout phase.", {"chain", "phase"});
  rollouts_ = &r.counter("nodeops_gateway_rollouts_total", "Rollouts ended, by result.", {"chain", "result"});
  cache_.requests = &r.counter("nodeops_gateway_cache_requests_total",
                               "Cacheable calls by chain, method class (chain, block, transaction, logs, state) and "
                               "result (hit, miss, bypass: the client sent Cache-Control: no-cache).",
                               {"chain", "class", "result"});
  cache_.coalesced = &r.counter("nodeops_gateway_cache_coalesced_total",
                                "Calls answered by an identical call already in flight (no upstream request of their own).",
                                {"chain"});
  cache_bytes_ = &r.gauge("nodeops_gateway_cache_bytes", "Bytes the response cache holds (keys, results, overhead; "
                                                         "at most cache.max_bytes).").labels({});
  cache_entries_ = &r.gauge("nodeops_gateway_cache_entries", "Answers the response cache holds.").labels({});
  cache_evictions_ = &r.counter("nodeops_gateway_cache_evictions_total",
                                "Answers dropped from the response cache to make room (or expired at its tail).")
                         .labels({});
  // Config reloads (gateway/reload.h): every result from the start, so a rate of rejections is 0, not empty.
  auto& reloads = r.counter("nodeops_gateway_config_reloads_total",
                            "Config reloads (SIGHUP or a change of the file), by result (applied; rejected: the "
                            "file had errors and the running config kept serving; unchanged: nothing to apply).",
                            {"result"});
  for (size_t i = 0; i < kReloadResultNames.size(); ++i) config_reloads_[i] = &reloads.labels({kReloadResultNames[i]});
  config_info_ = &r.gauge("nodeops_gateway_config_info",
                          "The config file last loaded or applied, by the SHA-256 of its bytes (always 1).",
                          {"sha256"});
  config_reload_successful_ = &r.gauge("nodeops_gateway_config_last_reload_successful",
                                       "1 when the last reload attempt was applied (or had nothing to apply), 0 "
                                       "when it was rejected.")
                                   .labels({});
  config_reload_successful_->set(1);
  config_reload_timestamp_ = &r.gauge("nodeops_gateway_config_last_reload_success_timestamp_seconds",
                                      "Unix time of the last successful load of the config (start, or a reload).")
                                  .labels({});
  config_restart_required_ = &r.gauge("nodeops_gateway_config_restart_required",
                                      "1 when the config file holds changes a reload cannot apply (listen, threads, "
                                      "global sections, chains added or removed): they take effect at the next "
                                      "restart.")
                                  .labels({});
  r.gauge("nodeops_gateway_build_info", "Version of the running gateway (always 1).", {"version"}).labels({kVersion}).set(1);
  metrics::register_process_metrics(r);

  for (const auto& c : config.chains) {
    ChainSeries cs;
    cs.name = c.name;
    cs.head = &chain_head.labels({c.name});
    cs.healthy_count = &chain_healthy.labels({c.name});
    cs.head_regressions = &head_regressions.labels({c.name});
    cs.shed = &shed.labels({c.name});
    size_t methods = chains::evm::known_methods().size() + 1;
    cs.requests.reset(new std::atomic<metrics::Counter*>[methods * kOutcomeNames.size()]());
    cs.durations.reset(new std::atomic<metrics::Histogram*>[methods]());
    // Every outcome exists from the start, so ratios over a healthy chain are 0, not empty.
    request_counter(cs, methods - 1, "other", 0);
    chains_.push_back(std::move(cs));
    for (const auto& pool : c.pools()) {
      active_pool_->labels({c.name, pool}).set(pool == c.active_pool ? 1 : 0);
      pool_traffic_->labels({c.name, pool}).set(pool == c.active_pool ? 100 : 0);
    }
    set_rollout_phase(c, "idle");
    // Counters start at 0 so increase() sees the first rollout of a fresh gateway.
    for (const char* result : {"completed", "rolled_back", "aborted", "refused"}) rollouts_->labels({c.name, result});
    for (const char* reason : {"connect", "timeout", "http_status", "bad_response", "state_unavailable", "rate_limited"}) {
      retries_->labels({c.name, reason});
    }
    for (const char* outcome : {"ok", "rejected", "failed"}) broadcasts_->labels({c.name, outcome});
    for (const char* tier : kTierNames) upstream_.tier_requests->labels({c.name, tier});
  }
}

void GatewayMetrics::count_config_reload(std::string_view result) {
  for (size_t i = 0; i < kReloadResultNames.size(); ++i) {
    if (result == kReloadResultNames[i]) config_reloads_[i]->inc();
  }
  bool ok = result != "rejected";
  config_reload_successful_->set(ok ? 1 : 0);
  if (ok) {
    config_reload_timestamp_->set(
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  }
}

void GatewayMetrics::set_config_loaded(const std::string& sha256, bool restart_required) {
  if (sha256 != config_sha256_) {
    if (!config_sha256_.empty()) config_info_->remove({config_sha256_});
    config_sha256_ = sha256;
    config_info_->labels({sha256}).set(1);
  }
  config_restart_required_->set(restart_required ? 1 : 0);
  if (config_reload_timestamp_->value() == 0) {
    config_reload_timestamp_->set(
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  }
}

metrics::Counter* GatewayMetrics::request_counter(ChainSeries& cs, size_t method, std::string_view name,
                                                  size_t outcome) {
  auto& slot = cs.requests[method * kOutcomeNames.size() + outcome];
  auto* counter = slot.load(std::memory_order_acquire);
  if (counter) return counter;
  // First call of this method: all its outcomes at once. Two loops may race here; labels() is
  // idempotent, so both store the same pointers.
  for (size_t o = 0; o < kOutcomeNames.size(); ++o) {
    auto* c = &requests_->labels({cs.name, std::string(name), kOutcomeNames[o]});
    cs.requests[method * kOutcomeNames.size() + o].store(c, std::memory_order_release);
  }
  return slot.load(std::memory_order_acquire);
}

void GatewayMetrics::record_request(size_t chain, std::string_view method, Outcome outcome, double seconds) {
  auto& cs = chains_[chain];
  size_t mi = method_index(method);
  request_counter(cs, mi, chains::evm::metric_method(method), static_cast<size_t>(outcome))->inc();
  auto& hslot = cs.durations[mi];
  auto* histogram = hslot.load(std::memory_order_acquire);
  if (!histogram) {
    histogram = &request_duration_->labels({cs.name, std::string(chains::evm::metric_method(method))});
    hslot.store(histogram, std::memory_order_release);
  }
  histogram->observe(seconds);
}

void GatewayMetrics::watch_cache(const ResponseCache& cache) {
  registry_.on_collect([this, &cache, counted = std::make_shared<double>(0)] {
    cache_bytes_->set(static_cast<double>(cache.bytes()));
    cache_entries_->set(static_cast<double>(cache.entries()));
    auto evictions = static_cast<double>(cache.evictions());
    cache_evictions_->inc(evictions - *counted);
    *counted = evictions;
  });
}

void GatewayMetrics::record_retry(size_t chain, std::string_view reason) {
  retries_->labels({chains_[chain].name, std::string(reason)}).inc();
}

void GatewayMetrics::record_health(size_t chain, const ChainHealth& health) {
  chains_[chain].head->set(static_cast<double>(health.best_head));
  chains_[chain].healthy_count->set(static_cast<double>(health.healthy));
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

}  // namespace nodeops::gateway
