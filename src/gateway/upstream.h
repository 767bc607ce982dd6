// One upstream of a chain as one object: its config, probe adapter, circuit breaker, metrics and
// history live together, so a new property of an upstream is a change in one place.
//
// Lifecycle: built with its chain when the gateway starts (make_chains in chain_runtime.h) or by a
// config reload (gateway/reload.h); shared by the chain's published UpstreamSet snapshots and by
// the calls in flight to it, so one removed by a reload lives until its last call is done. Threads: config and adapter are immutable; the breaker, the in-flight
// count, the log sampler and the metrics are safe from every loop; `history` and `window` belong to
// the admin loop (the health tracker).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "chains/adapter.h"
#include "core/log.h"
#include "core/metrics.h"
#include "gateway/config.h"

namespace nodeops::gateway {

using Clock = std::chrono::steady_clock;

/// Why an upstream is in or out of rotation; `nodeops_gateway_upstream_state` has one series per
/// value, and /status shows its name.
enum class UpstreamState {
  healthy,        // in rotation
  down,           // no answer to the probe (connect refused, timeout, reset)
  syncing,        // says it is syncing (or Solana getHealth says it is behind)
  wrong_chain,    // another chain id
  lagging,        // more than max_lag_blocks behind the best head
  failing_calls,  // its real calls fail too often (passive health), even if its probes pass
  circuit_open,   // consecutive real calls failed
  bad_response,   // answered the probe with something unusable (not JSON, no head, absurd head)
  not_probed,     // no probe round has finished yet
};
constexpr std::array<const char*, 9> kUpstreamStateNames = {"healthy",       "down",         "syncing",
                                                            "wrong_chain",   "lagging",      "failing_calls",
                                                            "circuit_open",  "bad_response", "not_probed"};
inline const char* state_name(UpstreamState s) { return kUpstreamStateNames[static_cast<size_t>(s)]; }

/// How a proxied call to an upstream failed (the `reason` of nodeops_gateway_upstream_errors_total).
enum class UpstreamError { connect, timeout, http_status, bad_response };
constexpr std::array<const char*, 4> kUpstreamErrorNames = {"connect", "timeout", "http_status", "bad_response"};

/// @brief Passive health of one upstream, shared by every loop (atomics only).
///
/// Closed: calls flow. `consecutive_failures` failed calls in a row, or a trip() by the health
/// tracker when the failure ratio over its window is too high, open it for a cool-down that
/// doubles with each trip in a row (up to max_cooldown). After the cool-down it is half-open:
/// exactly one trial call at a time is let through; its success closes the breaker, its failure
/// opens it again for longer. A JSON-RPC error answer is a success: the node works.
class CircuitBreaker {
 public:
  enum class Phase { closed, open, half_open };
  explicit CircuitBreaker(const PassiveHealth& options) : options_(options) {}

  /// Whether a call may be sent now. In half-open, true for one caller only (the trial), which
  /// must then report on_success(), on_failure() or on_neutral().
  bool try_acquire(Clock::time_point now);
  void on_success();
  void on_failure(Clock::time_point now);
  /// The call ended without saying anything about the upstream (e.g. the client's deadline).
  void on_neutral() { trial_.store(false, std::memory_order_relaxed); }
  /// Opens the breaker now because of `why` (failing_calls from the health tracker's window).
  void trip(Clock::time_point now, UpstreamState why);

  Phase phase(Clock::time_point now) const;
  /// circuit_open or failing_calls: what opened it last.
  UpstreamState reason() const { return static_cast<UpstreamState>(reason_.load(std::memory_order_relaxed)); }
  /// Incremented each time the breaker closes again; the tracker starts a new window then.
  uint64_t closes() const { return closes_.load(std::memory_order_relaxed); }
  uint32_t consecutive_failures() const { return consecutive_.load(std::memory_order_relaxed); }

 private:
  void open(Clock::time_point now, UpstreamState why);
  static int64_t ticks(Clock::time_point t) { return t.time_since_epoch().count(); }

  PassiveHealth options_;
  std::atomic<int64_t> open_until_{0};  // steady-clock ticks; 0 while closed
  std::atomic<bool> trial_{false};
  std::atomic<uint32_t> consecutive_{0};
  std::atomic<uint32_t> trips_{0};  // trips since the last success, for the back-off
  std::atomic<uint8_t> reason_{static_cast<uint8_t>(UpstreamState::circuit_open)};
  std::atomic<uint64_t> closes_{0};
};

/// @brief An upstream's request budget (max_rps) shared by every loop: a token bucket kept as one
/// atomic "theoretical arrival time" (GCRA), so spending is a compare-and-swap, never a lock.
/// Bursts up to one second's worth (or one call, when a call costs more than that).
class RequestBudget {
 public:
  explicit RequestBudget(double per_second)
      : ns_per_unit_(per_second > 0 ? 1e9 / per_second : 0) {}
  bool limited() const { return ns_per_unit_ > 0; }
  /// Takes `units` from the budget when it has them; false (and nothing taken) when spent.
  bool try_spend(Clock::time_point now, double units);

