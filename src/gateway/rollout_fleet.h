// The pure rules of a rollout coordinated across every gateway replica (no I/O, unit-tested):
// the fleet state a coordinator sends and peers exchange, which of two states holds, and the
// fleet's gates over every replica's figures.
//
// A coordinated switch is a sequence of transitions (step 0 at 10%, step 1 at 50%, ..., completed,
// or rolled_back / aborted), each stamped by the coordinator (`nodeops rollout switch`) with an
// `epoch` above every epoch any replica holds. Whatever path a replica learns a transition by —
// the coordinator's push, its renewal, or a peer at startup — the higher epoch wins, so replicas
// converge on the latest transition and never go back to an older one. A shifting step holds for
// its `lease`; a replica whose lease runs out (the coordinator died or lost it) rolls back on its
// own clock, so a fleet is never left split for longer than one lease.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/units.h"

namespace nodeops::gateway::fleet {

/// One chain's coordinated rollout state: what a coordinator sets on a replica, and what a replica
/// tells its peers (then `lease` is what remains of the step's lease).
struct FleetState {
  std::string chain;
  uint64_t epoch = 0;       // 0: this replica never took part in a coordinated switch
  std::string switch_id;    // one id for every transition of one switch (logs, status)
  std::string phase;        // shifting | completed | rolled_back | aborted
  std::string from, to;
  std::vector<double> steps;
  size_t step = 0;          // index into steps while shifting
  double percent = 0;       // share of traffic on `to`
  Duration lease{0};        // shifting: how long the step holds without a renewal
  std::string reason;       // why it rolled back or was aborted
};

/// The JSON object of one state (the body of POST /admin/rollout/fleet).
std::string to_json(const FleetState& s);
/// Parses and validates one state; nullopt and `why` when a field is missing or wrong.
std::optional<FleetState> parse_state(std::string_view json, std::string& why);

/// True when `peer` should replace `mine`: it is a later transition (higher epoch) of the fleet,
/// and not a step whose lease has already run out.
bool should_adopt(const FleetState& mine, const FleetState& peer);

/// A transition's epoch: above every epoch seen on any replica, and not behind the wall clock in
/// milliseconds (so a later coordinator wins even when it saw no replica of the earlier one).
uint64_t next_epoch(uint64_t highest_seen, uint64_t now_unix_ms);

/// One replica's gate inputs for the current step, read from its rollout status.
struct GateReport {
  std::string replica;           // how the coordinator names it (its admin address)
  bool probed = true;            // false before the replica's first probe round: health not known yet
  size_t healthy = 0;            // upstreams of the target pool in rotation, as this replica sees them
  size_t min_healthy = 0;
  double requests = 0;           // calls to the target pool since the step began
  double failures = 0;
  std::vector<uint64_t> buckets;  // cumulative latency histogram of those calls (latency_buckets())
};

struct GateLimits {
  double max_error_ratio = 0.01;
  Duration max_p99{500};
};

/// Why the fleet fails its gates for `pool`, or "" when it passes: any replica with fewer than
/// min_healthy healthy target upstreams fails it (that replica would send traffic to a pool it
/// cannot serve from); the error ratio and p99 are over every replica's calls together, so one
/// replica's handful of calls does not decide for the fleet.
std::string fleet_gate(const std::string& pool, const std::vector<GateReport>& reports, const GateLimits& limits);

}  // namespace nodeops::gateway::fleet
