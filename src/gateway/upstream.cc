#include "gateway/upstream.h"

#include <algorithm>
#include <charconv>
#include <ctime>

namespace nodeops::gateway {

bool CircuitBreaker::try_acquire(Clock::time_point now) {
  int64_t until = open_until_.load(std::memory_order_relaxed);
  if (until == 0) return true;
  if (ticks(now) < until) return false;
  bool idle = false;
  return trial_.compare_exchange_strong(idle, true, std::memory_order_relaxed);
}

void CircuitBreaker::on_success() {
  consecutive_.store(0, std::memory_order_relaxed);
  if (open_until_.load(std::memory_order_relaxed) != 0) {
    open_until_.store(0, std::memory_order_relaxed);
    trips_.store(0, std::memory_order_relaxed);
    closes_.fetch_add(1, std::memory_order_relaxed);
  }
  trial_.store(false, std::memory_order_relaxed);
}

void CircuitBreaker::on_failure(Clock::time_point now) {
  int64_t until = open_until_.load(std::memory_order_relaxed);
  if (until != 0) {
    // A failed trial opens it again, for longer; a call that was already in flight when the
    // breaker opened changes nothing.
    if (ticks(now) >= until) open(now, reason());
    return;
  }
  if (consecutive_.fetch_add(1, std::memory_order_relaxed) + 1 >= options_.consecutive_failures) {
    open(now, UpstreamState::circuit_open);
  }
}

void CircuitBreaker::trip(Clock::time_point now, UpstreamState why) {
  if (open_until_.load(std::memory_order_relaxed) == 0) open(now, why);
}

void CircuitBreaker::open(Clock::time_point now, UpstreamState why) {
  uint32_t k = std::min<uint32_t>(trips_.fetch_add(1, std::memory_order_relaxed), 16);
  auto cooldown = std::min<Clock::duration>(options_.cooldown * (1LL << k), options_.max_cooldown);
  reason_.store(static_cast<uint8_t>(why), std::memory_order_relaxed);
  consecutive_.store(0, std::memory_order_relaxed);
  trial_.store(false, std::memory_order_relaxed);
  open_until_.store(ticks(now + cooldown), std::memory_order_relaxed);
}

CircuitBreaker::Phase CircuitBreaker::phase(Clock::time_point now) const {
  int64_t until = open_until_.load(std::memory_order_relaxed);
  if (until == 0) return Phase::closed;
  return ticks(now) < until ? Phase::open : Phase::half_open;
}

bool RequestBudget::try_spend(Clock::time_point now, double units) {
  if (!limited()) return true;
  auto cost = static_cast<int64_t>(units * ns_per_unit_);
  int64_t t = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  int64_t burst = std::max(kBurstNs, cost);
  int64_t tat = tat_.load(std::memory_order_relaxed);
  for (;;) {
    int64_t next = std::max(tat, t) + cost;
    if (next - t > burst) return false;
    if (tat_.compare_exchange_weak(tat, next, std::memory_order_relaxed)) return true;
  }
}

Duration RateLimitBackoff::backoff_for(std::string_view v, std::chrono::system_clock::time_point now) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  Duration d = kDefault;
  uint64_t seconds = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
  if (!v.empty() && ec == std::errc() && end == v.data() + v.size()) {
    d = seconds >= static_cast<uint64_t>(kMax.count() / 1000) ? kMax : Duration(seconds * 1000);
  } else if (!v.empty()) {
    // An HTTP date: "Wed, 21 Oct 2015 07:28:00 GMT".
    std::tm tm{};
    std::string text(v);
    if (const char* rest = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm); rest && *rest == '\0') {
      auto at = std::chrono::system_clock::from_time_t(timegm(&tm));
      d = at > now ? std::chrono::ceil<Duration>(at - now) : Duration(0);
    }
  }
  // Retry-After: 0 on a 429 would be a retry storm; one second at least.
  return std::clamp(d, Duration(1000), kMax);
}

void RateLimitBackoff::back_off(Clock::time_point now, Duration d) {
  int64_t until = (now + d).time_since_epoch().count();
  int64_t cur = until_.load(std::memory_order_relaxed);
  while (cur < until && !until_.compare_exchange_weak(cur, until, std::memory_order_relaxed)) {
  }
}

