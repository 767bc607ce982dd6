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
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/units.h"
#include "gateway/chain_runtime.h"
#include "gateway/metrics.h"

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
  /// JSON of one chain's rollout state; nullopt for an unknown chain.
  std::optional<std::string> status_json(const std::string& chain) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace nodeops::gateway
