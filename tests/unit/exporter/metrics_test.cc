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
        "eth_con_sync_is_syncing", "eth_con_peers", "eth_con_node_version", "eth_con_finality_checkpoint_epoch",
        "eth_disk_usage_bytes", "eth_disk_free_bytes", "eth_disk_total_bytes", "solana_node_is_healthy",
        "solana_node_slot_height", "solana_node_block_height", "solana_node_num_slots_behind", "solana_node_epoch",
        "solana_node_version", "nodeops_heimdall_catching_up", "nodeops_heimdall_latest_block_height",
        "nodeops_heimdall_checkpoints", "nodeops_heimdall_milestones", "nodeops_heimdall_span_id",
        "nodeops_node_up", "nodeops_node_ready", "nodeops_node_live", "nodeops_node_head",
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

}  // namespace
}  // namespace nodeops::exporter
