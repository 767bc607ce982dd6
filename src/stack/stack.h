// `nodeops up`: renders the configs of every component from one StackConfig into the state dir,
// starts them under the Supervisor, prints what runs where, and stops them all on SIGINT/SIGTERM.
#pragma once

#include <string>

#include "stack/config.h"
#include "stack/lockstep.h"

namespace nodeops::stack {

struct UpOptions {
  bool restart = true;
  std::string self;  // path of the nodeops binary, for the gateway and exporter children
};

int run_up(const StackConfig& config, const UpOptions& options);
/// `nodeops status`: reads <state_dir>/state.json of a running stack and prints it as a table.
int print_status(const std::string& state_dir);

/// `nodeops node pause|resume|fork NAME`: sets the node's mode (lockstep.h) in a running stack.
/// Resuming a forked node also restarts it (SIGTERM; the supervisor starts it again on the same
/// genesis and the miner replays the pool's blocks). Returns the exit code.
int set_node_mode(const std::string& state_dir, const std::string& node, NodeMode mode);

/// Rendered component configs (exposed for tests).
std::string render_gateway_config(const StackConfig& config);
std::string render_exporter_config(const StackConfig& config);
std::string render_prometheus_config(const StackConfig& config, const std::vector<std::string>& rule_files);

}  // namespace nodeops::stack
