#include "gateway/rate_limit.h"

#include <algorithm>

namespace nodeops::gateway {

void BucketState::refill(const BucketRate& rate, LimitClock::time_point now) {
  double cap = rate.capacity();
  if (!started) {
    started = true;
    tokens = cap;
    last = now;
    return;
  }
  if (now > last) {
    tokens = std::min(cap, tokens + std::chrono::duration<double>(now - last).count() * rate.rps);
    last = now;
  }
}

double BucketState::take(const BucketRate& rate, double cost, LimitClock::time_point now) {
  refill(rate, now);
  cost = std::min(cost, rate.capacity());
  if (tokens >= cost) {
    tokens -= cost;
    return 0;
  }
  return (cost - tokens) / rate.rps;
}

double TokenBucket::take(double cost, LimitClock::time_point now) {
  std::lock_guard lock(mu_);
  return state_.take(rate_, cost, now);
}

void TokenBucket::give_back(double cost) {
  std::lock_guard lock(mu_);
  state_.tokens = std::min(rate_.capacity(), state_.tokens + cost);
}

bool TokenBucket::has_token(LimitClock::time_point now) {
  std::lock_guard lock(mu_);
  state_.refill(rate_, now);
  return state_.tokens >= std::min(1.0, rate_.capacity());
}

void TokenBucket::set_rate(BucketRate rate) {
  std::lock_guard lock(mu_);
  rate_ = rate;
  state_.tokens = std::min(state_.tokens, rate_.capacity());
}

BucketRate TokenBucket::rate() const {
  std::lock_guard lock(mu_);
  return rate_;
}

AddressBuckets::AddressBuckets(BucketRate rate, size_t max_tracked)
    : rate_(rate),
      per_shard_(std::max<size_t>(1, (max_tracked + kShards - 1) / kShards)),
      shards_(new Shard[kShards]) {}

AddressBuckets::Shard& AddressBuckets::shard_of(std::string_view address) {
  return shards_[std::hash<std::string_view>{}(address) % kShards];
}

BucketState& AddressBuckets::touch(Shard& s, std::string_view address) {
  auto it = s.index.find(address);
  if (it != s.index.end()) {
    s.lru.splice(s.lru.begin(), s.lru, it->second);
    return it->second->state;
  }
  if (s.index.size() >= per_shard_) {
    // The least recently seen address goes; if it comes back it starts with a full bucket, which
    // is what it would have refilled to in most cases anyway.
    s.index.erase(s.lru.back().address);
    s.lru.pop_back();
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
  s.lru.push_front(Entry{std::string(address), {}});
  s.index.emplace(s.lru.front().address, s.lru.begin());
  return s.lru.front().state;
}

double AddressBuckets::take(std::string_view address, double cost, LimitClock::time_point now) {
  auto& s = shard_of(address);
  std::lock_guard lock(s.mu);
  return touch(s, address).take(rate_, cost, now);
}

void AddressBuckets::give_back(std::string_view address, double cost) {
  auto& s = shard_of(address);
  std::lock_guard lock(s.mu);
  auto it = s.index.find(address);
  if (it != s.index.end()) {
    auto& st = it->second->state;
    st.tokens = std::min(rate_.capacity(), st.tokens + cost);
  }
}

bool AddressBuckets::has_token(std::string_view address, LimitClock::time_point now) {
  auto& s = shard_of(address);
  std::lock_guard lock(s.mu);
  auto it = s.index.find(address);
  if (it == s.index.end()) return true;  // a new address starts full; not tracked before it is charged
  auto& st = it->second->state;
  st.refill(rate_, now);
  return st.tokens >= std::min(1.0, rate_.capacity());
}

size_t AddressBuckets::tracked() const {
  size_t n = 0;
  for (size_t i = 0; i < kShards; ++i) {
    std::lock_guard lock(shards_[i].mu);
    n += shards_[i].index.size();
  }
  return n;
}

MethodWeights::MethodWeights(const std::vector<MethodWeight>& rules) {
  for (const auto& r : rules) {
    if (!r.method.empty() && r.method.back() == '_')
      prefixes_.emplace_back(r.method, r.weight);
    else
      exact_[r.method] = r.weight;
  }
  std::stable_sort(prefixes_.begin(), prefixes_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

double MethodWeights::of(std::string_view method) const {
  if (auto it = exact_.find(method); it != exact_.end()) return it->second;
  for (const auto& [prefix, weight] : prefixes_) {
    if (method.starts_with(prefix)) return weight;
  }
  return 1;
}

RateLimiter::RateLimiter(const RateLimitConfig& config) : weights_(config.method_weights) {
  BucketRate per_address{config.per_ip_rps, config.per_ip_burst};
  if (per_address.limited()) addresses_ = std::make_unique<AddressBuckets>(per_address, config.max_tracked_ips);
  BucketRate global{config.global_rps, config.global_burst};
  if (global.limited()) global_ = std::make_unique<TokenBucket>(global);
}

std::optional<Refusal> RateLimiter::admits(TokenBucket* key_bucket, std::string_view address,
                                           LimitClock::time_point now) {
  if (key_bucket) {
    if (!key_bucket->has_token(now)) return Refusal{Refusal::Scope::key, 1 / key_bucket->rate().rps};
  } else if (addresses_ && !addresses_->has_token(address, now)) {
    return Refusal{Refusal::Scope::address, 1 / addresses_->rate().rps};
  }
  if (global_ && !global_->has_token(now)) return Refusal{Refusal::Scope::global, 1 / global_->rate().rps};
  return std::nullopt;
}

std::optional<Refusal> RateLimiter::take(TokenBucket* key_bucket, std::string_view address, double cost,
                                         LimitClock::time_point now) {
  if (cost <= 0) return std::nullopt;
  bool by_address = !key_bucket && addresses_;
  if (key_bucket) {
    if (double wait = key_bucket->take(cost, now); wait > 0) return Refusal{Refusal::Scope::key, wait};
  } else if (by_address) {
    if (double wait = addresses_->take(address, cost, now); wait > 0) return Refusal{Refusal::Scope::address, wait};
  }
  if (global_) {
    if (double wait = global_->take(cost, now); wait > 0) {
      // All or nothing: the client's own bucket gets back what this refused request took.
      if (key_bucket)
        key_bucket->give_back(cost);
      else if (by_address)
        addresses_->give_back(address, cost);
      return Refusal{Refusal::Scope::global, wait};
    }
  }
  return std::nullopt;
}

std::optional<Refusal> RateLimiter::take_global(double cost, LimitClock::time_point now) {
  if (cost <= 0 || !global_) return std::nullopt;
  if (double wait = global_->take(cost, now); wait > 0) return Refusal{Refusal::Scope::global, wait};
  return std::nullopt;
}

}  // namespace nodeops::gateway
