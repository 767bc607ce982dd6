// `nodeops gateway`: wires config, event loops, health trackers, the traffic server and the admin
// server together, and owns the process lifecycle (SIGTERM drains, then exits 0).
#pragma once

#include "gateway/config.h"

namespace nodeops::gateway {

/// Runs until SIGINT/SIGTERM. Returns the process exit code.
int run_gateway(const GatewayConfig& config);

}  // namespace nodeops::gateway
