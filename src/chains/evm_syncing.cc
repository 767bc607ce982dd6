#include "chains/evm_syncing.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace nodeops::chains {
namespace {

std::optional<uint64_t> parse_digits(std::string_view s, int base) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<uint64_t> member(simdjson::dom::object obj, std::string_view key) {
  simdjson::dom::element v;
  if (obj[key].get(v) != simdjson::SUCCESS) return std::nullopt;
  return read_quantity(v);
}

// The stage that best says "blocks fully processed": Execution (Erigon, Reth), else Finish,
// else the slowest stage.
struct StageView {
  std::optional<uint64_t> processed;
  std::optional<uint64_t> furthest;
};

StageView read_stages(simdjson::dom::array stages) {
  StageView out;
  std::optional<uint64_t> execution, finish, slowest;
  for (simdjson::dom::element stage : stages) {
    simdjson::dom::object s;
    if (stage.get(s) != simdjson::SUCCESS) continue;
    std::string_view name;
    if (s["stage_name"].get(name) != simdjson::SUCCESS &&
        s["name"].get(name) != simdjson::SUCCESS) {
      name = {};
    }
    auto block = member(s, "block_number");
    if (!block) block = member(s, "block");
    if (!block) continue;
    if (name == "Execution") execution = block;
    if (name == "Finish") finish = block;
    slowest = slowest ? std::min(*slowest, *block) : *block;
    out.furthest = out.furthest ? std::max(*out.furthest, *block) : *block;
  }
  out.processed = execution ? execution : finish ? finish : slowest;
  return out;
}

void set_error(std::string* error, std::string_view why) {
  if (error != nullptr) *error = std::string(why);
}

}  // namespace

std::optional<uint64_t> read_quantity(simdjson::dom::element value) {
  switch (value.type()) {
    case simdjson::dom::element_type::UINT64:
      return value.get_uint64().value_unsafe();
    case simdjson::dom::element_type::INT64: {
      int64_t v = value.get_int64().value_unsafe();
      if (v < 0) return std::nullopt;
      return static_cast<uint64_t>(v);
    }
    case simdjson::dom::element_type::DOUBLE: {
      double d = value.get_double().value_unsafe();
      // 2^64 is exactly representable; anything at or above it does not fit.
      if (!std::isfinite(d) || d < 0 || d >= 18446744073709551616.0 || d != std::floor(d)) {
        return std::nullopt;
      }
      return static_cast<uint64_t>(d);
    }
    case simdjson::dom::element_type::STRING: {
      std::string_view s = value.get_string().value_unsafe();
      if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        return parse_digits(s.substr(2), 16);
      }
      return parse_digits(s, 10);
    }
    default:
      return std::nullopt;
  }
}

SyncProgress parse_eth_syncing(simdjson::dom::element result, std::string* error) {
  SyncProgress out;
  if (result.is_bool()) {
    // `true` is not a defined answer; report it as syncing with no numbers.
    out.syncing = result.get_bool().value_unsafe();
    return out;
  }
  simdjson::dom::object obj;
  if (result.get(obj) != simdjson::SUCCESS) {
    set_error(error, "eth_syncing: result is neither false nor an object");
    return out;
  }
  out.syncing = true;
  bool explicit_flag = false;
  if (obj["isSyncing"].get(explicit_flag) == simdjson::SUCCESS) out.syncing = explicit_flag;

  out.starting_block = member(obj, "startingBlock");
  out.current_block = member(obj, "currentBlock");
  out.highest_block = member(obj, "highestBlock");

  simdjson::dom::array stages;
  if (obj["stages"].get(stages) == simdjson::SUCCESS) {
    StageView view = read_stages(stages);
    if (view.processed && (!out.current_block || *out.current_block == 0)) {
      out.current_block = view.processed;
    }
    if (view.furthest && (!out.highest_block || *out.highest_block == 0)) {
      out.highest_block = view.furthest;
    }
  }

  if (out.current_block && out.highest_block && *out.highest_block > 0) {
    double pct = 100.0 * static_cast<double>(*out.current_block) /
                 static_cast<double>(*out.highest_block);
    out.percentage = std::clamp(pct, 0.0, 100.0);
  }
  if (!out.current_block && !out.highest_block && error != nullptr && out.syncing) {
    *error = "eth_syncing: syncing object without currentBlock/highestBlock";
  }
  return out;
}

SyncProgress parse_eth_syncing(std::string_view result_json, std::string* error) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(result_json.data(), result_json.size()).get(doc) != simdjson::SUCCESS) {
    set_error(error, "eth_syncing: result is not valid JSON");
    return {};
  }
  return parse_eth_syncing(doc, error);
}

}  // namespace nodeops::chains
