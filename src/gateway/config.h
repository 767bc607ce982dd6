// The gateway's configuration: what docs/interfaces.md documents, typed and validated.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/units.h"
#include "core/url.h"

namespace nodeops::gateway {

enum class Role { full, archive };

struct UpstreamConfig {
  std::string name;
  Url url;
  Role role = Role::full;
  double weight = 1;
  std::string pool = "default";
};

struct ChainConfig {
  std::string name;
  std::string type = "evm";       // evm | solana
  uint64_t chain_id = 0;          // evm only
  uint64_t max_lag_blocks = 5;    // slots for solana
  uint64_t archive_after_blocks = 128;
  Duration health_interval{1000};
  std::vector<std::string> allow_methods;  // exact names, or prefixes ending in "_"
  std::vector<std::string> deny_methods;
  std::string active_pool = "default";
  uint32_t min_healthy = 1;
  std::vector<UpstreamConfig> upstreams;

  /// The chain's policy for one method: the default deny list, then deny_methods, then allow_methods.
  bool allows(std::string_view method) const;
  std::vector<std::string> pools() const;  // distinct pool names, in config order
};

struct Limits {
  uint64_t max_body = 1 << 20;
  uint32_t max_batch = 100;
  Duration request_timeout{10000};
  Duration upstream_timeout{5000};
  uint32_t max_attempts = 3;
  Duration idle_timeout{75000};
  Duration read_timeout{10000};
  Duration drain_timeout{20000};
};

struct GatewayConfig {
  HostPort listen{"127.0.0.1", 8545};
  HostPort admin_listen{"127.0.0.1", 9100};
  uint32_t threads = 0;
  std::string admin_token_file;
  std::string state_file;
  std::string log_level = "info";
  Limits limits;
  std::vector<ChainConfig> chains;

  const ChainConfig* chain(std::string_view name) const;
};

/// Loads and validates a config file. Throws ConfigError listing every problem as file:line: key: message.
GatewayConfig load_gateway_config(const std::string& path);
/// Same, from text (tests, and configs embedded in the binary); `name` is used in messages.
GatewayConfig parse_gateway_config(const std::string& text, const std::string& name);

}  // namespace nodeops::gateway
