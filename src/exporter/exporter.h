// The exporter: probes each target on an interval, turns what it learns into metrics, and answers
// Kubernetes probes (/ready, /live) from the same state.
//
// Lifecycle and threads: everything — probe loops, the HTTP server, health state — lives on one
// io_context run by one thread, so state needs no lock. Only the disk walker (DiskWatcher) runs on
// its own thread and touches nothing but its gauges. run_exporter() owns the whole lifetime.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chains/adapter.h"
#include "chains/prober.h"
#include "core/http.h"
#include "core/metrics.h"
#include "exporter/config.h"
#include "exporter/disk.h"
#include "exporter/health.h"
#include "exporter/metrics.h"

namespace nodeops::exporter {

/// @brief Probe loops plus the /metrics, /ready, /live, /healthz server, on one io_context.
class Exporter {
 public:
  /// `options` must have passed finalize().
  Exporter(boost::asio::io_context& loop, ExporterOptions options);
  ~Exporter();
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  /// Binds the listen address (throws std::system_error when it cannot) and starts probing.
  void start();
  /// Stops accepting; probe loops end with the io_context.
  void stop();
  uint16_t port() const;

  /// Answers one request (exposed for tests; the server calls it).
  http::Response handle(const http::Request& request);

 private:
  struct Target {
    TargetOptions options;
    std::unique_ptr<chains::Adapter> adapter;
    std::unique_ptr<chains::Prober> prober;
    TargetHealth health;
    HealthLimits limits;
    std::string last_logged;  // the last state logged, to log changes only
    // solana only, when peers_interval > 0: the slow gossip probe (getClusterNodes)
    std::unique_ptr<chains::Adapter> gossip_adapter;
    std::unique_ptr<chains::Prober> gossip_prober;
    std::string gossip_logged;
  };
  struct Reference {
    std::string type;
    std::unique_ptr<chains::Adapter> adapter;
    std::unique_ptr<chains::Prober> prober;
    chains::NodeStatus last;
  };

  boost::asio::awaitable<void> probe_loop(Target& target);
  boost::asio::awaitable<void> reference_loop();
  /// Every peers_interval: a solana target's peer count from getClusterNodes, bounded by
  /// peers_timeout and peers_max_bytes; on its own loop so it never delays the health probe.
  boost::asio::awaitable<void> gossip_loop(Target& target);
  std::optional<uint64_t> lag_of(const Target& target) const;
  /// Recomputes ready/live/lag/age gauges of every target for `now`.
  void refresh_health();
  http::Response verdict(std::string_view target_name, bool ready);

  boost::asio::io_context& loop_;
  ExporterOptions options_;
  metrics::Registry registry_;
  ExporterMetrics metrics_;
  std::vector<std::unique_ptr<Target>> targets_;
  std::optional<Reference> reference_;
  std::unique_ptr<http::Server> server_;
  std::vector<std::unique_ptr<DiskWatcher>> disks_;  // one per data dir
};

/// @brief Runs the exporter until SIGINT or SIGTERM; returns the process exit code (0 then,
/// 1 when the listen address cannot be bound). `options` must have passed finalize().
int run_exporter(const ExporterOptions& options);

}  // namespace nodeops::exporter
