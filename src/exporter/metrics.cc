#include "exporter/metrics.h"

namespace nodeops::exporter {
namespace {

std::optional<double> num(std::optional<uint64_t> v) {
  if (!v) return std::nullopt;
  return static_cast<double>(*v);
}

std::optional<double> flag(std::optional<bool> v) {
  if (!v) return std::nullopt;
  return *v ? 1.0 : 0.0;
}

const std::vector<std::string> kTC = {"target", "chain"};
// Disk series are per volume of the node, not per target: ethereum-metrics-exporter's
// `directory` plus what says which volume of which chain it is.
const std::vector<std::string> kDisk = {"directory", "volume", "chain"};

std::vector<std::string> with(std::vector<std::string> base, std::initializer_list<const char*> more) {
  for (const char* m : more) base.emplace_back(m);
  return base;
}

}  // namespace

ExporterMetrics::ExporterMetrics(metrics::Registry& r, const std::string& version)
    : exe_is_syncing_(r.gauge("eth_exe_sync_is_syncing", "1 while the execution client syncs", kTC)),
      exe_percentage_(r.gauge("eth_exe_sync_percentage", "Execution sync progress, 0..100", kTC)),
      exe_current_(r.gauge("eth_exe_sync_current_block", "Execution sync current block", kTC)),
      exe_highest_(r.gauge("eth_exe_sync_highest_block", "Execution sync highest known block", kTC)),
      exe_most_recent_(r.gauge("eth_exe_block_most_recent_number", "Most recent block number",
                               with(kTC, {"identifier"}))),
      exe_peers_(r.gauge("eth_exe_net_peer_count", "Execution client peers", kTC)),
      exe_chain_id_(r.gauge("eth_exe_chain_id", "Chain id reported by eth_chainId", kTC)),
      exe_version_(r.gauge("eth_exe_web3_client_version", "web3_clientVersion (value 1)", with(kTC, {"version"}))),
      con_head_slot_(r.gauge("eth_con_sync_head_slot", "Beacon head slot", kTC)),
      con_distance_(r.gauge("eth_con_sync_distance", "Beacon sync distance in slots", kTC)),
      con_is_syncing_(r.gauge("eth_con_sync_is_syncing", "1 while the beacon node syncs", kTC)),
      con_peers_(r.gauge("eth_con_peers", "Beacon node peers", with(kTC, {"state"}))),
      con_version_(r.gauge("eth_con_node_version", "Beacon node version (value 1)", with(kTC, {"version"}))),
      con_checkpoint_(r.gauge("eth_con_beacon_finality_checkpoint_epochs", "Epochs of the finality checkpoints",
                              with(kTC, {"state_id", "checkpoint"}))),
      disk_usage_(r.gauge("eth_disk_usage_bytes", "Bytes used under the directory", kDisk)),
      disk_free_(r.gauge("eth_disk_free_bytes", "Free bytes on the directory's filesystem (f_bfree)", kDisk)),
      disk_available_(r.gauge("eth_disk_available_bytes",
                              "Bytes the node can still write on the directory's filesystem (f_bavail)", kDisk)),
      disk_size_(r.gauge("eth_disk_size_bytes", "Size of the directory's filesystem", kDisk)),
      sol_healthy_(r.gauge("solana_node_is_healthy", "1 when getHealth answers ok", kTC)),
      sol_slot_(r.gauge("solana_node_slot_height", "Current slot (getSlot)", kTC)),
      sol_block_height_(r.gauge("solana_node_block_height", "Current block height (getBlockHeight)", kTC)),
      sol_behind_(r.gauge("solana_node_num_slots_behind", "Slots behind the cluster (getHealth)", kTC)),
      sol_epoch_(r.gauge("solana_node_epoch_number", "Current epoch (getEpochInfo)", kTC)),
      sol_version_(r.gauge("solana_node_version", "solana-core version (value 1)", with(kTC, {"version"}))),
      sol_gossip_peers_(r.gauge("nodeops_solana_gossip_peers",
                                "Other nodes of the cluster with a gossip address (getClusterNodes, slow probe)",
                                kTC)),
      sol_gossip_errors_(r.counter("nodeops_exporter_gossip_probe_errors_total",
                                   "Failed gossip probes (getClusterNodes) of solana targets", kTC)),
      hd_catching_up_(r.gauge("nodeops_heimdall_catching_up", "1 while Heimdall catches up", kTC)),
      hd_height_(r.gauge("nodeops_heimdall_latest_block_height", "Heimdall latest block height", kTC)),
      hd_checkpoints_(r.gauge("nodeops_heimdall_checkpoints", "Acknowledged checkpoints (REST /checkpoints/count)",
                              kTC)),
      hd_milestones_(r.gauge("nodeops_heimdall_milestones", "Milestones (REST /milestones/count)", kTC)),
      hd_span_(r.gauge("nodeops_heimdall_span_id", "Latest Bor span id", kTC)),
      hd_peers_(r.gauge("nodeops_heimdall_peers", "Connected CometBFT peers (/net_info n_peers)", kTC)),
      node_up_(r.gauge("nodeops_node_up", "1 when the target answered the last probe", kTC)),
      node_ready_(r.gauge("nodeops_node_ready", "1 when /ready answers 200 for the target", kTC)),
      node_live_(r.gauge("nodeops_node_live", "1 when /live answers 200 for the target", kTC)),
      node_head_(r.gauge("nodeops_node_head", "Head height (block or slot)", kTC)),
      node_lag_(r.gauge("nodeops_node_head_lag_blocks", "Blocks (or slots) behind the reference or the best target",
                        kTC)),
      node_age_(r.gauge("nodeops_node_head_age_seconds", "Seconds since the head block (or since it last advanced)",
                        kTC)),
      probe_duration_(r.gauge("nodeops_exporter_probe_duration_seconds", "Duration of the last probe", kTC)),
      probe_errors_(r.counter("nodeops_exporter_probe_errors_total", "Failed probes by reason",
                              with(kTC, {"reason"}))),
      last_success_(r.gauge("nodeops_exporter_last_success_timestamp_seconds",
                            "Unix time of the last probe the target answered", kTC)),
      exporter_up_(r.gauge("nodeops_exporter_up", "1 while the exporter runs")),
      build_info_(r.gauge("nodeops_exporter_build_info", "Exporter version (value 1)", {"version"})) {
  exporter_up_.labels(std::vector<std::string>{}).set(1);
  build_info_.labels({version}).set(1);
}

void ExporterMetrics::add_target(const std::string& target, const std::string& chain) {
  node_up_.labels({target, chain}).set(0);
  for (const char* reason : kProbeErrorReasons) probe_errors_.labels({target, chain, reason});
}

void ExporterMetrics::set(GaugeFamily& f, const std::vector<std::string>& labels, std::optional<double> v) {
  if (v) f.labels(labels).set(*v);
  else f.remove(labels);
}

void ExporterMetrics::set_info(GaugeFamily& f, const std::string& target, const std::string& chain,
                               const std::string& version) {
  auto& last = info_versions_[{&f, target}];
  if (!last.empty() && last != version) f.remove({target, chain, last});
  if (!version.empty()) f.labels({target, chain, version}).set(1);
  last = version;
}

void ExporterMetrics::record_probe(const std::string& target, const std::string& chain, const std::string& type,
                                   const chains::NodeStatus& s, double duration_seconds, double unix_now) {
  const std::vector<std::string> tc = {target, chain};
  node_up_.labels(tc).set(s.reachable ? 1 : 0);
  probe_duration_.labels(tc).set(duration_seconds);
  if (!s.reachable) {
    probe_errors_.labels({target, chain, "unreachable"}).inc();
  } else {
    last_success_.labels(tc).set(unix_now);
    if (!s.error.empty()) probe_errors_.labels({target, chain, "bad_response"}).inc();
  }
  set(node_head_, tc, s.reachable ? num(s.head) : std::nullopt);

  // A target that did not answer keeps none of its chain-specific series.
  const bool up = s.reachable;
  if (type == "evm") {
    const auto& sync = s.sync;
    bool known = up && s.syncing.has_value();
    bool syncing = known && *s.syncing;
    set(exe_is_syncing_, tc, known ? std::optional<double>(syncing ? 1 : 0) : std::nullopt);
    // Synced: progress is complete and current = highest = head, as ethereum-metrics-exporter shows it.
    std::optional<double> pct, cur, high;
    if (known && !syncing) {
      pct = 100;
      cur = high = num(s.head);
    } else if (syncing) {
      if (sync.percentage) pct = *sync.percentage;
      cur = num(sync.current_block);
      high = num(sync.highest_block);
    }
    set(exe_percentage_, tc, pct);
    set(exe_current_, tc, cur);
    set(exe_highest_, tc, high);
    set(exe_most_recent_, {target, chain, "head"}, up ? num(s.head) : std::nullopt);
    set(exe_peers_, tc, up ? num(s.peers) : std::nullopt);
    set(exe_chain_id_, tc, up ? num(s.chain_id) : std::nullopt);
    set_info(exe_version_, target, chain, up ? s.client_version : "");
  } else if (type == "beacon") {
    const bool b = up && s.beacon.has_value();
    set(con_head_slot_, tc, b ? num(s.beacon->head_slot) : std::nullopt);
    set(con_distance_, tc, b ? num(s.beacon->sync_distance) : std::nullopt);
    set(con_is_syncing_, tc, up ? flag(s.syncing) : std::nullopt);
    set(con_peers_, {target, chain, "connected"}, up ? num(s.peers) : std::nullopt);
    set_info(con_version_, target, chain, up ? s.client_version : "");
    set(con_checkpoint_, {target, chain, "head", "finalized"}, b ? num(s.beacon->finalized_epoch) : std::nullopt);
    set(con_checkpoint_, {target, chain, "head", "current_justified"},
        b ? num(s.beacon->current_justified_epoch) : std::nullopt);
    set(con_checkpoint_, {target, chain, "head", "previous_justified"},
        b ? num(s.beacon->previous_justified_epoch) : std::nullopt);
  } else if (type == "heimdall") {
    const bool h = up && s.heimdall.has_value();
    set(hd_catching_up_, tc, h ? flag(s.heimdall->catching_up) : std::nullopt);
    set(hd_height_, tc, h ? num(s.heimdall->latest_block_height) : std::nullopt);
    set(hd_checkpoints_, tc, h ? num(s.heimdall->checkpoint_count) : std::nullopt);
    set(hd_milestones_, tc, h ? num(s.heimdall->milestone_count) : std::nullopt);
    set(hd_span_, tc, h ? num(s.heimdall->span_id) : std::nullopt);
    set(hd_peers_, tc, h ? num(s.peers) : std::nullopt);
  } else if (type == "solana") {
    const bool o = up && s.solana.has_value();
    set(sol_healthy_, tc, o ? flag(s.solana->healthy) : std::nullopt);
    set(sol_slot_, tc, o ? num(s.solana->slot) : std::nullopt);
    set(sol_block_height_, tc, o ? num(s.solana->block_height) : std::nullopt);
    set(sol_behind_, tc, o ? num(s.solana->num_slots_behind) : std::nullopt);
    set(sol_epoch_, tc, o ? num(s.solana->epoch) : std::nullopt);
    set_info(sol_version_, target, chain, up ? s.client_version : "");
  }
}

void ExporterMetrics::add_gossip_target(const std::string& target, const std::string& chain) {
  sol_gossip_errors_.labels({target, chain});
}

void ExporterMetrics::record_gossip(const std::string& target, const std::string& chain,
                                    std::optional<uint64_t> peers, bool failed) {
  set(sol_gossip_peers_, {target, chain}, num(peers));
  if (failed) sol_gossip_errors_.labels({target, chain}).inc();
}

void ExporterMetrics::record_health(const std::string& target, const std::string& chain, bool ready, bool live,
                                    std::optional<uint64_t> lag, std::optional<double> head_age_seconds) {
  const std::vector<std::string> tc = {target, chain};
  node_ready_.labels(tc).set(ready ? 1 : 0);
  node_live_.labels(tc).set(live ? 1 : 0);
  set(node_lag_, tc, num(lag));
  set(node_age_, tc, head_age_seconds);
}

void ExporterMetrics::record_disk(const std::string& volume, const std::string& directory, const std::string& chain,
                                  const DiskUsage& usage) {
  const std::vector<std::string> labels = {directory, volume, chain};
  set(disk_usage_, labels, num(usage.used_bytes));
  set(disk_free_, labels, num(usage.free_bytes));
  set(disk_available_, labels, num(usage.available_bytes));
  set(disk_size_, labels, num(usage.size_bytes));
}

}  // namespace nodeops::exporter
