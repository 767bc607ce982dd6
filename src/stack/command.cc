#include "stack/command.h"

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <tuple>

#include "core/config_reader.h"
#include "stack/stack.h"

namespace nodeops::stack {
namespace {

constexpr const char* kStateDirHelp =
    "the stack's state directory (default: the state_dir of the embedded examples/local.yaml, "
    "<checkout>/.nodeops)";

/// The embedded default's state dir (in the checkout the binary belongs to), wherever this runs.
std::string state_dir_or_default(const std::string& given) {
  if (!given.empty()) return given;
  std::error_code ec;
  auto self = std::filesystem::canonical("/proc/self/exe", ec);
  return ec ? ".nodeops" : default_state_dir(self);
}

}  // namespace

void add_stack_commands(CLI::App& app) {
  static std::string file;
  static bool no_restart = false;
  static std::string state_dir;  // empty: the embedded default's (resolved only when asked for)
  auto* up = app.add_subcommand("up", "run the whole system on this machine (default: examples/local.yaml)");
  up->add_option("-f,--file", file, "stack config; its relative paths are relative to it "
                                    "(default: the embedded examples/local.yaml of this binary's checkout)");
  up->add_flag("--no-restart", no_restart, "do not restart children that exit");
  up->callback([] {
    try {
      auto self = std::filesystem::canonical("/proc/self/exe");
      auto cfg = file.empty() ? embedded_stack_config(self) : load_stack_config(file);
      // Refuse before starting anything: a stack without its nodes would "run" a gateway with no upstreams.
      if (auto errors = check_stack_environment(cfg); !errors.empty()) throw ConfigError(errors);
      UpOptions opts;
      opts.restart = !no_restart;
      opts.self = self.string();
      std::exit(run_up(cfg, opts));
    } catch (const ConfigError& e) {
      std::cerr << e.what();
      std::exit(2);
    }
  });
  auto* status = app.add_subcommand("status", "print the state of a running `nodeops up` stack");
  status->add_option("--state-dir", state_dir, kStateDirHelp);
  status->callback([] { std::exit(print_status(state_dir_or_default(state_dir))); });

  // Demos and tests of a pool with a lagging or forked replica: docs/local-stack.md.
  static std::string node_name;
  auto* node = app.add_subcommand("node", "make a node of a running stack lag, fork, or follow its pool again");
  node->require_subcommand(1);
  for (auto [action, mode, what] : {std::tuple{"pause", NodeMode::paused, "stop mining it: it lags behind its pool"},
                                    std::tuple{"fork", NodeMode::forked, "mine it with other timestamps: same height, other hashes"},
                                    std::tuple{"resume", NodeMode::follow, "mine it with its pool again (caught up by replay)"}}) {
    auto* sub = node->add_subcommand(action, what);
    sub->add_option("name", node_name, "the node, as named in the stack file")->required();
    sub->add_option("--state-dir", state_dir, kStateDirHelp);
    sub->callback([mode = mode] { std::exit(set_node_mode(state_dir_or_default(state_dir), node_name, mode)); });
  }
}

}  // namespace nodeops::stack
