#include "core/metrics.h"

#include <dirent.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace nodeops::metrics {
namespace {

void append_value(std::string& out, double v) {
  if (std::isnan(v)) out += "NaN";
  else if (std::isinf(v)) out += v > 0 ? "+Inf" : "-Inf";
  else if (v == std::floor(v) && std::fabs(v) < 1e15) out += fmt::format("{}", static_cast<int64_t>(v));
  else out += fmt::format("{}", v);
}

void append_label_value(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
}

std::string help_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

}  // namespace

namespace {
double sum_of(const std::array<detail::Slot, detail::kShards>& slots) {
  double total = 0;
  for (const auto& s : slots) total += s.v.load(std::memory_order_relaxed);
  return total;
}
}  // namespace

double Counter::value() const { return sum_of(slots_); }
double Gauge::value() const { return sum_of(slots_); }

void Gauge::set(double v) {
  slots_[0].v.store(v, std::memory_order_relaxed);
  for (size_t i = 1; i < slots_.size(); ++i) slots_[i].v.store(0, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  if (bounds_.size() > kMaxBounds) {
    throw std::invalid_argument("a histogram has at most " + std::to_string(kMaxBounds) + " bounds");
  }
  shards_.reset(new Shard[detail::kShards]);
}

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  auto& s = shards_[detail::shard_index()];
  s.buckets[i].fetch_add(1, std::memory_order_relaxed);
  s.sum.fetch_add(v, std::memory_order_relaxed);
  s.count.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::cumulative() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t acc = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    for (size_t k = 0; k < detail::kShards; ++k) acc += shards_[k].buckets[i].load(std::memory_order_relaxed);
    out[i] = acc;
  }
  return out;
}

double Histogram::sum() const {
  double total = 0;
  for (size_t k = 0; k < detail::kShards; ++k) total += shards_[k].sum.load(std::memory_order_relaxed);
  return total;
}

uint64_t Histogram::count() const {
  uint64_t total = 0;
  for (size_t k = 0; k < detail::kShards; ++k) total += shards_[k].count.load(std::memory_order_relaxed);
  return total;
}

double Histogram::quantile(double q) const {
  return quantile_between(bounds_, std::vector<uint64_t>(bounds_.size() + 1, 0), cumulative(), q);
}

double quantile_between(const std::vector<double>& bounds, const std::vector<uint64_t>& before,
                        const std::vector<uint64_t>& after, double q) {
  if (after.empty() || before.size() != after.size()) return 0;
  auto count = [&](size_t i) { return static_cast<double>(after[i] - std::min(after[i], before[i])); };
  double total = count(after.size() - 1);
  if (total <= 0) return 0;
  double rank = q * total;
  for (size_t i = 0; i < after.size(); ++i) {
    double cum = count(i);
    if (cum >= rank) {
      if (i == bounds.size()) return bounds.empty() ? 0 : bounds.back();
      double lo = i == 0 ? 0 : bounds[i - 1];
      double below = i == 0 ? 0 : count(i - 1);
      double in_bucket = cum - below;
      if (in_bucket <= 0) return bounds[i];
      return lo + (bounds[i] - lo) * (rank - below) / in_bucket;
    }
  }
  return bounds.empty() ? 0 : bounds.back();
}

std::vector<double> latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

FamilyBase::FamilyBase(std::string name, std::string help, std::string type, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), type_(std::move(type)), label_names_(std::move(label_names)) {}

void FamilyBase::check_arity(size_t n) const {
  if (n != label_names_.size()) {
    throw std::logic_error(fmt::format("metric {} takes {} labels, got {}", name_, label_names_.size(), n));
  }
}

void FamilyBase::expose_header(std::string& out) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name_, help_escape(help_), name_, type_);
}

std::string FamilyBase::format_labels(const std::vector<std::string>& values, std::string_view extra) const {
  std::string out;
  for (size_t i = 0; i < label_names_.size(); ++i) {
    if (i) out.push_back(',');
    out += label_names_[i];
    out += "=\"";
    append_label_value(out, values[i]);
    out.push_back('"');
  }
  if (!extra.empty()) {
    if (!out.empty()) out.push_back(',');
    out += extra;
  }
  return out.empty() ? out : "{" + out + "}";
}

