#include "exporter/command.h"

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>
#include <memory>

#include "core/config_reader.h"
#include "exporter/config.h"
#include "exporter/exporter.h"

namespace nodeops::exporter {
namespace {

struct Flags {
  std::string config;
  std::vector<std::string> targets;
  std::string chain;
  std::string reference;
  std::vector<std::string> data_dirs;
  std::string listen;
  std::string interval;
  std::string max_head_age;
  std::string stall_after;
  std::string peers_interval;
  std::string log_level;
  std::optional<uint64_t> max_lag;
};

// Flags given next to --config override the file (handy for a port in tests or a pod).
int run(const Flags& f) {
  ExporterOptions o;
  std::vector<std::string> errors;
  if (!f.config.empty()) {
    try {
      o = load_exporter_config(f.config);
    } catch (const ConfigError& e) {
      for (const auto& line : e.errors) std::cerr << line << "\n";
      return 2;
    }
  }
  for (const auto& text : f.targets) {
    std::string why;
    if (auto t = parse_target_flag(text, &why)) {
      if (!f.chain.empty()) t->chain = f.chain;
      o.targets.push_back(std::move(*t));
    } else {
      errors.push_back("--target " + why);
    }
  }
  auto duration = [&](const std::string& text, const char* flag, Duration& out) {
    if (text.empty()) return;
    if (auto d = parse_duration(text); d && d->count() > 0) out = *d;
    else errors.push_back(std::string(flag) + ": expected a duration like 5s or 2m, got '" + text + "'");
  };
  duration(f.interval, "--interval", o.interval);
  duration(f.max_head_age, "--max-head-age", o.max_head_age);
  duration(f.stall_after, "--stall-after", o.stall_after);
  if (!f.peers_interval.empty()) {
    auto d = f.peers_interval == "0" ? std::optional<Duration>(0) : parse_duration(f.peers_interval);
    if (d && (*d == Duration(0) || *d >= Duration(1000))) {
      o.peers_interval = *d;
    } else {
      errors.push_back("--peers-interval: expected 0 (off) or a duration of at least 1s, got '" +
                       f.peers_interval + "'");
    }
  }
  if (!f.listen.empty()) {
    if (auto hp = parse_host_port(f.listen)) o.listen = *hp;
    else errors.push_back("--listen: expected host:port or :port, got '" + f.listen + "'");
  }
  if (f.max_lag) o.max_lag = *f.max_lag;
  if (!f.reference.empty()) o.reference = f.reference;
  if (!f.data_dirs.empty()) o.data_dirs.clear();
  for (const auto& text : f.data_dirs) {
    std::string why;
    if (auto d = parse_data_dir_flag(text, &why)) {
      if (!f.chain.empty()) d->chain = f.chain;
      o.data_dirs.push_back(std::move(*d));
    } else {
      errors.push_back("--data-dir " + why);
    }
  }
  if (!f.log_level.empty()) o.log_level = f.log_level;
  for (auto& e : finalize(o)) errors.push_back(std::move(e));
  if (!errors.empty()) {
    for (const auto& e : errors) std::cerr << "nodeops exporter: " << e << "\n";
    return 2;
  }
  return run_exporter(o);
}

}  // namespace

void add_exporter_command(CLI::App& app) {
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand("exporter", "Node health metrics and Kubernetes readiness/liveness endpoints");
  cmd->add_option("--config", flags->config, "YAML config file (see docs/interfaces.md)");
  cmd->add_option("--target", flags->targets, "[NAME:]TYPE=URL; TYPE is evm, beacon, heimdall or solana "
                                              "(heimdall: RPC_URL,REST_URL)");
  cmd->add_option("--chain", flags->chain, "chain label of the --target targets (default by type)");
  cmd->add_option("--reference", flags->reference, "JSON-RPC URL of a trusted node of the same chain");
  cmd->add_option("--data-dir", flags->data_dirs,
                  "[NAME=]DIR, repeatable: a volume of the node; exports eth_disk_* "
                  "labelled volume=NAME (default: DIR's last component)");
  cmd->add_option("--listen", flags->listen, "listen address (default 0.0.0.0:9200)");
  cmd->add_option("--interval", flags->interval, "probe interval (default 5s)");
  cmd->add_option("--max-lag", flags->max_lag, "blocks (or slots) behind before /ready fails (default 5)");
  cmd->add_option("--max-head-age", flags->max_head_age, "head age before /ready fails (default 2m)");
  cmd->add_option("--stall-after", flags->stall_after, "head still this long -> /live fails (default 10m)");
  cmd->add_option("--peers-interval", flags->peers_interval,
                  "gossip probe of solana targets (getClusterNodes), 0 = off (default 5m)");
  cmd->add_option("--log-level", flags->log_level, "debug, info, warn or error");
  cmd->callback([flags] { std::exit(run(*flags)); });
}

}  // namespace nodeops::exporter
