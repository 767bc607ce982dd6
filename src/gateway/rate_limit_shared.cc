#include "gateway/rate_limit_shared.h"

#include <fmt/format.h>

#include <array>
#include <charconv>

#include "core/log.h"

namespace nodeops::gateway {
namespace {

// GCRA. KEYS[1]: the bucket. ARGV: milliseconds per token, the burst tolerance in milliseconds
// (capacity x interval), the cost in milliseconds (tokens x interval). The value stored is the
// theoretical arrival time (TAT) in milliseconds of Redis's clock. Returns "0" when the tokens were
// taken, else the milliseconds until they will be there (nothing taken). A cost above the capacity
// takes a full bucket, as the local buckets do.
constexpr std::string_view kGcra = R"lua(
local tolerance = tonumber(ARGV[2])
local increment = math.min(tonumber(ARGV[3]), tolerance)
local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + increment
local wait = new_tat - tolerance - now
if wait > 0 then return tostring(wait) end
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return '0'
)lua";

std::string millis(double ms) { return fmt::format("{:.3f}", ms); }

}  // namespace

SharedLimitMetrics SharedLimitMetrics::declare(metrics::Registry& registry) {
  SharedLimitMetrics m;
  auto& failures = registry.counter(
      "nodeops_gateway_rate_limit_redis_failures_total",
      "Requests whose shared rate limit could not be checked in Redis (rate_limits.redis), by reason (down: not "
      "connected; error: no answer within rate_limits.redis_timeout, or an error answer); they were charged to this "
      "replica's local buckets instead.",
      {"reason"});
  m.failures_down = &failures.labels({"down"});
  m.failures_error = &failures.labels({"error"});
  m.connected = &registry
                     .gauge("nodeops_gateway_rate_limit_redis_connected",
                            "Traffic loops whose connection to the shared rate limits' Redis is up (0 without "
                            "rate_limits.redis).")
                     .labels({});
  return m;
}

SharedRateLimiter::SharedRateLimiter(const RateLimitConfig& config, SharedLimitMetrics metrics)
    : timeout_(config.redis_timeout), failures_down_(metrics.failures_down), failures_error_(metrics.failures_error) {
  std::string why;
  if (auto a = redis::parse_address(config.redis, &why)) address_ = *a;
}

size_t SharedRateLimiter::connected() const {
  size_t up = 0;
  for (const auto& c : clients_) up += c->connected() ? 1 : 0;
  return up;
}

SharedRateLimiter::~SharedRateLimiter() = default;

void SharedRateLimiter::attach_loops(const std::vector<boost::asio::io_context*>& loops) {
  for (auto* io : loops) {
    redis::Client::Options o;
    o.address = address_;
    o.max_value = 64;  // the script answers a number
    clients_.push_back(std::make_unique<redis::Client>(*io, o));
    clients_.back()->start();
  }
}

void SharedRateLimiter::failed(bool connected) {
  (connected ? failures_error_ : failures_down_)->inc();
  uint64_t n = failure_count_.fetch_add(1, std::memory_order_relaxed) + 1;
  if ((n & (n - 1)) == 0) {  // powers of two: a long outage cannot flood the log
    log::warn("shared rate limits unavailable: charging the local buckets",
              {{"reason", connected ? "no answer in time" : "not connected"},
               {"redis", address_.host},
               {"failures", static_cast<int64_t>(n)}});
  }
}

boost::asio::awaitable<SharedTake> SharedRateLimiter::take(size_t loop, std::string_view bucket, BucketRate rate,
                                                           double cost) {
  SharedTake out;
  if (loop >= clients_.size() || !rate.limited()) co_return out;
  auto& client = *clients_[loop];
  bool connected = client.connected();
  double interval = 1000.0 / rate.rps;
  std::string key = fmt::format("nodeops:ratelimit:{}", bucket);
  auto args_interval = millis(interval);
  auto args_tolerance = millis(rate.capacity() * interval);
  auto args_cost = millis(cost * interval);
  // Not an initializer list: GCC 12 cannot keep one alive across co_await.
  std::array<std::string_view, 7> args{"EVAL", kGcra, "1", key, args_interval, args_tolerance, args_cost};
  auto answer = co_await client.call(args, timeout_);
  double wait_ms = 0;
  if (answer.result == redis::Lookup::Result::hit) {
    auto& v = answer.value;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), wait_ms);
    if (ec != std::errc()) answer.result = redis::Lookup::Result::error;
  }
  if (answer.result != redis::Lookup::Result::hit) {
    failed(connected);
    co_return out;
  }
  if (wait_ms > 0) {
    out.result = SharedTake::Result::refused;
    out.retry_after_seconds = wait_ms / 1000;
  } else {
    out.result = SharedTake::Result::taken;
  }
  co_return out;
}

}  // namespace nodeops::gateway
