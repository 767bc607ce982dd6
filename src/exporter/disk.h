// eth_disk_* for one volume of the node: filesystem size, free and available space (statvfs) and the bytes
// used under the directory (a bounded walk, like `du -s`). The walk can take seconds on a large
// chain database, so it runs on its own thread, never on the event loop that answers probes.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "core/units.h"
#include "exporter/metrics.h"

namespace nodeops::exporter {

/// Measures `dir` now. The walk stops after `max_entries` files; then used_bytes stays unset
/// rather than reporting a partial sum.
DiskUsage measure_disk(const std::string& dir, uint64_t max_entries = 5'000'000);

/// @brief Measures a directory every `period` on a background thread and hands the result to
/// `sink` (from that thread). Stops and joins in the destructor.
class DiskWatcher {
 public:
  DiskWatcher(std::string dir, Duration period, std::function<void(const DiskUsage&)> sink);
  ~DiskWatcher();
  DiskWatcher(const DiskWatcher&) = delete;
  DiskWatcher& operator=(const DiskWatcher&) = delete;

 private:
  void run();

  std::string dir_;
  Duration period_;
  std::function<void(const DiskUsage&)> sink_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace nodeops::exporter
