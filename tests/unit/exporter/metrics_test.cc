#include "exporter/metrics.h"

#include <gtest/gtest.h>

#include <cmath>

namespace nodeops::exporter {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(ExporterMetrics, EveryFamilyHasTypeLinesBeforeAnySample) {
  metrics::Registry r;
  ExporterMetrics m(r, "0.1.0");
  std::string text = r.expose();
  for (const char* name :
       {"eth_exe_sync_is_syncing", "eth_exe_sync_percentage", "eth_exe_sync_current_block",
        "eth_exe_sync_highest_block", "eth_exe_block_most_recent_number", "eth_exe_net_peer_count",
        "eth_exe_chain_id", "eth_exe_web3_client_version", "eth_con_sync_head_slot", "eth_con_sync_distance",
        "eth_con_sync_is_syncing", "eth_con_peers", "eth_con_node_version",
        "eth_con_beacon_finality_checkpoint_epochs", "eth_disk_usage_bytes", "eth_disk_free_bytes",
        "eth_disk_available_bytes", "eth_disk_size_bytes", "solana_node_is_healthy", "solana_node_slot_height",
        "solana_node_block_height", "solana_node_num_slots_behind", "solana_node_epoch_number",
        "solana_node_version", "nodeops_heimdall_catching_up", "nodeops_heimdall_latest_block_height",
        "nodeops_heimdall_checkpoints", "nodeops_heimdall_milestones", "nodeops_heimdall_span_id",
        "nodeops_heimdall_peers", "nodeops_node_up", "nodeops_node_ready", "nodeops_node_live", "nodeops_node_head",
        "nodeops_node_head_lag_blocks", "nodeops_node_head_age_seconds", "nodeops_exporter_probe_duration_seconds",
        "nodeops_exporter_last_success_timestamp_seconds", "nodeops_exporter_up", "nodeops_exporter_build_info"}) {
    EXPECT_NE(text.find(std::string("# TYPE ") + name + " gauge"), std::string::npos) << name;
  }
  EXPECT_NE(text.find("# TYPE nodeops_exporter_probe_errors_total counter"), std::string::npos);
  EXPECT_TRUE(has_line(text, "nodeops_exporter_up 1")) << text;
}

TEST(ExporterMetrics, EvmSyncedAndThenDown) {
  metrics::Registry r;
  ExporterMetrics m(r, "0.1.0");
  m.add_target("geth", "ethereum");
  chains::NodeStatus s;
  s.reachable = true;
  s.head = 1234;
  s.syncing = false;
  s.peers = 7;
  s.chain_id = 1;
  s.client_version = "Geth/v1.15.0";
  m.record_probe("geth", "ethereum", "evm", s, 0.012, 1700000000.5);
  std::string text = r.expose();
  EXPECT_TRUE(has_line(text, R"(eth_exe_block_most_recent_number{target="geth",chain="ethereum",identifier="head"} 1234)")) << text;
  EXPECT_TRUE(has_line(text, R"(eth_exe_sync_percentage{target="geth",chain="ethereum"} 100)")) << text;
  EXPECT_TRUE(has_line(text, R"(eth_exe_web3_client_version{target="geth",chain="ethereum",version="Geth/v1.15.0"} 1)")) << text;
  EXPECT_TRUE(has_line(text, R"(nodeops_node_up{target="geth",chain="ethereum"} 1)")) << text;

  chains::NodeStatus down;
  down.error = "connect: refused";
  m.record_probe("geth", "ethereum", "evm", down, 0.001, 1700000001);
  text = r.expose();
  EXPECT_TRUE(has_line(text, R"(nodeops_node_up{target="geth",chain="ethereum"} 0)")) << text;
  EXPECT_TRUE(has_line(text, R"(nodeops_exporter_probe_errors_total{target="geth",chain="ethereum",reason="unreachable"} 1)")) << text;
  EXPECT_EQ(text.find("eth_exe_block_most_recent_number{"), std::string::npos) << "stale head kept: " << text;
  EXPECT_EQ(text.find("eth_exe_web3_client_version{"), std::string::npos);
  EXPECT_EQ(text.find("NaN"), std::string::npos);
}

TEST(ExporterMetrics, VersionChangeDropsOldSeries) {
  metrics::Registry r;
  ExporterMetrics m(r, "0.1.0");
  chains::NodeStatus s;
  s.reachable = true;
  s.client_version = "2.2.13";
  s.solana = chains::SolanaStatus{};
  m.record_probe("sol", "solana", "solana", s, 0.1, 1);
  s.client_version = "2.2.14";
  m.record_probe("sol", "solana", "solana", s, 0.1, 2);
  std::string text = r.expose();
  EXPECT_EQ(text.find("2.2.13"), std::string::npos) << text;
  EXPECT_NE(text.find("version=\"2.2.14\""), std::string::npos) << text;
}

// Names and labels as ethereum-metrics-exporter and solana-exporter export them, so their
// dashboards work on ours.
TEST(ExporterMetrics, NamesOfTheExportersOperatorsUse) {
  metrics::Registry r;
  ExporterMetrics m(r, "v1.2.3-4-gabcdef0");
  chains::NodeStatus beacon;
  beacon.reachable = true;
  beacon.beacon = chains::BeaconStatus{.head_slot = 100, .sync_distance = 0, .finalized_epoch = 1,
                                       .current_justified_epoch = 2, .previous_justified_epoch = 1};
  m.record_probe("lh", "ethereum", "beacon", beacon, 0.1, 1);
  chains::NodeStatus sol;
  sol.reachable = true;
  sol.solana = chains::SolanaStatus{.healthy = true, .num_slots_behind = 0, .slot = 9, .block_height = 8, .epoch = 838};
  m.record_probe("agave", "solana", "solana", sol, 0.1, 1);
  std::string text = r.expose();
  EXPECT_TRUE(has_line(
      text, R"(eth_con_beacon_finality_checkpoint_epochs{target="lh",chain="ethereum",state_id="head",checkpoint="finalized"} 1)"))
      << text;
  EXPECT_TRUE(has_line(text, R"(solana_node_epoch_number{target="agave",chain="solana"} 838)")) << text;
  EXPECT_TRUE(has_line(text, R"(nodeops_exporter_build_info{version="v1.2.3-4-gabcdef0"} 1)")) << text;
}

// Each volume of a node is its own series, labelled so an alert can say which one; free is
// f_bfree (with root's reserve) and available f_bavail, as ethereum-metrics-exporter has them.
TEST(ExporterMetrics, DiskSeriesPerVolume) {
  metrics::Registry r;
  ExporterMetrics m(r, "x");
  m.record_disk("data", "/data", "polygon", {.used_bytes = 10, .free_bytes = 60, .available_bytes = 50, .size_bytes = 100});
  m.record_disk("heimdall", "/heimdall", "polygon", {.used_bytes = 1, .free_bytes = 8, .available_bytes = 7, .size_bytes = 9});
  std::string text = r.expose();
  EXPECT_TRUE(has_line(text, R"(eth_disk_size_bytes{directory="/data",volume="data",chain="polygon"} 100)")) << text;
  EXPECT_TRUE(has_line(text, R"(eth_disk_free_bytes{directory="/data",volume="data",chain="polygon"} 60)")) << text;
  EXPECT_TRUE(has_line(text, R"(eth_disk_available_bytes{directory="/data",volume="data",chain="polygon"} 50)")) << text;
  EXPECT_TRUE(has_line(text, R"(eth_disk_usage_bytes{directory="/heimdall",volume="heimdall",chain="polygon"} 1)")) << text;
  // A walk that hit its bound drops the used series rather than reporting a partial sum.
  m.record_disk("data", "/data", "polygon", {.free_bytes = 60, .available_bytes = 50, .size_bytes = 100});
  EXPECT_EQ(r.expose().find(R"(eth_disk_usage_bytes{directory="/data")"), std::string::npos);
}

}  // namespace
}  // namespace nodeops::exporter
