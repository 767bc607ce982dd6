// The one definition of "can this node serve, and how far behind is it", from probes alone.
// The gateway's health tracker and the exporter's /ready both decide with these functions, so they
// never disagree about the same node.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chains/node_status.h"

namespace nodeops::chains {

/// What a probe says about a node's ability to serve, before heads are compared.
enum class ProbeVerdict {
  serving,       // answered, knows its head, says it is in sync
  down,          // no answer at all
  bad_response,  // answered with something unusable (no head in it)
  syncing,       // says it is syncing, or (Solana) that it is behind
  sync_unknown,  // answered but did not say whether it is syncing: not trusted to serve
};

/// The verdict and one line saying why (empty when serving). `type` is the adapter type.
std::pair<ProbeVerdict, std::string> probe_verdict(std::string_view type, const NodeStatus& status);

/// The best head of a set of nodes of one chain: the highest head that another node corroborates
/// (within `tolerance`); without any corroboration, the upper median. So one node reporting an
/// absurd head is the one that looks wrong, not every honest one.
std::optional<uint64_t> best_head(std::vector<uint64_t> heads, uint64_t tolerance);

}  // namespace nodeops::chains
