// The local stack's block producer: one follower thread per anvil node keeps every pool in
// lockstep (see lockstep.h for how and why). `nodeops up` starts it after the nodes and stops it
// before them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/units.h"
#include "stack/lockstep.h"

namespace nodeops::stack {

/// One chain's nodes and their schedule.
struct MinedPool {
  std::string chain;
  BlockSchedule schedule;
  std::vector<std::pair<std::string, uint16_t>> nodes;  // name, port on 127.0.0.1
};

/// @brief Mines every pool in lockstep until stopped.
/// Lifecycle: construct, start() spawns one thread per node, stop() (or the destructor) wakes and
/// joins them. Each thread owns its clients (its node's and its peers'); the only thing the threads
/// share is the stop flag. Modes are read from `control_dir` on every tick.
class LockstepMiner {
 public:
  LockstepMiner(std::vector<MinedPool> pools, std::filesystem::path control_dir, Duration call_timeout);
  ~LockstepMiner();
  LockstepMiner(const LockstepMiner&) = delete;
  LockstepMiner& operator=(const LockstepMiner&) = delete;

  void start();
  void stop();

 private:
  void follow(const MinedPool& pool, size_t index);

  std::vector<MinedPool> pools_;
  std::filesystem::path control_dir_;
  Duration call_timeout_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;                   // under mutex_, for the wait
  std::atomic<bool> stopping_flag_{false};  // read by followers mid-replay
};

}  // namespace nodeops::stack
