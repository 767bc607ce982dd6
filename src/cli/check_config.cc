#include "cli/check_config.h"

#include <yaml-cpp/yaml.h>

#include <iostream>

#include "core/config_reader.h"
#include "exporter/config.h"
#include "gateway/config.h"
#include "stack/config.h"

namespace nodeops::cli {
namespace {

int check(const std::string& path, std::string kind) {
  if (kind.empty()) {
    // Tell the kind from the top-level keys: each config has one that the others lack.
    try {
      auto root = YAML::LoadFile(path);
      if (root.IsMap() && root["nodes"]) kind = "stack";
      else if (root.IsMap() && root["targets"]) kind = "exporter";
      else kind = "gateway";
    } catch (const YAML::Exception&) {
      kind = "gateway";  // the loader reports the syntax error with its line
    }
  }
  try {
    if (kind == "gateway") {
      auto cfg = gateway::load_gateway_config(path);
      std::cout << path << ": valid gateway config (" << cfg.chains.size() << " chains)\n";
    } else if (kind == "exporter") {
      auto cfg = exporter::load_exporter_config(path);
      auto errors = exporter::finalize(cfg);
      if (!errors.empty()) throw ConfigError(errors);
      std::cout << path << ": valid exporter config (" << cfg.targets.size() << " targets)\n";
    } else if (kind == "stack") {
      auto cfg = stack::load_stack_config(path);
      // What `nodeops up` would refuse to start with: its programs and files.
      if (auto errors = stack::check_stack_environment(cfg); !errors.empty()) throw ConfigError(errors);
      std::cout << path << ": valid stack config (" << cfg.nodes.size() << " nodes)\n";
    } else {
      std::cerr << "unknown kind '" << kind << "': use gateway, exporter or stack\n";
      return 2;
    }
  } catch (const ConfigError& e) {
    std::cerr << e.what();
    return 2;
  }
  return 0;
}

}  // namespace

void add_check_config_command(CLI::App& app) {
  static std::string path, kind;
  auto* cmd = app.add_subcommand("check-config", "validate a config file and print every error with file:line");
  cmd->add_option("file", path, "config file")->required();
  cmd->add_option("--kind", kind, "gateway, exporter or stack (default: guessed from the keys)");
  cmd->callback([] { std::exit(check(path, kind)); });
}

}  // namespace nodeops::cli
