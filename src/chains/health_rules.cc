#include "chains/health_rules.h"

#include <fmt/format.h>

#include <algorithm>

namespace nodeops::chains {

std::pair<ProbeVerdict, std::string> probe_verdict(std::string_view type, const NodeStatus& s) {
  if (!s.reachable) {
    std::string why = s.error.empty() ? std::string("no answer") : s.error;
    return {s.answered ? ProbeVerdict::bad_response : ProbeVerdict::down, why};
  }
  if (type == "solana" && ((s.solana && s.solana->healthy == false) || s.syncing.value_or(false))) {
    return {ProbeVerdict::syncing, s.solana && s.solana->num_slots_behind
                                       ? fmt::format("unhealthy (getHealth): {} slots behind", *s.solana->num_slots_behind)
                                       : std::string("unhealthy (getHealth)")};
  }
  if (!s.head) return {ProbeVerdict::bad_response, s.error.empty() ? std::string("no head in the answer") : s.error};
  if (!s.syncing) return {ProbeVerdict::sync_unknown, "sync state unknown"};
  if (!*s.syncing) return {ProbeVerdict::serving, ""};
  if (type == "heimdall") return {ProbeVerdict::syncing, "catching_up"};
  if (type == "beacon" && s.beacon && s.beacon->sync_distance) {
    return {ProbeVerdict::syncing, fmt::format("syncing: sync_distance {}", *s.beacon->sync_distance)};
  }
  if (type == "evm" && s.sync.current_block && s.sync.highest_block) {
    return {ProbeVerdict::syncing, fmt::format("syncing: block {} of {}", *s.sync.current_block, *s.sync.highest_block)};
  }
  return {ProbeVerdict::syncing, "syncing"};
}

std::optional<uint64_t> best_head(std::vector<uint64_t> heads, uint64_t tolerance) {
  if (heads.empty()) return std::nullopt;
  std::sort(heads.begin(), heads.end());
  for (size_t i = heads.size(); i-- > 0;) {
    bool corroborated = (i > 0 && heads[i] - heads[i - 1] <= tolerance) ||
                        (i + 1 < heads.size() && heads[i + 1] - heads[i] <= tolerance);
    if (corroborated) return heads[i];
  }
  return heads[heads.size() / 2];
}

}  // namespace nodeops::chains
