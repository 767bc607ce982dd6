// Token buckets for the public endpoint: one per API key (its own limit, from the keys file), one
// per client address for requests without a key, and one global cap over every request. A call
// costs its method's weight (eth_getLogs can cost 20 where eth_chainId costs 1), a request the sum
// of its calls. Limits are per gateway replica.
//
// Memory is bounded whatever clients do: per-address buckets live in a table of at most
// `max_tracked_ips` entries, least recently used first out. An attacker rotating addresses gets a
// fresh bucket per address (per-address limits cannot stop that; the global cap does), never
// more memory.
//
// Threads: every method may be called from any traffic loop; each bucket (and each shard of the
// address table) has its own short lock.
#pragma once

#include <atomic>
#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gateway/config.h"

namespace nodeops::gateway {

using LimitClock = std::chrono::steady_clock;

/// Lets maps keyed by std::string be searched with a string_view, without a copy.
struct TransparentHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

/// @brief Refill rate and capacity of a bucket; rps 0 means no limit.
struct BucketRate {
  double rps = 0;
  double burst = 0;  // capacity in tokens; 0: one second's worth (rps)
  double capacity() const { return burst > 0 ? burst : rps; }
  bool limited() const { return rps > 0; }
};

/// @brief A bucket's tokens at its last update. Pure arithmetic; the owner provides the lock.
struct BucketState {
  double tokens = 0;
  LimitClock::time_point last{};
  bool started = false;  // a new bucket starts full

  void refill(const BucketRate& rate, LimitClock::time_point now);
  /// Takes `cost` tokens (a cost above the capacity takes a full bucket) and returns 0, or
  /// returns the seconds until they will be there and takes nothing.
  double take(const BucketRate& rate, double cost, LimitClock::time_point now);
};

/// @brief One bucket behind its own lock (a key's limit, the global cap).
class TokenBucket {
 public:
  explicit TokenBucket(BucketRate rate) : rate_(rate) {}
  /// Seconds until `cost` tokens are there; 0 when taken now.
  double take(double cost, LimitClock::time_point now);
  /// Puts back tokens taken for a request another bucket refused.
  void give_back(double cost);
  /// True when at least one token is there (a cheap check before the body is parsed).
  bool has_token(LimitClock::time_point now);
  /// A reloaded keys file may change the key's limit; its tokens stay.
  void set_rate(BucketRate rate);
  BucketRate rate() const;

 private:
  mutable std::mutex mu_;
  BucketRate rate_;
  BucketState state_;
};

/// @brief Buckets per client address, at most `max_tracked` of them (least recently used out).
class AddressBuckets {
 public:
  AddressBuckets(BucketRate rate, size_t max_tracked);
  double take(std::string_view address, double cost, LimitClock::time_point now);
  void give_back(std::string_view address, double cost);
  bool has_token(std::string_view address, LimitClock::time_point now);
  size_t tracked() const;
  BucketRate rate() const { return rate_; }
  uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    std::string address;
    BucketState state;
  };
  struct Shard {
    std::mutex mu;
    std::list<Entry> lru;  // most recently used first
    std::unordered_map<std::string, std::list<Entry>::iterator, TransparentHash, std::equal_to<>> index;
  };
  static constexpr size_t kShards = 16;
  Shard& shard_of(std::string_view address);
  /// The entry of `address` in `s` (created, evicting the oldest when full), moved to the front.
  BucketState& touch(Shard& s, std::string_view address);

  BucketRate rate_;
  size_t per_shard_;
  std::unique_ptr<Shard[]> shards_;
  std::atomic<uint64_t> evictions_{0};
};

/// @brief Method weights: exact names, or prefixes ending in "_"; exact names win, then the
/// longest prefix; 1 for any other method.
class MethodWeights {
 public:
  explicit MethodWeights(const std::vector<MethodWeight>& rules);
  double of(std::string_view method) const;

 private:
  std::unordered_map<std::string, double, TransparentHash, std::equal_to<>> exact_;
  std::vector<std::pair<std::string, double>> prefixes_;  // longest first
};

/// @brief Which limit refused a request, and when to come back.
struct Refusal {
  enum class Scope { key, address, global };
  Scope scope;
  double retry_after_seconds;
};

/// @brief The rate_limits section at work: the per-address table, the global cap, the weights.
/// A request with an API key is charged to its key's bucket (when the key has a limit), one
/// without a key to its address's bucket; every request to the global cap.
class RateLimiter {
 public:
  explicit RateLimiter(const RateLimitConfig& config);

  /// Before the body is parsed: refuses at once when a bucket the request draws on is empty.
  std::optional<Refusal> admits(TokenBucket* key_bucket, std::string_view address, LimitClock::time_point now);
  /// Takes `cost` from every bucket the request draws on, or from none and says which refused.
  std::optional<Refusal> take(TokenBucket* key_bucket, std::string_view address, double cost,
                              LimitClock::time_point now);
  /// The global cap alone (the client's bucket was charged elsewhere: shared limits).
  std::optional<Refusal> take_global(double cost, LimitClock::time_point now);
  const MethodWeights& weights() const { return weights_; }
  const AddressBuckets* addresses() const { return addresses_.get(); }

 private:
  std::unique_ptr<AddressBuckets> addresses_;  // null: no per-address limit
  std::unique_ptr<TokenBucket> global_;        // null: no global cap
  MethodWeights weights_;
};

}  // namespace nodeops::gateway