double RateLimitBackoff::seconds_left(Clock::time_point now) const {
  int64_t left = until_.load(std::memory_order_relaxed) - now.time_since_epoch().count();
  return left > 0 ? std::chrono::duration<double>(Clock::duration(left)).count() : 0;
}

void CallWindow::add(Clock::time_point now, double requests, double failures, Clock::duration window) {
  samples_.push_back({now, requests, failures});
  // Keep one sample at or before the window's start, so the window spans all of it.
  while (samples_.size() > 2 && samples_[1].at <= now - window) samples_.pop_front();
}

UpstreamMetrics::UpstreamMetrics(const UpstreamFamilies& f, const std::string& chain, const UpstreamConfig& u)
    : f_(f), labels_{chain, u.name} {
  ok_ = &f.requests->labels({chain, u.name, "ok"});
  rpc_error_ = &f.requests->labels({chain, u.name, "rpc_error"});
  error_ = &f.requests->labels({chain, u.name, "error"});
  rate_limited_ = &f.requests->labels({chain, u.name, "rate_limited"});
  for (size_t i = 0; i < kThrottleNames.size(); ++i) throttled_[i] = &f.throttled->labels({chain, u.name, kThrottleNames[i]});
  tier_served_ = &f.tier_requests->labels({chain, tier_name(u.tier)});
  for (size_t i = 0; i < kUpstreamErrorNames.size(); ++i) errors_[i] = &f.errors->labels({chain, u.name, kUpstreamErrorNames[i]});
  duration_ = &f.duration->labels({chain, u.name});
  healthy_ = &f.healthy->labels({chain, u.name});
  connections_ = &f.connections->labels({chain, u.name});
  in_flight_ = &f.in_flight->labels({chain, u.name});
  batch_calls_ = &f.batch_calls->labels({chain, u.name});
  coalesced_ = &f.coalesced->labels({chain, u.name});
  coalesce_wait_ = &f.coalesce_wait->labels({chain, u.name});
  batching_ = &f.batching->labels({chain, u.name});
  batching_->set(u.batching == Batching::off ? 0 : 1);
  for (size_t i = 0; i < kUpstreamStateNames.size(); ++i) states_[i] = &f.state->labels({chain, u.name, kUpstreamStateNames[i]});
  states_[static_cast<size_t>(UpstreamState::not_probed)]->set(1);
  f.info->labels({chain, u.name, u.pool, u.role == Role::archive ? "archive" : "full", tier_name(u.tier)}).set(1);
}

void UpstreamMetrics::set_health(bool healthy, UpstreamState state, std::optional<uint64_t> head, uint64_t lag) {
  healthy_->set(healthy ? 1 : 0);
  for (size_t i = 0; i < states_.size(); ++i) states_[i]->set(i == static_cast<size_t>(state) ? 1 : 0);
  if (head) {
    if (!head_) head_ = &f_.head->labels(labels_);
    if (!lag_) lag_ = &f_.lag->labels(labels_);
    head_->set(static_cast<double>(*head));
    lag_->set(static_cast<double>(lag));
  } else if (head_) {
    f_.head->remove(labels_);
    f_.lag->remove(labels_);
    head_ = lag_ = nullptr;
  }
}

namespace {
std::vector<std::string> info_labels(const std::vector<std::string>& chain_upstream, const UpstreamConfig& u) {
  return {chain_upstream[0], chain_upstream[1], u.pool, u.role == Role::archive ? "archive" : "full", tier_name(u.tier)};
}
}  // namespace

void UpstreamMetrics::retire_info(const UpstreamConfig& config) { f_.info->remove(info_labels(labels_, config)); }

void UpstreamMetrics::retire(const UpstreamConfig& config) {
  retire_info(config);
  f_.healthy->remove(labels_);
  for (const char* state : kUpstreamStateNames) f_.state->remove({labels_[0], labels_[1], state});
  if (head_) {
    f_.head->remove(labels_);
    f_.lag->remove(labels_);
    head_ = lag_ = nullptr;
  }
}

Upstream::Upstream(const ChainConfig& chain, size_t chain_index, UpstreamConfig config, size_t slot,
                   const UpstreamFamilies& families)
    : breaker(chain.passive_health),
      metrics(families, chain.name, config),
      budget(config.max_rps),
      config_(std::move(config)),
      chain_index_(chain_index),
      slot_(slot),
      adapter_(chains::make_adapter(chain.type, config_.url.str())) {}

}  // namespace nodeops::gateway
