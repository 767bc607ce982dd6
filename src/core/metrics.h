// Metrics registry and Prometheus text exposition (format 0.0.4).
//
// A component registers its families once, at construction, and keeps references to the series
// it updates on the hot path: updates are a relaxed atomic add on the calling thread's shard, no
// lock and no map lookup.
//
//   auto& requests = registry.counter("nodeops_gateway_requests_total", "Requests", {"chain", "outcome"});
//   Counter& ok = requests.labels({"ethereum", "ok"});   // lookup once
//   ok.inc();                                           // hot path
//
// Every family is exposed with its HELP and TYPE lines even before it has a sample, so what a
// binary can export is visible (and checked by the monitoring tests) from its first scrape.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nodeops::metrics {

namespace detail {
// Every event loop updates the same series on every request. With one atomic per series, their
// cache lines bounced between cores on each update; so each series keeps one slot per shard, on
// its own cache line, a thread always updates the same shard, and reads add the shards up.
inline constexpr size_t kShards = 8;
inline size_t shard_index() {
  static std::atomic<size_t> next{0};
  thread_local const size_t mine = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return mine;
}
struct alignas(64) Slot {
  std::atomic<double> v{0};
};
}  // namespace detail

class Counter {
 public:
  void inc(double n = 1) { slots_[detail::shard_index()].v.fetch_add(n, std::memory_order_relaxed); }
  double value() const;

 private:
  std::array<detail::Slot, detail::kShards> slots_{};
};

/// inc()/dec() may come from any thread; set() is for gauges that only one thread sets.
class Gauge {
 public:
  void set(double v);
  void inc(double n = 1) { slots_[detail::shard_index()].v.fetch_add(n, std::memory_order_relaxed); }
  void dec(double n = 1) { slots_[detail::shard_index()].v.fetch_sub(n, std::memory_order_relaxed); }
  double value() const;

 private:
  std::array<detail::Slot, detail::kShards> slots_{};
};

class Histogram {
 public:
  static constexpr size_t kMaxBounds = 30;
  /// At most kMaxBounds bounds (std::invalid_argument otherwise).
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  /// Cumulative counts per bound, then +Inf; sum; count. Racy reads are fine for scraping.
  std::vector<uint64_t> cumulative() const;
  double sum() const;
  uint64_t count() const;
  /// Estimated quantile (0..1) by linear interpolation within buckets; 0 without samples.
  double quantile(double q) const;

 private:
  struct alignas(64) Shard {
    std::array<std::atomic<uint64_t>, kMaxBounds + 1> buckets{};  // one per bound, then +Inf; not cumulative
    std::atomic<double> sum{0};
    std::atomic<uint64_t> count{0};
  };
  std::vector<double> bounds_;
  std::unique_ptr<Shard[]> shards_;
};

/// The q-quantile (0..1) of the observations made between two cumulative() snapshots of one
/// histogram, interpolated linearly within a bucket; 0 when nothing was observed in between.
double quantile_between(const std::vector<double>& bounds, const std::vector<uint64_t>& before,
                        const std::vector<uint64_t>& after, double q);

/// Latency buckets in seconds, from 1 ms to 10 s.
std::vector<double> latency_buckets();

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::string type, std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  /// HELP and TYPE lines, then every series.
  virtual void expose(std::string& out) const = 0;
  const std::string& name() const { return name_; }

 protected:
  void expose_header(std::string& out) const;
  std::string format_labels(const std::vector<std::string>& values, std::string_view extra = {}) const;
  void check_arity(size_t n) const;

  std::string name_, help_, type_;
  std::vector<std::string> label_names_;
};

template <typename Metric>
class Family final : public FamilyBase {
 public:
  Family(std::string name, std::string help, std::string type, std::vector<std::string> label_names,
         std::vector<double> bounds = {})
      : FamilyBase(std::move(name), std::move(help), std::move(type), std::move(label_names)),
        bounds_(std::move(bounds)) {}

  /// The series for these label values (in label-name order), created on first use.
  /// The reference stays valid until remove() of the same labels.
  Metric& labels(std::initializer_list<std::string_view> values) {
    return labels(std::vector<std::string>(values.begin(), values.end()));
  }
  Metric& labels(const std::vector<std::string>& values);
  /// Drops one series (e.g. an info gauge whose `version` label changed).
  void remove(const std::vector<std::string>& values);
  void expose(std::string& out) const override;

 private:
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> series_;
  std::vector<double> bounds_;
};

class Registry {
 public:
  Family<Counter>& counter(std::string name, std::string help, std::vector<std::string> labels = {});
  Family<Gauge>& gauge(std::string name, std::string help, std::vector<std::string> labels = {});
  Family<Histogram>& histogram(std::string name, std::string help, std::vector<std::string> labels,
                               std::vector<double> bounds = latency_buckets());
  /// Called at every scrape before exposition, to refresh gauges computed from elsewhere.
  void on_collect(std::function<void()> fn);
  /// The whole registry in Prometheus text format.
  std::string expose();

 private:
  std::mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_;
  std::vector<std::function<void()>> collectors_;
};

/// process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds,
/// process_start_time_seconds — read from /proc at scrape time.
void register_process_metrics(Registry& registry);

}  // namespace nodeops::metrics
