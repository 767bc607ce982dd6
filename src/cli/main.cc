// nodeops: one binary, subcommands. Wiring only; each subcommand's logic lives in its module.
#include <CLI/CLI.hpp>

#include <iostream>

#include "core/config_reader.h"
#include "exporter/command.h"
#include "gateway/config.h"
#include "gateway/gateway.h"
#include "gateway/rollout_command.h"
#include "stack/command.h"
#include "cli/check_config.h"

namespace {
/// docs/interfaces.md, "Exit codes": 0 done, 1 a runtime failure, 2 a usage or config error.
constexpr int kExitUsage = 2;
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"nodeops: run blockchain nodes in production — JSON-RPC gateway, node exporter, local stack"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "nodeops 0.1.0");

  std::string gateway_config;
  auto* gateway = app.add_subcommand("gateway", "JSON-RPC load balancer in front of node pools");
  gateway->add_option("-c,--config", gateway_config, "gateway config file (YAML)")->required();
  gateway->callback([&] {
    try {
      auto cfg = nodeops::gateway::load_gateway_config(gateway_config);
      std::exit(nodeops::gateway::run_gateway(cfg, gateway_config));
    } catch (const nodeops::ConfigError& e) {
      std::cerr << e.what();
      std::exit(2);
    }
  });

  nodeops::exporter::add_exporter_command(app);
  nodeops::stack::add_stack_commands(app);
  nodeops::gateway::add_rollout_command(app);
  nodeops::cli::add_check_config_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints help, the version or the usage error; its own codes (106, 109 ...) are not ours:
    // docs/interfaces.md promises 2 for every usage error.
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  return 0;
}
