#include "core/config_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <limits>
#include <sstream>

namespace nodeops {
namespace {

std::string join_lines(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) out += e + "\n";
  return out;
}

const char* type_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Null: return "null";
    case YAML::NodeType::Scalar: return "a scalar";
    default: return "nothing";
  }
}

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
// neighbours each cost 1 (a swap is the commonest typo: `max_bacth`).
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// A key without case, '_' or '-': `maxBatch`, `Max-Batch` and `max_batch` are the same key.
std::string folded(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c != '_' && c != '-') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

std::optional<std::string> closest_key(std::string_view unknown, const std::set<std::string>& known) {
  // Longer keys may be further off; a 2-letter key two edits away from anything means nothing.
  const size_t limit = std::min<size_t>(2, unknown.size() / 2);
  std::optional<std::string> best;
  size_t best_distance = limit + 1;
  auto want = folded(unknown);
  for (const auto& k : known) {
    if (k == unknown) continue;
    size_t d = folded(k) == want ? 0 : edit_distance(unknown, k);
    if (d < best_distance) {
      best = k;
      best_distance = d;
    }
  }
  return best;
}

ConfigError::ConfigError(const std::vector<std::string>& errs)
    : std::runtime_error(join_lines(errs)), errors(errs) {}

ConfigReader::ConfigReader(std::string file) : file_(std::move(file)) {}

std::optional<ConfigMap> ConfigReader::load() {
  std::ifstream in(file_);
  if (!in) {
    add_error(0, "", "cannot open file");
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return load_text(ss.str());
}

std::optional<ConfigMap> ConfigReader::load_text(const std::string& text) {
  // A YAML DOM costs tens of times its text; no real config comes near this, a mistaken file
  // (a ledger, a dump) would cost gigabytes before the first error.
  constexpr size_t kMaxConfigBytes = 4 << 20;
  if (text.size() > kMaxConfigBytes) {
    add_error(0, "", "the file is " + std::to_string(text.size()) + " bytes; a config may have at most " +
                         std::to_string(kMaxConfigBytes) + " (is this the right file?)");
    return std::nullopt;
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    add_error(e.mark.line + 1, "", e.msg);
    return std::nullopt;
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) {
    add_error(root.Mark().line + 1, "", "the document must be a mapping");
    return std::nullopt;
  }
  return ConfigMap(*this, root, "");
}

void ConfigReader::add_error(int line, const std::string& key, const std::string& message) {
  std::string where = line > 0 ? fmt::format("{}:{}", file_, line) : file_;
  errors_.push_back(key.empty() ? fmt::format("{}: {}", where, message)
                                : fmt::format("{}: {}: {}", where, key, message));
}

ConfigMap::ConfigMap(ConfigReader& reader, YAML::Node node, std::string path)
    : reader_(&reader), node_(std::move(node)), path_(std::move(path)) {}

int ConfigMap::line() const { return node_.Mark().line + 1; }

std::string ConfigMap::key_path(const std::string& key) const {
  if (path_.empty()) return key;
  if (key.empty()) return path_;
  return path_ + "." + key;
}

bool ConfigMap::has(const std::string& key) const { return node_.IsMap() && node_[key].IsDefined(); }

YAML::Node ConfigMap::child(const std::string& key) {
  read_.insert(key);
  if (!node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  return node_[key];
}

void ConfigMap::error(const std::string& key, const std::string& message) {
  int at = line();
  if (!key.empty() && node_.IsMap()) {
    auto n = node_[key];
    if (n.IsDefined()) at = n.Mark().line + 1;
  }
  reader_->add_error(at, key_path(key), message);
}

std::string ConfigMap::string(const std::string& key, const std::string& fallback) {
  auto n = child(key);
  if (!n.IsDefined() || n.IsNull()) return fallback;
  if (!n.IsScalar()) {
    error(key, fmt::format("expected a string, got {}", type_name(n)));
    return fallback;
  }
  return n.Scalar();
}

std::optional<std::string> ConfigMap::required_string(const std::string& key) {
  auto n = child(key);
  if (!n.IsDefined() || n.IsNull()) {
    error(key, "is required");
    return std::nullopt;
  }
  if (!n.IsScalar() || n.Scalar().empty()) {
    error(key, "expected a non-empty string");
    return std::nullopt;
  }
  return n.Scalar();
}

int64_t ConfigMap::integer(const std::string& key, int64_t fallback, int64_t min, int64_t max) {
  auto n = child(key);
  if (!n.IsDefined() || n.IsNull()) return fallback;
  int64_t v = 0;
  if (!n.IsScalar() || !YAML::convert<int64_t>::decode(n, v)) {
    error(key, fmt::format("expected an integer, got '{}'", n.IsScalar() ? n.Scalar() : type_name(n)));
    return fallback;
  }
  if (v < min || v > max) {
    error(key, fmt::format("{} is out of range [{}, {}]", v, min, max));
    return fallback;
  }
  return v;
}

double ConfigMap::number(const std::string& key, double fallback, double min, double max) {
  auto n = child(key);
  if (!n.IsDefined() || n.IsNull()) return fallback;
  double v = 0;
  if (!n.IsScalar() || !YAML::convert<double>::decode(n, v)) {
    error(key, fmt::format("expected a number, got '{}'", n.IsScalar() ? n.Scalar() : type_name(n)));
    return fallback;
  }
  if (v < min || v > max) {
    error(key, fmt::format("{} is out of range [{}, {}]", v, min, max));
    return fallback;
  }
  return v;
}

bool ConfigMap::boolean(const std::string& key, bool fallback) {
  auto n = child(key);
  if (!n.IsDefined() || n.IsNull()) return fallback;
  bool v = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) {
    error(key, "expected true or false");
    return fallback;
  }
  return v;
}

Duration ConfigMap::duration(const std::string& key, Duration fallback, Duration min) {
  auto n = child(key);
  if (!n.IsDefined() || n.IsNull()) return fallback;
  auto d = n.IsScalar() ? parse_duration(n.Scalar()) : std::nullopt;
  if (!d) {
    error(key, fmt::format("expected a duration like 500ms, 5s or 2m, got '{}'",
                           n.IsScalar() ? n.Scalar() : type_name(n)));
    return fallback;
  }
  if (*d < min) {
    error(key, fmt::format("must be at least {}", format_duration(min)));
    return fallback;
  }
  return *d;
}

uint64_t ConfigMap::size(const std::string& key, uint64_t fallback) {
  auto n = child(key);
  if (!n.IsDefined() || n.IsNull()) return fallback;
  auto s = n.IsScalar() ? parse_size(n.Scalar()) : std::nullopt;
  if (!s || *s == 0) {
    error(key, fmt::format("expected a size like 64KiB or 1MiB, got '{}'",
                           n.IsScalar() ? n.Scalar() : type_name(n)));
    return fallback;
  }
  return *s;
}

HostPort ConfigMap::host_port(const std::string& key, HostPort fallback) {
  auto n = child(key);
  if (!n.IsDefined() || n.IsNull()) return fallback;
  auto hp = n.IsScalar() ? parse_host_port(n.Scalar()) : std::nullopt;
  if (!hp) {
    error(key, fmt::format("expected host:port, got '{}'", n.IsScalar() ? n.Scalar() : type_name(n)));
    return fallback;
  }
  return *hp;
}

std::vector<std::string> ConfigMap::strings(const std::string& key) {
  auto n = child(key);
  std::vector<std::string> out;
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsSequence()) {
    error(key, fmt::format("expected a list of strings, got {}", type_name(n)));
    return out;
  }
  for (const auto& item : n) {
    if (!item.IsScalar()) {
      reader_->add_error(item.Mark().line + 1, key_path(key), "expected a string");
      continue;
    }
    out.push_back(item.Scalar());
  }
  return out;
}

