#include "exporter/config.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "core/config_reader.h"

namespace nodeops::exporter {
namespace {

bool known_type(const std::string& t) {
  return t == "evm" || t == "beacon" || t == "heimdall" || t == "solana";
}

std::string default_chain(const std::string& type) {
  if (type == "heimdall") return "polygon";
  if (type == "solana") return "solana";
  return "ethereum";
}

bool valid_label(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
          c == '-' || c == '_')) {
      return false;
    }
  }
  return true;
}

ExporterOptions read(ConfigReader& reader, std::optional<ConfigMap> root) {
  ExporterOptions o;
  if (!root) throw ConfigError(reader.errors());
  o.listen = root->host_port("listen", o.listen);
  o.interval = root->duration("interval", o.interval, Duration(100));
  o.max_lag = static_cast<uint64_t>(root->integer("max_lag", 5, 0, 100000000));
  o.max_head_age = root->duration("max_head_age", o.max_head_age, Duration(100));
  o.stall_after = root->duration("stall_after", o.stall_after, Duration(100));
  if (root->has("peers_interval")) {
    // 0 (or 0s) turns the gossip probe off; otherwise at least 1s, as it lists the whole cluster.
    std::string text = root->string("peers_interval", "");
    auto d = text == "0" ? std::optional<Duration>(0) : parse_duration(text);
    if (d && (*d == Duration(0) || *d >= Duration(1000))) {
      o.peers_interval = *d;
    } else if (!text.empty()) {  // empty: null (the default) or not a scalar (already reported)
      root->error("peers_interval",
                  fmt::format("expected 0 (off) or a duration of at least 1s like 5m, got '{}'", text));
    }
  }
  o.peers_timeout = root->duration("peers_timeout", o.peers_timeout, Duration(100));
  o.peers_max_bytes = root->size("peers_max_bytes", o.peers_max_bytes);
  o.reference = root->string("reference", "");
  for (auto& d : root->list("data_dirs")) {
    DataDirOptions dir;
    if (auto path = d.required_string("path")) dir.path = *path;
    dir.name = d.string("name", "");
    if (!dir.name.empty() && !valid_label(dir.name)) {
      d.error("name", "use lowercase letters, digits, '-' and '_' (it is a label)");
    }
    dir.chain = d.string("chain", "");
    if (!dir.chain.empty() && !valid_label(dir.chain)) {
      d.error("chain", "use lowercase letters, digits, '-' and '_' (it is a label)");
    }
    d.finish();
    o.data_dirs.push_back(std::move(dir));
  }
  o.log_level = root->string("log_level", "info");
  if (o.log_level != "debug" && o.log_level != "info" && o.log_level != "warn" && o.log_level != "error") {
    root->error("log_level", "expected debug, info, warn or error");
  }
  if (!o.reference.empty()) {
    std::string why;
    if (!parse_url(o.reference, &why)) root->error("reference", fmt::format("'{}': {}", o.reference, why));
  }
  std::set<std::string> names;
  for (auto& t : root->list("targets")) {
    TargetOptions target;
    if (auto type = t.required_string("type")) {
      target.type = *type;
      if (!known_type(target.type)) {
        t.error("type", fmt::format("expected evm, beacon, heimdall or solana, got '{}'", target.type));
      }
    }
    target.name = t.string("name", target.type);
    if (!valid_label(target.name)) t.error("name", "use lowercase letters, digits, '-' and '_' (it is a label)");
    if (!names.insert(target.name).second) {
      t.error("name", fmt::format("duplicate target '{}' (give each target a name)", target.name));
    }
    if (auto text = t.required_string("url")) {
      std::string why;
      if (!parse_url(*text, &why)) t.error("url", fmt::format("'{}': {}", *text, why));
      target.url = *text;
    }
    if (t.has("rest_url")) {
      target.rest_url = t.string("rest_url", "");
      std::string why;
      if (!parse_url(target.rest_url, &why)) t.error("rest_url", fmt::format("'{}': {}", target.rest_url, why));
    }
    if (!target.rest_url.empty() && target.type != "heimdall") t.error("rest_url", "only heimdall targets have one");
    target.chain = t.string("chain", default_chain(target.type));
    if (!valid_label(target.chain)) t.error("chain", "use lowercase letters, digits, '-' and '_' (it is a label)");
    if (t.has("max_lag")) target.max_lag = static_cast<uint64_t>(t.integer("max_lag", 5, 0, 100000000));
    t.finish();
    o.targets.push_back(std::move(target));
  }
  if (o.targets.empty() && reader.ok()) root->error("targets", "at least one target is required");
  root->finish();
  if (!reader.ok()) throw ConfigError(reader.errors());
  return o;
}

}  // namespace

