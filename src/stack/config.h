// `nodeops up` configuration: which local nodes to run and where the gateway, exporter,
// Prometheus and Alertmanager listen. examples/local.yaml is the default, embedded in the binary.
#pragma once

#include <cstdint>
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
  std::string state_dir = ".nodeops";
  std::string monitoring_dir = "monitoring";
  std::string anvil;  // path; empty = .tools/bin/anvil, then PATH
  std::vector<NodeSpec> nodes;
  HostPort gateway_listen{"127.0.0.1", 8545};
  HostPort gateway_admin{"127.0.0.1", 9100};
  HostPort exporter_listen{"127.0.0.1", 9200};
  HostPort prometheus_listen{"127.0.0.1", 9090};
  HostPort alertmanager_listen{"127.0.0.1", 9093};
  uint64_t max_lag_blocks = 3;
  Duration health_interval{1000};
  bool monitoring = true;  // Prometheus + Alertmanager

  std::vector<std::string> chains() const;  // distinct, in node order
};

StackConfig load_stack_config(const std::string& path);
StackConfig parse_stack_config(const std::string& text, const std::string& name);
/// examples/local.yaml as compiled into the binary.
const char* embedded_local_yaml();

}  // namespace nodeops::stack
