// Every metric the exporter exports, declared in one place (docs/interfaces.md lists them).
// All families are registered at construction so their HELP/TYPE lines exist from the first
// scrape; series appear once a value is known and disappear when it no longer is, so a target
// that stops answering never shows a stale height or a made-up 0.
//
// Lifecycle: owned by the Exporter; record_* are called on its event loop, except record_disk,
// which the disk walker calls from its own thread (gauges are atomics; series creation locks).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "chains/node_status.h"
#include "core/metrics.h"

namespace nodeops::exporter {

/// One filesystem measurement, named as ethereum-metrics-exporter names them.
struct DiskUsage {
  std::optional<uint64_t> used_bytes;       // under the directory; unset when the walk hit its bound
  std::optional<uint64_t> free_bytes;       // f_bfree: free blocks, including those reserved for root
  std::optional<uint64_t> available_bytes;  // f_bavail: what the (non-root) node can still write
  std::optional<uint64_t> size_bytes;       // f_blocks: filesystem size
};

/// Probe error reasons, a fixed set: the target did not answer, or answered something unreadable.
inline constexpr const char* kProbeErrorReasons[] = {"unreachable", "bad_response"};

class ExporterMetrics {
 public:
  ExporterMetrics(metrics::Registry& registry, const std::string& version);

  /// Creates the per-target series that always exist (up, error counters at 0).
  void add_target(const std::string& target, const std::string& chain);
  void record_probe(const std::string& target, const std::string& chain, const std::string& type,
                    const chains::NodeStatus& status, double duration_seconds, double unix_now);
  void record_health(const std::string& target, const std::string& chain, bool ready, bool live,
                     std::optional<uint64_t> lag, std::optional<double> head_age_seconds);
  /// Creates the gossip probe's error counter (at 0) of a solana target.
  void add_gossip_target(const std::string& target, const std::string& chain);
  /// The gossip probe's result: the peer count, or unset (the series is dropped) when it failed.
  void record_gossip(const std::string& target, const std::string& chain, std::optional<uint64_t> peers,
                     bool failed);
  /// Labels: volume (the data dir's name), directory (its path), chain.
  void record_disk(const std::string& volume, const std::string& directory, const std::string& chain,
                   const DiskUsage& usage);

 private:
  using GaugeFamily = metrics::Family<metrics::Gauge>;
  void set(GaugeFamily& f, const std::vector<std::string>& labels, std::optional<double> v);
  /// An info gauge (value 1) whose `version` label may change: the old series is dropped.
  void set_info(GaugeFamily& f, const std::string& target, const std::string& chain, const std::string& version);

  // evm (ethereum-metrics-exporter names)
  GaugeFamily& exe_is_syncing_;
  GaugeFamily& exe_percentage_;
  GaugeFamily& exe_current_;
  GaugeFamily& exe_highest_;
  GaugeFamily& exe_most_recent_;
  GaugeFamily& exe_peers_;
  GaugeFamily& exe_chain_id_;
  GaugeFamily& exe_version_;
  // beacon
  GaugeFamily& con_head_slot_;
  GaugeFamily& con_distance_;
  GaugeFamily& con_is_syncing_;
  GaugeFamily& con_peers_;
  GaugeFamily& con_version_;
  GaugeFamily& con_checkpoint_;  // labels state_id (always "head"), checkpoint
  // disk
  GaugeFamily& disk_usage_;
  GaugeFamily& disk_free_;
  GaugeFamily& disk_available_;
  GaugeFamily& disk_size_;
  // solana (solana-exporter names)
  GaugeFamily& sol_healthy_;
  GaugeFamily& sol_slot_;
  GaugeFamily& sol_block_height_;
  GaugeFamily& sol_behind_;
  GaugeFamily& sol_epoch_;
  GaugeFamily& sol_version_;
  GaugeFamily& sol_gossip_peers_;
  metrics::Family<metrics::Counter>& sol_gossip_errors_;
  // heimdall
  GaugeFamily& hd_catching_up_;
  GaugeFamily& hd_height_;
  GaugeFamily& hd_checkpoints_;
  GaugeFamily& hd_milestones_;
  GaugeFamily& hd_span_;
  GaugeFamily& hd_peers_;
  // every target
  GaugeFamily& node_up_;
  GaugeFamily& node_ready_;
  GaugeFamily& node_live_;
  GaugeFamily& node_head_;
  GaugeFamily& node_lag_;
  GaugeFamily& node_age_;
  GaugeFamily& probe_duration_;
  metrics::Family<metrics::Counter>& probe_errors_;
  GaugeFamily& last_success_;
  // the exporter itself
  GaugeFamily& exporter_up_;
  GaugeFamily& build_info_;

  std::map<std::pair<const GaugeFamily*, std::string>, std::string> info_versions_;
};

}  // namespace nodeops::exporter
