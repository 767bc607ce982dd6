// Validated live reload of the gateway's config (docs/gateway.md, "Reloading the config").
//
// SIGHUP, or a change of the config file, reads and validates the file with the code that startup
// and `nodeops check-config` use. A config with errors is refused whole (every error logged as
// file:line: key: message) and the running one keeps serving. A valid one is applied chain by
// chain: each changed chain gets a new immutable UpstreamSet (gateway/health.h) in which the
// upstreams whose connection settings did not change are the same objects (health, breaker,
// head, keep-alive connections kept), new ones are probed once before the set is published with
// its verdict, and removed ones live on in the calls still using them.
//
// What cannot change in a running process (listen addresses, threads, the global sections the
// traffic loops and the client gate hold, adding or removing a chain, a chain's type or active
// pool) is not refused: it is logged and reported as "needs a restart", and the rest applies. A
// ConfigMap edit that mixes both then takes effect at once where it can, and completely at the
// next rollout of the pods, instead of holding back an upstream fix behind a listen change.
//
// Threads: everything here runs on the admin loop.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gateway/chain_runtime.h"
#include "gateway/config.h"

namespace nodeops::gateway {

class HealthTracker;

/// @brief What a new config changes compared with the one running: pure, unit-tested.
struct ReloadPlan {
  /// The config to run: the new file's, with what cannot change live kept as it runs.
  GatewayConfig effective;
  /// What applies live, one line each ("chain ethereum: upstream b added").
  std::vector<std::string> changes;
  /// What needs a restart, one line each ("listen", "chain polygon added").
  std::vector<std::string> restart_required;
  /// Problems that refuse the whole reload (as file: key: message).
  std::vector<std::string> errors;
};

/// Compares the running config with a freshly validated one. `path` names the file in errors.
ReloadPlan plan_reload(const GatewayConfig& running, const GatewayConfig& next, const std::string& path);

/// Whether a reload may keep an upstream's object (health, breaker, connections) from `before` to
/// `after`: only its weight or max_inflight changed (both read from the set's config per call), and
/// its chain's type and passive-health settings (its breaker's) are the same.
bool keeps_upstream(const ChainConfig& chain_before, const UpstreamConfig& before, const ChainConfig& chain_after,
                    const UpstreamConfig& after);

/// The set that follows `current` for `config`: kept upstreams are the same objects, others are
/// built with fresh slots (from `next_slot`).
std::shared_ptr<UpstreamSet> next_upstream_set(const UpstreamSet& current, std::shared_ptr<const ChainConfig> config,
                                               size_t chain_index, size_t& next_slot,
                                               const UpstreamFamilies& families);

/// Lowercase hex SHA-256 of `text` (the config file's identity in metrics and logs).
std::string sha256_hex(std::string_view text);

class GatewayMetrics;

/// @brief Reloads the config file on SIGHUP and when the file changes.
///
/// The file is watched by a stat of its resolved path once a second rather than by inotify: a
/// Kubernetes ConfigMap update swaps a `..data` symlink in the mounted directory, which an inotify
/// watch on the file never sees (the watched inode is not written, it is replaced) and one on the
/// directory sees as a burst of events to filter; the resolved path's (path, inode, size, mtime)
/// catches that swap, an editor's rename-over and an in-place write alike, for one realpath and
/// one stat per second. A second of delay is nothing next to the kubelet's own sync period.
///
/// Lifecycle: built after the chains and their trackers, start() before the admin loop runs; lives
/// as long as the admin loop.
class ConfigReloader {
 public:
  enum class Result { applied, rejected, unchanged };

  ConfigReloader(boost::asio::io_context& admin_io, std::string path, const GatewayConfig& running,
                 std::vector<std::unique_ptr<ChainRuntime>>& chains,
                 std::vector<std::unique_ptr<HealthTracker>>& trackers, GatewayMetrics& metrics);
  ~ConfigReloader();

  /// Listens for SIGHUP and starts watching the file.
  void start();
  /// `fn` receives each config applied, on the admin loop: for what takes live settings other than
  /// the chains (the router's request limits).
  void on_applied(std::function<void(const GatewayConfig&)> fn);
  /// Reads, validates and applies the file now; `trigger` is logged (signal, file).
  boost::asio::awaitable<Result> reload(std::string trigger);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace nodeops::gateway
