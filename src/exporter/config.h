// The exporter's configuration, from a YAML file or from sidecar flags: what docs/interfaces.md
// documents, typed and validated in one place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/units.h"
#include "core/url.h"

namespace nodeops::exporter {

/// @brief One node to watch. `type` is evm | beacon | heimdall | solana.
struct TargetOptions {
  std::string name;      // label `target`; defaults to the type
  std::string type;
  std::string url;       // Heimdall: the CometBFT RPC
  std::string rest_url;  // Heimdall only: the REST gateway (checkpoints, milestones, spans)
  std::string chain;     // label `chain`; defaults by type (evm/beacon: ethereum, heimdall: polygon)
  std::optional<uint64_t> max_lag;  // overrides ExporterOptions::max_lag for this target
};

/// @brief One volume of the node whose filesystem the exporter measures (eth_disk_*).
struct DataDirOptions {
  std::string name;   // label `volume`; defaults to the directory's last path component
  std::string path;   // label `directory`
  std::string chain;  // label `chain`; defaults to the first target's chain
};

struct ExporterOptions {
  HostPort listen{"0.0.0.0", 9200};
  Duration interval{5000};
  uint64_t max_lag = 5;
  Duration max_head_age{120000};
  Duration stall_after{600000};
  // The gossip probe of solana targets (getClusterNodes lists the whole cluster, megabytes on
  // mainnet): how often, how long it may take, how large its answer may be. 0 interval = off.
  Duration peers_interval{300000};
  Duration peers_timeout{30000};
  uint64_t peers_max_bytes = 16ull << 20;
  std::string reference;  // JSON-RPC URL of a trusted node of the same chain; empty = none
  std::vector<DataDirOptions> data_dirs;  // every volume of the node (data, consensus, accounts ...)
  std::string log_level = "info";
  std::vector<TargetOptions> targets;
};

/// Loads and validates a config file. Throws ConfigError listing every problem as file:line: key: message.
ExporterOptions load_exporter_config(const std::string& path);
/// Same, from text; `name` is used in messages.
ExporterOptions parse_exporter_config(const std::string& text, const std::string& name);

/// Parses a sidecar flag "[NAME:]TYPE=URL"; for heimdall URL may be "RPC_URL,REST_URL".
/// Returns nullopt and sets `why` when it is not one.
std::optional<TargetOptions> parse_target_flag(const std::string& text, std::string* why);

/// Parses a sidecar flag "[NAME=]DIR". Returns nullopt and sets `why` when it is not one.
std::optional<DataDirOptions> parse_data_dir_flag(const std::string& text, std::string* why);

/// Fills defaults (names, chains) and checks what a file and flags must both satisfy: known types,
/// valid URLs, unique names, at least one target. Returns the problems, empty when valid.
std::vector<std::string> finalize(ExporterOptions& options);

}  // namespace nodeops::exporter
