#include "gateway/rollout_fleet.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>

#include "core/json.h"
#include "core/metrics.h"

namespace nodeops::gateway::fleet {

std::string to_json(const FleetState& s) {
  std::string out = "{\"chain\":";
  json::append_string(out, s.chain);
  out += fmt::format(",\"epoch\":{},\"switch_id\":", s.epoch);
  json::append_string(out, s.switch_id);
  out += ",\"phase\":";
  json::append_string(out, s.phase);
  out += ",\"from\":";
  json::append_string(out, s.from);
  out += ",\"to\":";
  json::append_string(out, s.to);
  out += ",\"steps\":";
  json::append_numbers(out, s.steps);
  out += fmt::format(",\"step\":{},\"percent\":", s.step);
  json::append_number(out, s.percent);
  out += fmt::format(",\"lease_ms\":{},\"reason\":", s.lease.count());
  json::append_string(out, s.reason);
  out += "}";
  return out;
}

std::optional<FleetState> parse_state(std::string_view text, std::string& why) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(text.data(), text.size()).get(doc) || !doc.is_object()) {
    why = "body must be a JSON object";
    return std::nullopt;
  }
  FleetState s;
  std::string_view v;
  auto text_field = [&](const char* key, std::string& out, bool required) {
    if (doc[key].get_string().get(v)) {
      if (required) why = fmt::format("{} is required (a string)", key);
      return !required;
    }
    out = std::string(v);
    return true;
  };
  if (!text_field("chain", s.chain, true) || !text_field("phase", s.phase, true) ||
      !text_field("from", s.from, true) || !text_field("to", s.to, true) ||
      !text_field("switch_id", s.switch_id, false) || !text_field("reason", s.reason, false)) {
    return std::nullopt;
  }
  if (s.phase != "shifting" && s.phase != "completed" && s.phase != "rolled_back" && s.phase != "aborted") {
    why = "phase must be shifting, completed, rolled_back or aborted";
    return std::nullopt;
  }
  if (s.from.empty() || s.to.empty() || s.from == s.to) {
    why = "from and to must be two different pools";
    return std::nullopt;
  }
  uint64_t epoch;
  if (doc["epoch"].get_uint64().get(epoch) || epoch == 0) {
    why = "epoch is required (a positive integer)";
    return std::nullopt;
  }
  s.epoch = epoch;
  simdjson::dom::array steps;
  if (!doc["steps"].get_array().get(steps)) {
    for (auto e : steps) {
      double d;
      if (e.get_double().get(d)) {
        why = "steps must be numbers";
        return std::nullopt;
      }
      s.steps.push_back(d);
    }
  }
  uint64_t step = 0;
  if (!doc["step"].get_uint64().get(step)) s.step = step;
  double percent = 0;
  if (!doc["percent"].get_double().get(percent)) s.percent = percent;
  int64_t lease = 0;
  if (!doc["lease_ms"].get_int64().get(lease)) s.lease = Duration(lease);
  if (s.phase == "shifting") {
    if (!(s.percent > 0 && s.percent <= 100)) {
      why = "percent must be within (0, 100] while shifting";
      return std::nullopt;
    }
    if (s.lease.count() <= 0) {
      why = "lease_ms must be positive while shifting";
      return std::nullopt;
    }
  }
  return s;
}

bool should_adopt(const FleetState& mine, const FleetState& peer) {
  if (peer.epoch <= mine.epoch || peer.phase.empty()) return false;
  if (peer.phase == "shifting" && peer.lease.count() <= 0) return false;  // about to roll back itself
  return true;
}

uint64_t next_epoch(uint64_t highest_seen, uint64_t now_unix_ms) { return std::max(highest_seen + 1, now_unix_ms); }

std::string fleet_gate(const std::string& pool, const std::vector<GateReport>& reports, const GateLimits& limits) {
  double requests = 0, failures = 0;
  std::vector<uint64_t> buckets;
  for (const auto& r : reports) {
    if (r.probed && r.healthy < r.min_healthy) {
      return fmt::format("replica {}: pool {} has {} healthy upstreams (min_healthy {})", r.replica, pool, r.healthy,
                         r.min_healthy);
    }
    requests += r.requests;
    failures += r.failures;
    if (buckets.size() < r.buckets.size()) buckets.resize(r.buckets.size(), 0);
    for (size_t b = 0; b < r.buckets.size(); ++b) buckets[b] += r.buckets[b];
  }
  if (requests > 0 && failures / requests > limits.max_error_ratio) {
    return fmt::format("fleet: pool {} error ratio {:.3f} > {} ({} of {} calls failed on {} replicas)", pool,
                       failures / requests, limits.max_error_ratio, failures, requests, reports.size());
  }
  auto bounds = metrics::latency_buckets();
  if (requests > 0 && buckets.size() == bounds.size() + 1) {
    std::vector<uint64_t> zero(buckets.size(), 0);
    double p99 = metrics::quantile_between(bounds, zero, buckets, 0.99);
    if (p99 * 1000 > static_cast<double>(limits.max_p99.count())) {
      return fmt::format("fleet: pool {} p99 {:.0f}ms > {}ms over {} replicas", pool, p99 * 1000,
                         limits.max_p99.count(), reports.size());
    }
  }
  return "";
}

}  // namespace nodeops::gateway::fleet