 private:
  static constexpr int64_t kBurstNs = 1'000'000'000;
  double ns_per_unit_;
  std::atomic<int64_t> tat_{0};  // steady-clock ns when the bucket is full again
};

/// @brief An upstream's answer "too many requests" (HTTP 429): no call goes to it until the time
/// its Retry-After asked for (kDefault without one, kMax at most). Not a failure: the breaker and
/// the passive-health window never see it. Atomics only, shared by every loop.
class RateLimitBackoff {
 public:
  static constexpr Duration kDefault{5000};
  static constexpr Duration kMax{60000};
  /// How long a 429 with this Retry-After value (seconds, or an HTTP date) backs off for.
  static Duration backoff_for(std::string_view retry_after, std::chrono::system_clock::time_point now);
  void back_off(Clock::time_point now, Duration d);
  bool active(Clock::time_point now) const { return now.time_since_epoch().count() < until_.load(std::memory_order_relaxed); }
  /// Seconds left (0 when not backing off), for /status.
  double seconds_left(Clock::time_point now) const;

 private:
  std::atomic<int64_t> until_{0};  // steady-clock ticks
};

/// Why a call was not sent to an upstream that could serve it (the `reason` of
/// nodeops_gateway_upstream_throttled_total): its max_rps budget is spent, or it is backing off
/// after a 429.
enum class Throttle { budget, backoff };
constexpr std::array<const char*, 2> kThrottleNames = {"budget", "backoff"};

/// @brief The failure ratio of an upstream's real calls over a sliding window, from its lifetime
/// counters sampled once per health round. Admin loop only.
class CallWindow {
 public:
  void add(Clock::time_point now, double requests, double failures, Clock::duration window);
  void clear() { samples_.clear(); }
  double requests() const { return samples_.size() < 2 ? 0 : samples_.back().requests - samples_.front().requests; }
  double failures() const { return samples_.size() < 2 ? 0 : samples_.back().failures - samples_.front().failures; }

 private:
  struct Sample {
    Clock::time_point at;
    double requests, failures;
  };
  std::deque<Sample> samples_;
};

/// @brief One point of an upstream's recent history, for the status page's sparklines.
struct HistoryPoint {
  int64_t unix_seconds = 0;
  uint64_t head = 0;
  bool healthy = false;
  double rps = 0;
  double error_ratio = 0;
  double p99_ms = 0;
};

/// Metric families an upstream registers its series in (owned by GatewayMetrics' registry).
struct UpstreamFamilies {
  metrics::Family<metrics::Counter>* requests;
  metrics::Family<metrics::Counter>* errors;
  metrics::Family<metrics::Histogram>* duration;
  metrics::Family<metrics::Gauge>* head;
  metrics::Family<metrics::Gauge>* lag;
  metrics::Family<metrics::Gauge>* healthy;
  metrics::Family<metrics::Gauge>* state;
  metrics::Family<metrics::Gauge>* info;
  metrics::Family<metrics::Gauge>* connections;
  metrics::Family<metrics::Gauge>* in_flight;
  metrics::Family<metrics::Histogram>* batch_calls;
  metrics::Family<metrics::Counter>* coalesced;
  metrics::Family<metrics::Histogram>* coalesce_wait;
  metrics::Family<metrics::Gauge>* batching;
  metrics::Family<metrics::Counter>* throttled;
  metrics::Family<metrics::Counter>* tier_requests;
};

/// @brief Every series of one upstream, created with it (every label value it can take, at 0).
/// Head and lag exist only while the upstream has a fresh head: a dead node must not look in sync.
class UpstreamMetrics {
 public:
  UpstreamMetrics(const UpstreamFamilies& families, const std::string& chain, const UpstreamConfig& config);
  metrics::Counter& ok() { return *ok_; }
  metrics::Counter& rpc_error() { return *rpc_error_; }
  /// The upstream answered HTTP 429: neither a success nor a failure.
  metrics::Counter& rate_limited() { return *rate_limited_; }
  void throttled(Throttle why) { throttled_[static_cast<size_t>(why)]->inc(); }
  /// A call this upstream answered, counted under its tier.
  metrics::Counter& tier_served() { return *tier_served_; }
  /// A failed call: counts it as an error and under its reason.
  void failed(UpstreamError why) {
    error_->inc();
    errors_[static_cast<size_t>(why)]->inc();
  }
  metrics::Histogram& duration() { return *duration_; }
  metrics::Gauge& connections() { return *connections_; }
  metrics::Gauge& in_flight() { return *in_flight_; }
  metrics::Histogram& batch_calls() { return *batch_calls_; }
  metrics::Counter& coalesced() { return *coalesced_; }
  metrics::Histogram& coalesce_wait() { return *coalesce_wait_; }
  metrics::Gauge& batching() { return *batching_; }
  /// Publishes a probe verdict: healthy, state, and head/lag (removed when `head` is unset).
  void set_health(bool healthy, UpstreamState state, std::optional<uint64_t> head, uint64_t lag);
  /// The upstream left the config (a reload): its health series (healthy, state, head, lag, info)
  /// go, so no alert reads a verdict nobody updates. Admin loop only; counters stay (they are
  /// touched by calls still in flight, and a counter that vanishes looks like a reset).
  void retire(const UpstreamConfig& config);
  /// Only its info series (pool, role, tier labels): a same-named successor carries new ones.
  void retire_info(const UpstreamConfig& config);

