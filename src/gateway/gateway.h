// `nodeops gateway`: wires config, event loops, health trackers, the traffic server and the admin
// server together, and owns the process lifecycle (SIGTERM drains, then exits 0).
#pragma once

#include <string>

#include "gateway/config.h"

namespace nodeops::gateway {

/// Runs until SIGINT/SIGTERM. Returns the process exit code. With `config_path`, SIGHUP and a
/// change of that file reload the config (gateway/reload.h).
int run_gateway(const GatewayConfig& config, const std::string& config_path = {});

}  // namespace nodeops::gateway