template <typename Metric>
Metric& Family<Metric>::labels(const std::vector<std::string>& values) {
  check_arity(values.size());
  std::lock_guard lock(mu_);
  auto it = series_.find(values);
  if (it != series_.end()) return *it->second;
  std::unique_ptr<Metric> m;
  if constexpr (std::is_same_v<Metric, Histogram>) m = std::make_unique<Histogram>(bounds_);
  else m = std::make_unique<Metric>();
  auto& ref = *m;
  series_.emplace(values, std::move(m));
  return ref;
}

template <typename Metric>
void Family<Metric>::remove(const std::vector<std::string>& values) {
  std::lock_guard lock(mu_);
  series_.erase(values);
}

template <typename Metric>
void Family<Metric>::expose(std::string& out) const {
  expose_header(out);
  std::lock_guard lock(mu_);
  for (const auto& [values, metric] : series_) {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      auto cum = metric->cumulative();
      for (size_t i = 0; i < cum.size(); ++i) {
        std::string le = "le=\"";
        if (i < bounds_.size()) append_value(le, bounds_[i]);
        else le += "+Inf";
        le += "\"";
        out += name_ + "_bucket" + format_labels(values, le) + " ";
        append_value(out, static_cast<double>(cum[i]));
        out.push_back('\n');
      }
      auto labels = format_labels(values);
      out += name_ + "_sum" + labels + " ";
      append_value(out, metric->sum());
      out += "\n" + name_ + "_count" + labels + " ";
      append_value(out, static_cast<double>(cum.back()));
      out.push_back('\n');
    } else {
      out += name_ + format_labels(values) + " ";
      append_value(out, metric->value());
      out.push_back('\n');
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Family<Counter>& Registry::counter(std::string name, std::string help, std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  auto f = std::make_unique<Family<Counter>>(std::move(name), std::move(help), "counter", std::move(labels));
  auto& ref = *f;
  families_.push_back(std::move(f));
  return ref;
}

Family<Gauge>& Registry::gauge(std::string name, std::string help, std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  auto f = std::make_unique<Family<Gauge>>(std::move(name), std::move(help), "gauge", std::move(labels));
  auto& ref = *f;
  families_.push_back(std::move(f));
  return ref;
}

Family<Histogram>& Registry::histogram(std::string name, std::string help, std::vector<std::string> labels,
                                       std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  auto f = std::make_unique<Family<Histogram>>(std::move(name), std::move(help), "histogram", std::move(labels),
                                               std::move(bounds));
  auto& ref = *f;
  families_.push_back(std::move(f));
  return ref;
}

void Registry::on_collect(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(fn));
}

std::string Registry::expose() {
  std::lock_guard lock(mu_);
  for (auto& fn : collectors_) fn();
  std::string out;
  out.reserve(16384);
  for (const auto& f : families_) f->expose(out);
  return out;
}

namespace {

double read_stat_field(int index) {
  std::ifstream in("/proc/self/stat");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may contain spaces.
  auto close = content.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(content.substr(close + 2));
  std::string field;
  for (int i = 3; i <= index && rest >> field; ++i) {
    if (i == index) return std::strtod(field.c_str(), nullptr);
  }
  return 0;
}

}  // namespace

void register_process_metrics(Registry& registry) {
  auto& cpu = registry.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.").labels({});
  auto& rss = registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.").labels({});
  auto& fds = registry.gauge("process_open_fds", "Number of open file descriptors.").labels({});
  auto& start = registry.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.").labels({});
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  {
    double boot = 0;
    std::ifstream in("/proc/stat");
    std::string key;
    while (in >> key) {
      if (key == "btime") {
        in >> boot;
        break;
      }
    }
    start.set(boot + read_stat_field(22) / ticks);
  }
  registry.on_collect([&cpu, &rss, &fds, ticks, page] {
    double total = (read_stat_field(14) + read_stat_field(15)) / ticks;
    double delta = total - cpu.value();
    if (delta > 0) cpu.inc(delta);
    rss.set(read_stat_field(24) * page);
    int count = 0;
    if (DIR* d = opendir("/proc/self/fd")) {
      while (readdir(d)) ++count;
      closedir(d);
      count -= 3;  // ".", ".." and the descriptor of the listing itself
    }
    fds.set(count);
  });
}

}  // namespace nodeops::metrics
