// What /ready and /live answer for one target, decided from its probes alone — no I/O, no clock
// of its own (callers pass `now`), so every rule is unit-tested with made-up timelines.
//
// Lifecycle: one TargetHealth per target, owned by the Exporter and touched only on its event loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "chains/node_status.h"
#include "core/units.h"

namespace nodeops::exporter {

using SteadyTime = std::chrono::steady_clock::time_point;

struct HealthLimits {
  uint64_t max_lag = 5;
  Duration max_head_age{120000};
  Duration stall_after{600000};
};

/// @brief Tracks one target across probes: its last status and when it last made progress.
///
/// Progress is the head moving, or — while the node syncs — its sync target or current block
/// moving (Geth's snap sync keeps eth_blockNumber still for hours while highestBlock follows the
/// chain). A node that does not answer makes no progress.
class TargetHealth {
 public:
  TargetHealth(std::string type, SteadyTime start);

  /// Records one probe's result.
  void observe(const chains::NodeStatus& status, SteadyTime now);

  bool probed() const { return probed_; }
  const chains::NodeStatus& last() const { return last_; }
  const std::string& type() const { return type_; }
  /// Time since the last progress (or since start when none was ever seen).
  Duration since_progress(SteadyTime now) const;
  /// Seconds since the head block was produced when the chain says (block timestamp), else since
  /// the exporter saw the head advance. nullopt before a head was ever seen.
  std::optional<double> head_age_seconds(SteadyTime now, int64_t unix_now) const;

  /// Empty when ready; otherwise one short reason ("syncing", "lag 7 > max_lag 5", ...).
  /// `lag` is nullopt when no reference or peer head is known (then lag is not judged).
  std::string not_ready_reason(std::optional<uint64_t> lag, const HealthLimits& limits, SteadyTime now,
                               int64_t unix_now) const;
  /// Empty when live; otherwise why (the head has not moved for stall_after).
  std::string not_live_reason(const HealthLimits& limits, SteadyTime now) const;

 private:
  struct Progress {
    std::optional<uint64_t> head, current, highest;
    bool operator==(const Progress&) const = default;
  };
  static Progress progress_of(const chains::NodeStatus& s);
  std::string syncing_reason() const;

  std::string type_;
  bool probed_ = false;
  chains::NodeStatus last_;
  Progress progress_;
  SteadyTime last_progress_;
  std::optional<SteadyTime> head_seen_at_;  // when the current head was first seen
};

/// Lag of `head` behind `best` (0 when ahead or level); nullopt when either is unknown.
std::optional<uint64_t> lag_behind(std::optional<uint64_t> head, std::optional<uint64_t> best);

}  // namespace nodeops::exporter
