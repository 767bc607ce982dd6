// Rate limits shared by every gateway replica, counted in Redis (`rate_limits.redis`): the per-key
// and per-address limits then hold for the fleet, not per replica (the global cap stays a
// per-replica protection).
//
// How: GCRA (the generic cell rate algorithm, what redis-cell and go-redis/redis_rate use) in one
// Lua script per request — one round trip, pipelined on the loop's connection with every other
// request of that loop. The bucket is one Redis key holding a "theoretical arrival time"; Redis's
// own clock (TIME) is the only clock, so replicas with skewed clocks agree. Why GCRA and not a
// fixed or sliding window: the same burst and refill semantics as the local token buckets
// (gateway/rate_limit.h), so turning sharing on changes who counts, not what a limit means; one
// key per bucket that expires by itself once the bucket is full again; no window-edge double burst.
//
// Failing open: when Redis is down, slow (an answer later than `redis_timeout`) or answers with an
// error, the request is charged to the replica's local buckets instead — the limits then hold per
// replica, as without Redis — and nodeops_gateway_rate_limit_redis_failures_total counts it (log
// lines in powers of two). The connection is re-established by itself (core/redis.h).
//
// Threads: one Redis connection per traffic loop; take() runs on the loop it names.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics.h"
#include "core/redis.h"
#include "gateway/rate_limit.h"

namespace nodeops::gateway {

/// @brief The shared limits' families, declared by the client gate whether sharing is on or not
/// (every series at 0 from the start).
struct SharedLimitMetrics {
  metrics::Counter* failures_down = nullptr;
  metrics::Counter* failures_error = nullptr;
  metrics::Gauge* connected = nullptr;
  static SharedLimitMetrics declare(metrics::Registry& registry);
};

/// @brief The answer of the shared bucket.
struct SharedTake {
  enum class Result { taken, refused, unavailable };
  Result result = Result::unavailable;
  double retry_after_seconds = 0;  // refused: when `cost` tokens will be there
};

class SharedRateLimiter {
 public:
  /// `config.redis` must be set (validated with the config).
  SharedRateLimiter(const RateLimitConfig& config, SharedLimitMetrics metrics);
  ~SharedRateLimiter();

  /// One Redis connection per traffic loop, in loop order; they connect once the loops run.
  void attach_loops(const std::vector<boost::asio::io_context*>& loops);
  /// Takes `cost` tokens from the shared bucket `bucket` (e.g. "k:<key name>", "ip:<address>")
  /// whose rate is `rate`; on loop `loop`.
  boost::asio::awaitable<SharedTake> take(size_t loop, std::string_view bucket, BucketRate rate, double cost);
  /// Traffic loops whose connection is up (any thread: for the metrics).
  size_t connected() const;

 private:
  void failed(bool connected);

  redis::Address address_;
  Duration timeout_;
  std::vector<std::unique_ptr<redis::Client>> clients_;
  metrics::Counter* failures_down_;
  metrics::Counter* failures_error_;
  std::atomic<uint64_t> failure_count_{0};
};

}  // namespace nodeops::gateway
