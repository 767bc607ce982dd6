#include "stack/lockstep_miner.h"

#include <chrono>

#include "core/log.h"
#include "stack/anvil_rpc.h"

namespace nodeops::stack {

LockstepMiner::LockstepMiner(std::vector<MinedPool> pools, std::filesystem::path control_dir, Duration call_timeout)
    : pools_(std::move(pools)), control_dir_(std::move(control_dir)), call_timeout_(call_timeout) {}

LockstepMiner::~LockstepMiner() { stop(); }

void LockstepMiner::start() {
  for (const auto& pool : pools_) {
    for (size_t i = 0; i < pool.nodes.size(); ++i) threads_.emplace_back([this, &pool, i] { follow(pool, i); });
  }
}

void LockstepMiner::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    stopping_flag_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void LockstepMiner::follow(const MinedPool& pool, size_t index) {
  using Clock = std::chrono::system_clock;
  const auto& [name, port] = pool.nodes[index];
  auto node = make_anvil_rpc(port, call_timeout_);
  std::vector<std::unique_ptr<NodeRpc>> peer_clients;
  std::vector<LockstepFollower::Peer> peers;
  for (size_t j = 0; j < pool.nodes.size(); ++j) {
    if (j == index) continue;
    // Peers get half the deadline: a frozen peer costs the others less of their tick.
    peer_clients.push_back(make_anvil_rpc(pool.nodes[j].second, call_timeout_ / 2));
    peers.push_back({pool.nodes[j].first, peer_clients.back().get(), j});
  }
  LockstepFollower follower(
      name, index, pool.schedule, *node, std::move(peers),
      [this](const std::string& n) { return read_node_mode(control_dir_, n); },
      [this] { return stopping_flag_.load(); });
  auto last = SyncOutcome::Kind::mined;
  bool answered = false;
  for (;;) {
    auto now = static_cast<uint64_t>(Clock::to_time_t(Clock::now()));
    uint64_t target = pool.schedule.height_at(now);
    auto out = follower.sync(target);
    // Log what changes, not every tick: a frozen node is reported once, not once a second.
    using Kind = SyncOutcome::Kind;
    bool steady = out.kind == Kind::mined || out.kind == Kind::in_sync;
    if (!answered && out.kind != Kind::unreachable) {  // before that it is still starting
      answered = true;
      log::info("node mined in lockstep", {{"node", name},
                                           {"chain", pool.chain},
                                           {"head", out.head_after},
                                           {"block_time_seconds", pool.schedule.block_time_seconds}});
    } else if (out.kind == Kind::caught_up || out.kind == Kind::reorged) {
      log::info(out.kind == Kind::reorged ? "node reorged onto its pool's chain"
                                          : "node caught up with its pool by replaying blocks",
                {{"node", name},
                 {"chain", pool.chain},
                 {"from", out.head_before},
                 {"to", out.head_after},
                 {"rolled_back", out.rolled_back},
                 {"replayed", out.replayed},
                 {"peer", out.peer}});
    } else if (answered && !steady && out.kind != last) {
      // A paused or unreachable node's head was not read: no number rather than a wrong one.
      if (out.kind == Kind::paused || out.kind == Kind::unreachable) {
        log::warn("node not mined in lockstep",
                  {{"node", name}, {"chain", pool.chain}, {"reason", to_string(out.kind)}, {"pool_height", target}});
      } else {
        log::warn("node not mined in lockstep", {{"node", name},
                                                 {"chain", pool.chain},
                                                 {"reason", to_string(out.kind)},
                                                 {"head", out.head_after},
                                                 {"pool_height", target}});
      }
    } else if (answered && steady && last != Kind::mined) {
      log::info("node mined in lockstep again", {{"node", name}, {"chain", pool.chain}, {"head", out.head_after}});
    }
    last = steady || out.kind == Kind::caught_up || out.kind == Kind::reorged ? Kind::mined : out.kind;
    // Wake just after the next block is due (all followers of a pool wake together), or within a
    // second to notice a restarted or resumed node sooner on slow chains.
    auto due =
        Clock::from_time_t(static_cast<time_t>(pool.schedule.timestamp_of(target + 1))) + std::chrono::milliseconds(20);
    auto wake_at = std::min(due, Clock::now() + std::chrono::seconds(1));
    std::unique_lock lock(mutex_);
    if (wake_.wait_until(lock, wake_at, [this] { return stopping_; })) return;
  }
}

}  // namespace nodeops::stack
