#include "stack/config.h"

#include <fmt/format.h>

#include <unistd.h>

#include <cstdlib>
#include <set>

#include "core/config_reader.h"

namespace nodeops::stack {
namespace fs = std::filesystem;
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
    cfg.gateway_cache = g->boolean("cache", cfg.gateway_cache);
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
  auto cfg = read(reader, std::move(root));
  cfg.source = path;
  resolve_paths(cfg, fs::absolute(path).parent_path());
  return cfg;
}

void resolve_paths(StackConfig& cfg, const fs::path& base) {
  auto resolve = [&](std::string& p) {
    if (!p.empty()) p = (base / p).lexically_normal().string();  // an absolute p stays as it is
  };
  resolve(cfg.state_dir);
  resolve(cfg.monitoring_dir);
  resolve(cfg.anvil);
  if (cfg.anvil.empty()) {
    // The repository's .tools/ (make bootstrap) when the file is inside a checkout.
    for (auto dir = base; !dir.empty(); dir = dir.parent_path()) {
      auto candidate = dir / ".tools" / "bin" / "anvil";
      if (access(candidate.c_str(), X_OK) == 0) {
        cfg.anvil = candidate.string();
        break;
      }
      if (dir == dir.parent_path()) break;
    }
  }
}

std::optional<fs::path> embedded_config_dir(const fs::path& self_exe, std::vector<std::string>* looked_in) {
  auto is_checkout = [&](const fs::path& dir) {
    if (looked_in) looked_in->push_back(dir.string());
    return fs::exists(dir / "examples" / "local.yaml") && fs::is_directory(dir / "monitoring");
  };
  // build/<preset>/nodeops: two levels up; a few more for other build layouts.
  auto dir = self_exe.parent_path();
  for (int i = 0; i < 4 && !dir.empty(); ++i, dir = dir.parent_path()) {
    if (is_checkout(dir)) return dir / "examples";
    if (dir == dir.parent_path()) break;
  }
  std::error_code ec;
  auto cwd = fs::current_path(ec);
  if (!ec && is_checkout(cwd)) return cwd / "examples";
  return std::nullopt;
}

StackConfig embedded_stack_config(const fs::path& self_exe) {
  std::vector<std::string> looked;
  auto dir = embedded_config_dir(self_exe, &looked);
  if (!dir) {
    std::string where;
    std::set<std::string> seen;
    for (const auto& l : looked) {
      if (seen.insert(l).second) where += (where.empty() ? "" : ", ") + l;
    }
    throw ConfigError({fmt::format(
        "examples/local.yaml (embedded): its paths (state_dir, monitoring_dir, anvil) are relative to a "
        "NodeOps checkout, and none was found (looked for examples/local.yaml and monitoring/ in {}). "
        "Run the binary of a checkout (build/release/nodeops up), or copy examples/local.yaml, set its paths "
        "(relative to the file, or absolute) and run `nodeops up -f FILE`",
        where)});
  }
  auto cfg = parse_stack_config(embedded_local_yaml(), "examples/local.yaml (embedded)");
  cfg.source = (*dir / "local.yaml").string() + " (embedded)";
  resolve_paths(cfg, *dir);
  return cfg;
}

std::string default_state_dir(const fs::path& self_exe) {
  if (!embedded_config_dir(self_exe)) return ".nodeops";
  try {
    return embedded_stack_config(self_exe).state_dir;
  } catch (const ConfigError&) {
    return ".nodeops";
  }
}

std::vector<std::string> check_stack_environment(StackConfig& cfg) {
  std::vector<std::string> errors;
  auto error = [&](const std::string& key, const std::string& message) {
    errors.push_back(fmt::format("{}: {}: {}", cfg.source, key, message));
  };
  std::string found = cfg.anvil.empty() ? "" : (access(cfg.anvil.c_str(), X_OK) == 0 ? cfg.anvil : "");
  if (found.empty() && cfg.anvil.empty()) {
    const char* path = std::getenv("PATH");
    std::string p = path ? path : "";
    for (size_t start = 0; start <= p.size();) {
      auto end = p.find(':', start);
      if (end == std::string::npos) end = p.size();
      auto candidate = p.substr(start, end - start) + "/anvil";
      if (end > start && access(candidate.c_str(), X_OK) == 0) {
        found = candidate;
        break;
      }
      start = end + 1;
    }
  }
  if (!found.empty()) {
    cfg.anvil = found;
  } else if (!cfg.anvil.empty()) {
    error("anvil", fmt::format("{} is not an executable program", cfg.anvil));
  } else {
    error("anvil", "anvil not found: no .tools/bin/anvil in the stack file's directory or its parents, none in PATH. "
                   "In a checkout, `make bootstrap` installs it into .tools/; elsewhere install npm "
                   "@foundry-rs/anvil-linux-amd64 and put its bin/anvil in PATH, or set `anvil: /path/to/anvil`");
  }
  if (cfg.monitoring) {
    fs::path mon(cfg.monitoring_dir);
    auto am = mon / "alertmanager" / "local.yml";
    if (!fs::is_directory(mon / "rules") || !fs::exists(am)) {
      error("monitoring_dir", fmt::format("{} has no rules/ or no alertmanager/local.yml (relative paths are resolved "
                                          "against the stack file's directory); point it at the repository's "
                                          "monitoring/ or set `monitoring: {{enabled: false}}`",
                                          cfg.monitoring_dir));
    }
  }
  return errors;
}

StackConfig parse_stack_config(const std::string& text, const std::string& name) {
  ConfigReader reader(name);
  auto root = reader.load_text(text);
  return read(reader, std::move(root));
}

}  // namespace nodeops::stack
