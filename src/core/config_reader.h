// Typed, validated reading of YAML config files. Every problem is collected as
// "file:line: key: message" — an unknown key, a wrong type, a bad value — never a silent default,
// so `nodeops check-config` can print them all at once.
//
//   ConfigReader reader("gateway.yaml");
//   auto root = reader.load();                 // nullopt when the YAML itself is broken
//   auto listen = root->string("listen", "127.0.0.1:8545");
//   for (auto& chain : root->list("chains")) { ... chain.finish(); }
//   root->finish();                            // reports keys nobody asked for
//   if (!reader.ok()) for (auto& e : reader.errors()) std::cerr << e << "\n";
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/units.h"
#include "core/url.h"

namespace nodeops {

class ConfigReader;

/// @brief A YAML mapping being read; remembers which keys were read so finish() can name the rest.
class ConfigMap {
 public:
  ConfigMap(ConfigReader& reader, YAML::Node node, std::string path);

  bool has(const std::string& key) const;
  std::string string(const std::string& key, const std::string& fallback);
  std::optional<std::string> required_string(const std::string& key);
  int64_t integer(const std::string& key, int64_t fallback, int64_t min, int64_t max);
  double number(const std::string& key, double fallback, double min, double max);
  bool boolean(const std::string& key, bool fallback);
  Duration duration(const std::string& key, Duration fallback, Duration min = Duration(1));
  uint64_t size(const std::string& key, uint64_t fallback);
  /// A listen address "host:port", ":port" or "[v6]:port".
  HostPort host_port(const std::string& key, HostPort fallback);
  std::vector<std::string> strings(const std::string& key);
  /// A sequence of mappings; reports an error and returns what it could when items are not maps.
  std::vector<ConfigMap> list(const std::string& key);
  std::optional<ConfigMap> map(const std::string& key);
  /// The keys of this mapping, in file order (maps whose keys are data, e.g. method names).
  std::vector<std::string> keys() const;

  /// Records an error about `key` (or the map itself when key is empty) at its line.
  void error(const std::string& key, const std::string& message);
  /// Reports every key of this map that was never read, with the nearest key that was (the
  /// keys read are the keys the map accepts): "limits.max_batc: unknown key (did you mean max_batch?)".
  void finish();

  const std::string& path() const { return path_; }
  int line() const;

 private:
  YAML::Node child(const std::string& key);
  std::string key_path(const std::string& key) const;

  ConfigReader* reader_;
  YAML::Node node_;
  std::string path_;
  std::set<std::string> read_;
};

class ConfigReader {
 public:
  explicit ConfigReader(std::string file);
  /// Loads the file (or `text`, when given, named as the file). nullopt on YAML syntax errors.
  std::optional<ConfigMap> load();
  std::optional<ConfigMap> load_text(const std::string& text);

  void add_error(int line, const std::string& key, const std::string& message);
  bool ok() const { return errors_.empty(); }
  const std::vector<std::string>& errors() const { return errors_; }
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::vector<std::string> errors_;
};

/// The key of `known` that `unknown` most likely misspells: the same key but for case, '_' and
/// '-', else the nearest within 2 edits (1 for keys of 2-3 characters); nullopt when none is.
std::optional<std::string> closest_key(std::string_view unknown, const std::set<std::string>& known);

/// Thrown by component loaders once all errors are collected; what() holds them, one per line.
struct ConfigError : std::runtime_error {
  explicit ConfigError(const std::vector<std::string>& errors);
  std::vector<std::string> errors;
};

}  // namespace nodeops