std::vector<ConfigMap> ConfigMap::list(const std::string& key) {
  auto n = child(key);
  std::vector<ConfigMap> out;
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsSequence()) {
    error(key, fmt::format("expected a list, got {}", type_name(n)));
    return out;
  }
  size_t i = 0;
  for (const auto& item : n) {
    std::string p = fmt::format("{}[{}]", key_path(key), i++);
    if (!item.IsMap()) {
      reader_->add_error(item.Mark().line + 1, p, fmt::format("expected a mapping, got {}", type_name(item)));
      continue;
    }
    out.emplace_back(*reader_, item, p);
  }
  return out;
}

std::optional<ConfigMap> ConfigMap::map(const std::string& key) {
  auto n = child(key);
  if (!n.IsDefined() || n.IsNull()) return std::nullopt;
  if (!n.IsMap()) {
    error(key, fmt::format("expected a mapping, got {}", type_name(n)));
    return std::nullopt;
  }
  return ConfigMap(*reader_, n, key_path(key));
}

std::vector<std::string> ConfigMap::keys() const {
  std::vector<std::string> out;
  if (!node_.IsMap()) return out;
  for (const auto& kv : node_) out.push_back(kv.first.as<std::string>(""));
  return out;
}

void ConfigMap::finish() {
  if (!node_.IsMap()) return;
  for (const auto& kv : node_) {
    auto key = kv.first.as<std::string>("");
    if (read_.count(key)) continue;
    // The keys this map was asked for are the ones it accepts: suggest the nearest.
    auto near = closest_key(key, read_);
    reader_->add_error(kv.first.Mark().line + 1, key_path(key),
                       near ? fmt::format("unknown key (did you mean {}?)", *near) : std::string("unknown key"));
  }
}

}  // namespace nodeops
