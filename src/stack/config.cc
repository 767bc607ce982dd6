#include "stack/config.h"

#include <fmt/format.h>

#include <set>

#include "core/config_reader.h"

namespace nodeops::stack {
namespace {

StackConfig read(ConfigReader& reader, std::optional<ConfigMap> root) {
  if (!root) throw ConfigError(reader.errors());
  StackConfig cfg;
  cfg.state_dir = root->string("state_dir", cfg.state_dir);
  cfg.monitoring_dir = root->string("monitoring_dir", cfg.monitoring_dir);
  cfg.anvil = root->string("anvil", "");
  std::set<std::string> names;
  std::set<uint16_t> ports;
  for (auto& n : root->list("nodes")) {
    NodeSpec node;
    if (auto name = n.required_string("name")) node.name = *name;
    if (!node.name.empty() && !names.insert(node.name).second) n.error("name", "duplicate node name");
    if (auto chain = n.required_string("chain")) node.chain = *chain;
    node.chain_id = static_cast<uint64_t>(n.integer("chain_id", 1, 1, INT64_MAX));
    node.port = static_cast<uint16_t>(n.integer("port", 0, 1, 65535));
    if (!n.has("port")) n.error("port", "is required");
    else if (!ports.insert(node.port).second) n.error("port", "two nodes cannot share a port");
    node.block_time_seconds = static_cast<uint32_t>(n.integer("block_time_seconds", 1, 1, 60));
    n.finish();
    cfg.nodes.push_back(std::move(node));
  }
  if (cfg.nodes.empty() && reader.ok()) root->error("nodes", "at least one node is required");
  if (auto g = root->map("gateway")) {
    cfg.gateway_listen = g->host_port("listen", cfg.gateway_listen);
    cfg.gateway_admin = g->host_port("admin_listen", cfg.gateway_admin);
    cfg.max_lag_blocks = static_cast<uint64_t>(g->integer("max_lag_blocks", 3, 0, 1000));
    cfg.health_interval = g->duration("health_interval", cfg.health_interval, Duration(100));
    g->finish();
  }
  if (auto e = root->map("exporter")) {
    cfg.exporter_listen = e->host_port("listen", cfg.exporter_listen);
    e->finish();
  }
  if (auto m = root->map("monitoring")) {
    cfg.monitoring = m->boolean("enabled", true);
    cfg.prometheus_listen = m->host_port("prometheus_listen", cfg.prometheus_listen);
    cfg.alertmanager_listen = m->host_port("alertmanager_listen", cfg.alertmanager_listen);
    m->finish();
  }
  // Chain ids must agree within a chain: the gateway would exclude the odd one out.
  for (size_t i = 0; i < cfg.nodes.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (cfg.nodes[i].chain == cfg.nodes[j].chain && cfg.nodes[i].chain_id != cfg.nodes[j].chain_id) {
        reader.add_error(0, fmt::format("nodes[{}].chain_id", i),
                         fmt::format("chain '{}' already has chain id {}", cfg.nodes[i].chain, cfg.nodes[j].chain_id));
      }
      // One pool, one schedule: its nodes are mined in lockstep.
      if (cfg.nodes[i].chain == cfg.nodes[j].chain &&
          cfg.nodes[i].block_time_seconds != cfg.nodes[j].block_time_seconds) {
        reader.add_error(0, fmt::format("nodes[{}].block_time_seconds", i),
                         fmt::format("chain '{}' already has block_time_seconds {} (its nodes are mined in lockstep)",
                                     cfg.nodes[i].chain, cfg.nodes[j].block_time_seconds));
      }
    }
  }
  root->finish();
  if (!reader.ok()) throw ConfigError(reader.errors());
  return cfg;
}

}  // namespace

std::vector<std::string> StackConfig::chains() const {
  std::vector<std::string> out;
  for (const auto& n : nodes) {
    if (std::find(out.begin(), out.end(), n.chain) == out.end()) out.push_back(n.chain);
  }
  return out;
}

StackConfig load_stack_config(const std::string& path) {
  ConfigReader reader(path);
  auto root = reader.load();
  return read(reader, std::move(root));
}

StackConfig parse_stack_config(const std::string& text, const std::string& name) {
  ConfigReader reader(name);
  auto root = reader.load_text(text);
  return read(reader, std::move(root));
}

}  // namespace nodeops::stack
