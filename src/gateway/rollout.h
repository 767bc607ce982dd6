// Blue/green switches of a chain's traffic between upstream pools, with health gates and
// automatic rollback. Runs on the admin loop; traffic loops only see the TrafficSplit snapshots
// it publishes.
//
// A switch from the active pool to `to`:
//   refused  unless `to` has at least min_healthy upstreams in rotation (synced, within lag);
//   shifting traffic moves in steps (e.g. 10, 50, 100 percent), each held for `bake` while the
//            target pool is watched: healthy upstreams >= min_healthy, transport error ratio <=
//            max_error_ratio, p99 <= max_p99 over the step so far;
//   completed after the last step's bake: `to` becomes the active pool;
//   rolled_back when a gate fails (within one check interval): all traffic back to the old pool;
//   aborted  on request: all traffic back to the old pool.
// Every transition is logged, exported, and persisted to state_file, so a restarted gateway keeps
// a completed switch and undoes one that was in flight.
//
// Two ways to run a switch:
//   replica-driven  POST /admin/rollout: this replica steps on its own clock and checks every gate
//                   itself (one gateway, `nodeops rollout switch --no-wait`);
//   coordinated     POST /admin/rollout/fleet (rollout_fleet.h): `nodeops rollout switch` sets every
//                   replica to the same step, renews each step's lease, gates on the fleet's figures
//                   and rolls every replica back when a gate fails. The replica only checks that its
//                   target pool keeps min_healthy upstreams, and rolls back on its own when the lease
//                   runs out (the coordinator died). With rollout.peers set, the replica asks its
//                   peers for the fleet's state at start-up and every sync_interval and adopts a
//                   later transition (rollout_fleet.h: the higher epoch), so a replica that starts
//                   during or after a switch joins it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/units.h"
#include "gateway/chain_runtime.h"
#include "gateway/metrics.h"
#include "gateway/rollout_fleet.h"

namespace nodeops::gateway {

struct RolloutPlan {
  std::string to;
  std::vector<double> steps{10, 50, 100};
  Duration bake{60000};
  double max_error_ratio = 0.01;
  Duration max_p99{500};
};

struct RolloutStatus {
  std::string phase = "idle";  // idle | shifting | completed | rolled_back | aborted
  std::string from, to;
  double percent = 0;          // share of traffic on `to`
  size_t step = 0;             // index into plan.steps
  std::string reason;          // why it rolled back, aborted or was refused
  RolloutPlan plan;
  int64_t updated_unix = 0;
  // Coordinated switches only (epoch 0: never coordinated on this replica).
  uint64_t epoch = 0;
  std::string switch_id;
  bool coordinated = false;
  Duration lease{0};
  std::chrono::steady_clock::time_point lease_until{};
};

class RolloutManager {
 public:
  RolloutManager(boost::asio::io_context& io, std::vector<std::unique_ptr<ChainRuntime>>& chains,
                 GatewayMetrics& metrics, std::string state_file);
  ~RolloutManager();

  /// Restores persisted state: completed switches stay, in-flight ones are rolled back.
  void restore();
  /// Starts a switch; returns the refusal reason, or nullopt when it started.
  std::optional<std::string> start(const std::string& chain, RolloutPlan plan);
  /// Moves all traffic back to the pool the running switch started from.
  std::optional<std::string> abort(const std::string& chain);
  /// JSON of one chain's rollout state; nullopt for an unknown chain. While shifting, `gate` holds
  /// the target pool's figures since the step began (what a coordinator gates the fleet on).
  std::optional<std::string> status_json(const std::string& chain) const;

  /// Applies a coordinated transition (from the coordinator, or a peer's when `from_peer`): a
  /// later epoch replaces this replica's state, the same epoch renews a shifting step's lease.
  /// Returns why it was refused (stale epoch, target pool unhealthy, replica left the switch).
  std::optional<std::string> apply_fleet(const fleet::FleetState& state, bool from_peer = false);
  /// Every chain's coordinated state with what remains of its lease, and this process's instance
  /// id (so a replica recognises its own answer among its peers'): GET /admin/rollout/fleet.
  std::string fleet_json() const;
  /// Asks `peers` (admin addresses, each name resolved to every address) for their fleet state now
  /// and every `interval`, authenticating with `token`, and adopts any later transition.
  void start_peer_sync(std::vector<HostPort> peers, Duration interval, std::string token);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace nodeops::gateway
