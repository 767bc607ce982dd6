// `nodeops up` configuration: which local nodes to run and where the gateway, exporter,
// Prometheus and Alertmanager listen. examples/local.yaml is the default, embedded in the binary.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/units.h"
#include "core/url.h"

namespace nodeops::stack {

struct NodeSpec {
  std::string name;   // also the exporter target and gateway upstream name
  std::string chain;  // gateway route and label
  uint64_t chain_id = 1;
  uint16_t port = 0;
  uint32_t block_time_seconds = 1;
};

struct StackConfig {
  // Paths are relative to the stack file's directory (resolve_paths makes them absolute).
  std::string source;  // the stack file, for messages
  std::string state_dir = ".nodeops";
  std::string monitoring_dir = "monitoring";
  std::string anvil;  // path; empty = .tools/bin/anvil in the file's directory or a parent, then PATH
  std::vector<NodeSpec> nodes;
  HostPort gateway_listen{"127.0.0.1", 8545};
  HostPort gateway_admin{"127.0.0.1", 9100};
  HostPort exporter_listen{"127.0.0.1", 9200};
  HostPort prometheus_listen{"127.0.0.1", 9090};
  HostPort alertmanager_listen{"127.0.0.1", 9093};
  uint64_t max_lag_blocks = 3;
  Duration health_interval{1000};
  bool gateway_cache = true;  // the gateway's response cache (64MiB)
  bool monitoring = true;  // Prometheus + Alertmanager

  std::vector<std::string> chains() const;  // distinct, in node order
};

/// Reads and validates a stack file, then resolves its paths against the file's directory.
StackConfig load_stack_config(const std::string& path);
/// Validates only: paths stay as written (the embedded default and the unit tests).
StackConfig parse_stack_config(const std::string& text, const std::string& name);
/// examples/local.yaml as compiled into the binary.
const char* embedded_local_yaml();

/// Where the embedded examples/local.yaml belongs, so its relative paths mean what they mean in
/// the repository: the examples/ directory of the checkout the binary was built in (found above
/// the binary, e.g. <repo>/build/release/nodeops), else of the working directory. nullopt when
/// neither is a checkout; `looked_in` then lists where it looked.
std::optional<std::filesystem::path> embedded_config_dir(const std::filesystem::path& self_exe,
                                                         std::vector<std::string>* looked_in = nullptr);
/// The embedded default with its paths resolved as if it were <repo>/examples/local.yaml; throws
/// ConfigError naming where it looked and how to run from elsewhere when there is no checkout.
StackConfig embedded_stack_config(const std::filesystem::path& self_exe);
/// The state dir of the embedded default (for `nodeops status` and `nodeops node`), else ".nodeops".
std::string default_state_dir(const std::filesystem::path& self_exe);

/// Makes state_dir, monitoring_dir and anvil absolute against `base`.
void resolve_paths(StackConfig& cfg, const std::filesystem::path& base);
/// What `up` needs on disk before it starts anything: the anvil program (cfg.anvil is set to
/// the one found) and, with monitoring on, the rules and Alertmanager config under monitoring_dir.
/// One message per problem, naming the path looked at and what to do; empty when all is there.
/// `nodeops check-config` reports the same.
std::vector<std::string> check_stack_environment(StackConfig& cfg);

}  // namespace nodeops::stack
