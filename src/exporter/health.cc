#include "exporter/health.h"

#include <fmt/format.h>

#include "chains/health_rules.h"

namespace nodeops::exporter {

TargetHealth::TargetHealth(std::string type, SteadyTime start) : type_(std::move(type)), last_progress_(start) {}

TargetHealth::Progress TargetHealth::progress_of(const chains::NodeStatus& s) {
  Progress p;
  p.head = s.head;
  if (s.sync.syncing) {
    p.current = s.sync.current_block;
    p.highest = s.sync.highest_block;
  }
  if (s.beacon && s.syncing.value_or(false)) p.highest = s.beacon->sync_distance;
  return p;
}

void TargetHealth::observe(const chains::NodeStatus& status, SteadyTime now) {
  probed_ = true;
  if (status.reachable) {
    Progress p = progress_of(status);
    bool head_moved = p.head && p.head != progress_.head;
    // Only a known value that changed counts: a field going missing is not progress.
    bool moved = head_moved || (p.current && p.current != progress_.current) ||
                 (p.highest && p.highest != progress_.highest);
    if (moved) last_progress_ = now;
    if (head_moved || !head_seen_at_) {
      if (p.head) head_seen_at_ = now;
    }
    if (p.head) progress_.head = p.head;
    if (p.current) progress_.current = p.current;
    if (p.highest) progress_.highest = p.highest;
  }
  last_ = status;
}

Duration TargetHealth::since_progress(SteadyTime now) const {
  return std::chrono::duration_cast<Duration>(now - last_progress_);
}

std::optional<double> TargetHealth::head_age_seconds(SteadyTime now, int64_t unix_now) const {
  if (last_.reachable && last_.head && last_.head_timestamp) {
    auto ts = static_cast<int64_t>(*last_.head_timestamp);
    return unix_now > ts ? static_cast<double>(unix_now - ts) : 0.0;
  }
  if (!head_seen_at_) return std::nullopt;
  return std::chrono::duration<double>(now - *head_seen_at_).count();
}

std::string TargetHealth::syncing_reason() const {
  // The gateway decides with the same rule (chains/health_rules.h), so both agree about a node.
  auto [verdict, why] = chains::probe_verdict(type_, last_);
  return verdict == chains::ProbeVerdict::syncing || verdict == chains::ProbeVerdict::sync_unknown ? why : "";
}

std::string TargetHealth::not_ready_reason(std::optional<uint64_t> lag, const HealthLimits& limits, SteadyTime now,
                                           int64_t unix_now) const {
  if (!probed_) return "not probed yet";
  if (!last_.reachable) return last_.error.empty() ? "down" : "down: " + last_.error;
  if (auto why = syncing_reason(); !why.empty()) return why;
  if (!last_.head) return "head unknown";
  if (lag && *lag > limits.max_lag) return fmt::format("lag {} > max_lag {}", *lag, limits.max_lag);
  if (auto age = head_age_seconds(now, unix_now)) {
    double max_age = std::chrono::duration<double>(limits.max_head_age).count();
    if (*age > max_age) return fmt::format("head age {:.0f}s > max_head_age {}", *age, format_duration(limits.max_head_age));
  }
  return {};
}

std::string TargetHealth::not_live_reason(const HealthLimits& limits, SteadyTime now) const {
  Duration still = since_progress(now);
  if (still < limits.stall_after) return {};
  std::string what = progress_.head ? fmt::format("head {} has not moved", *progress_.head) : "no head seen";
  return fmt::format("{} for {} (stall_after {})", what, format_duration(still), format_duration(limits.stall_after));
}

std::optional<uint64_t> lag_behind(std::optional<uint64_t> head, std::optional<uint64_t> best) {
  if (!head || !best) return std::nullopt;
  return *best > *head ? *best - *head : 0;
}

}  // namespace nodeops::exporter