  double requests() const { return ok_->value() + rpc_error_->value() + error_->value() + rate_limited_->value(); }
  double failures() const { return error_->value(); }

 private:
  const UpstreamFamilies& f_;
  std::vector<std::string> labels_;  // {chain, upstream}
  metrics::Counter *ok_, *rpc_error_, *error_, *rate_limited_;
  std::array<metrics::Counter*, kUpstreamErrorNames.size()> errors_;
  std::array<metrics::Counter*, kThrottleNames.size()> throttled_;
  metrics::Counter* tier_served_;
  metrics::Histogram* duration_;
  metrics::Gauge *healthy_, *connections_, *in_flight_, *batching_;
  metrics::Histogram *batch_calls_, *coalesce_wait_;
  metrics::Counter* coalesced_;
  std::array<metrics::Gauge*, kUpstreamStateNames.size()> states_;
  metrics::Gauge* head_ = nullptr;  // null while the head is unknown
  metrics::Gauge* lag_ = nullptr;
};

/// What batching has learnt about an upstream: nothing yet, or whether it answers batches as batches.
enum class BatchSupport : uint8_t { unknown, yes, no };

class Upstream {
 public:
  Upstream(const ChainConfig& chain, size_t chain_index, UpstreamConfig config, size_t slot,
           const UpstreamFamilies& families);

  /// The config it was built with. Weight and max_inflight may have changed since (a reload keeps
  /// the object then): read those from the UpstreamSet's config.
  const UpstreamConfig& config() const { return config_; }
  const std::string& name() const { return config_.name; }
  /// Its id within its chain, never reused (unlike its position in an UpstreamSet, which a reload
  /// changes): per-loop state (connection pools, load figures, batch lanes) is keyed by it.
  size_t slot() const { return slot_; }
  size_t chain_index() const { return chain_index_; }
  const chains::Adapter& adapter() const { return *adapter_; }

  CircuitBreaker breaker;
  UpstreamMetrics metrics;
  RequestBudget budget;
  RateLimitBackoff backoff;
  /// Calls in flight to this upstream from every loop; new calls are refused at config().max_inflight.
  std::atomic<uint32_t> in_flight{0};
  /// Samples the "upstream call failed" log line.
  log::Pow2Sampler failure_log;
  std::atomic<BatchSupport> batch_support{BatchSupport::unknown};
  /// A refusal is remembered this long; then batches are tried again (a provider's plan may change).
  static constexpr Clock::duration kBatchRefusalMemory = std::chrono::minutes(10);
  /// Records that it answered a batch as something else; true the first time since it last took one.
  bool refuse_batches(Clock::time_point now) {
    batch_refused_at_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
    return batch_support.exchange(BatchSupport::no, std::memory_order_relaxed) != BatchSupport::no;
  }
  /// Whether light calls to it may travel in batches now (config, and what it answered lately).
  bool batches(Clock::time_point now) const {
    auto mode = config_.batching;
    if (mode != Batching::automatic) return mode == Batching::on;
    if (batch_support.load(std::memory_order_relaxed) != BatchSupport::no) return true;
    return now.time_since_epoch().count() - batch_refused_at_.load(std::memory_order_relaxed) >
           std::chrono::duration_cast<Clock::duration>(kBatchRefusalMemory).count();
  }

  // Admin loop only.
  std::deque<HistoryPoint> history;  // oldest first
  static constexpr size_t kHistoryPoints = 120;
  CallWindow window;
  uint64_t seen_closes = 0;  // breaker.closes() when the window was last cleared

 private:
  std::atomic<int64_t> batch_refused_at_{0};
  const UpstreamConfig config_;
  size_t chain_index_;
  size_t slot_;
  std::unique_ptr<chains::Adapter> adapter_;
};

}  // namespace nodeops::gateway
