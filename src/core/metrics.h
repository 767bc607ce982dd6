// Metrics registry and Prometheus text exposition (format 0.0.4).
//
// A component registers its families once, at construction, and keeps references to the series
// it updates on the hot path: updates are a relaxed atomic add, no lock and no map lookup.
//
//   auto& requests = registry.counter("nodeops_gateway_requests_total", "Requests", {"chain", "outcome"});
//   Counter& ok = requests.labels({"ethereum", "ok"});   // lookup once
//   ok.inc();                                           // hot path
//
// Every family is exposed with its HELP and TYPE lines even before it has a sample, so what a
// binary can export is visible (and checked by the monitoring tests) from its first scrape.
#pragma once

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

class Counter {
 public:
  void inc(double n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class Gauge {
 public:
  void set(double v) { v_.store(v, std::memory_order_relaxed); }
  void inc(double n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  void dec(double n = 1) { v_.fetch_sub(n, std::memory_order_relaxed); }
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  /// Cumulative counts per bound, then +Inf; sum; count. Racy reads are fine for scraping.
  std::vector<uint64_t> cumulative() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  /// Estimated quantile (0..1) by linear interpolation within buckets; 0 without samples.
  double quantile(double q) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // one per bound, then +Inf; not cumulative
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
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