ExporterOptions load_exporter_config(const std::string& path) {
  ConfigReader reader(path);
  auto root = reader.load();
  return read(reader, std::move(root));
}

ExporterOptions parse_exporter_config(const std::string& text, const std::string& name) {
  ConfigReader reader(name);
  auto root = reader.load_text(text);
  return read(reader, std::move(root));
}

std::optional<TargetOptions> parse_target_flag(const std::string& text, std::string* why) {
  auto eq = text.find('=');
  if (eq == std::string::npos) {
    if (why) *why = fmt::format("'{}': expected [NAME:]TYPE=URL", text);
    return std::nullopt;
  }
  TargetOptions t;
  std::string left = text.substr(0, eq);
  std::string url = text.substr(eq + 1);
  if (auto colon = left.find(':'); colon != std::string::npos) {
    t.name = left.substr(0, colon);
    t.type = left.substr(colon + 1);
  } else {
    t.type = left;
  }
  if (auto comma = url.find(','); comma != std::string::npos) {
    t.rest_url = url.substr(comma + 1);
    url.resize(comma);
  }
  t.url = url;
  if (!known_type(t.type)) {
    if (why) *why = fmt::format("'{}': type must be evm, beacon, heimdall or solana", text);
    return std::nullopt;
  }
  return t;
}

std::optional<DataDirOptions> parse_data_dir_flag(const std::string& text, std::string* why) {
  DataDirOptions d;
  d.path = text;
  // A '=' before the first '/' separates a name: "accounts=/accounts"; "/data" has none.
  if (auto eq = text.find('='); eq != std::string::npos && eq < text.find('/')) {
    d.name = text.substr(0, eq);
    d.path = text.substr(eq + 1);
  }
  if (d.path.empty()) {
    if (why) *why = fmt::format("'{}': expected [NAME=]DIR", text);
    return std::nullopt;
  }
  return d;
}

std::vector<std::string> finalize(ExporterOptions& o) {
  std::vector<std::string> errors;
  if (o.targets.empty()) errors.push_back("no target: give --config FILE or at least one --target TYPE=URL");
  std::map<std::string, int> per_type;
  for (const auto& t : o.targets) per_type[t.type]++;
  std::map<std::string, int> seen_type;
  std::set<std::string> names;
  for (auto& t : o.targets) {
    if (t.name.empty()) {
      int n = ++seen_type[t.type];
      t.name = per_type[t.type] > 1 ? fmt::format("{}-{}", t.type, n) : t.type;
    }
    if (t.chain.empty()) t.chain = default_chain(t.type);
    if (!known_type(t.type)) errors.push_back(fmt::format("target '{}': unknown type '{}'", t.name, t.type));
    if (!valid_label(t.name)) errors.push_back(fmt::format("target '{}': name must be lowercase letters, digits, '-', '_'", t.name));
    if (!valid_label(t.chain)) errors.push_back(fmt::format("target '{}': chain '{}' must be lowercase letters, digits, '-', '_'", t.name, t.chain));
    if (!names.insert(t.name).second) errors.push_back(fmt::format("duplicate target name '{}'", t.name));
    for (const std::string* u : {&t.url, &t.rest_url}) {
      if (u->empty() && u == &t.rest_url) continue;
      std::string why;
      if (!parse_url(*u, &why)) errors.push_back(fmt::format("target '{}': '{}': {}", t.name, *u, why));
    }
    if (!t.rest_url.empty() && t.type != "heimdall") {
      errors.push_back(fmt::format("target '{}': only heimdall targets take a second (REST) URL", t.name));
    }
  }
  if (!o.reference.empty()) {
    std::string why;
    if (!parse_url(o.reference, &why)) errors.push_back(fmt::format("--reference '{}': {}", o.reference, why));
  }
  std::set<std::string> volumes;
  for (auto& d : o.data_dirs) {
    if (d.name.empty()) {
      std::string trimmed = d.path;
      while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
      d.name = trimmed.substr(trimmed.rfind('/') + 1);
      if (d.name.empty()) d.name = "root";
    }
    if (d.chain.empty() && !o.targets.empty()) d.chain = o.targets.front().chain;
    if (!valid_label(d.name)) {
      errors.push_back(fmt::format(
          "data dir '{}': name '{}' must be lowercase letters, digits, '-', '_' (give one: NAME=DIR)", d.path, d.name));
    }
    if (!volumes.insert(d.name).second) errors.push_back(fmt::format("duplicate data dir name '{}'", d.name));
  }
  return errors;
}

}  // namespace nodeops::exporter
