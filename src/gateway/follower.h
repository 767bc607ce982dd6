// The chain as the gateway sees it, block by block: a per-chain follower that walks the canonical
// chain from the pool's best head with eth_getBlockByNumber(n, false), keeps a bounded window of
// recent canonical blocks (number, hash, parentHash), notices reorgs by a parent-hash mismatch
// (walking back until the new chain joins the window) and publishes what changed as an immutable
// log of events: "block added" (number, hash) and "block removed".
//
// Consumers: the emulated filters (gateway/filters.h) read the log at each poll with a cursor of
// their own. The WebSocket `newHeads`/`logs` subscriptions (gateway/subscriptions.h) read the same
// log: each feed keeps a cursor too and is woken by `on_step` after each step; added events carry
// the block's header object (what `newHeads` sends), removed events are what `logs` subscriptions
// send as `"removed": true`. Nothing here knows filters or subscriptions.
//
// Threads: step() and the run loop live on the admin loop (like the health tracker); events() is
// read from any thread without locks (an atomic shared_ptr to an immutable snapshot);
// ensure_running() may be called from any thread.
// Lifecycle: built once per chain with the gateway; runs only while its `wanted` predicate holds
// (started lazily by ensure_running(), it stops itself when nobody wants it, so an idle gateway
// does no extra work). Sequence numbers only grow, across restarts too.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/units.h"

namespace nodeops::gateway {

struct ChainRuntime;
class UpstreamClient;

using BlockHash = std::array<uint8_t, 32>;
/// "0x" and 64 hex digits (either case), else nullopt.
std::optional<BlockHash> parse_block_hash(std::string_view hex);
/// "0x" and 64 lower-case hex digits.
std::string hash_hex(const BlockHash& hash);

struct BlockHeader {
  uint64_t number = 0;
  BlockHash hash{};
  BlockHash parent{};
  /// The header object as the node returned it (geth's newHeads shape: the block without its
  /// transactions, uncles, withdrawals, size and totalDifficulty); null when not kept.
  std::shared_ptr<const std::string> json;
};

/// @brief One change of the canonical chain. A reorg publishes the removed blocks (lowest first)
/// and then the new ones (lowest first), as one step.
struct ChainEvent {
  enum class Kind : uint8_t { added, removed };
  Kind kind = Kind::added;
  uint64_t number = 0;
  BlockHash hash{};
  /// Added blocks: the header object (BlockHeader::json), what `newHeads` subscribers are sent.
  std::shared_ptr<const std::string> header;
};

/// @brief An immutable snapshot of the follower's recent events: sequence numbers
/// [first_seq, end_seq()). Older events have been dropped (a consumer whose cursor is below
/// first_seq has missed some and should say so).
struct ChainEvents {
  uint64_t first_seq = 0;
  std::vector<ChainEvent> events;
  /// The canonical tip the follower holds, if it holds one.
  std::optional<BlockHeader> head;

  uint64_t end_seq() const { return first_seq + events.size(); }
  /// The events from `seq` on (from first_seq when seq is older).
  std::span<const ChainEvent> since(uint64_t seq) const;
};

/// @brief Where blocks come from. Production asks the chain's healthy upstreams; tests use a fake.
class BlockSource {
 public:
  virtual ~BlockSource() = default;
  /// The canonical block `number` as some node sees it now; nullopt when no node answered with
  /// one (not there yet, or every node failed).
  virtual boost::asio::awaitable<std::optional<BlockHeader>> block(uint64_t number) = 0;
  /// How often the source has moved to another node because the one it used failed (the
  /// subscriptions' "feed restarts"); 0 for sources that do not choose.
  virtual uint64_t switches() const { return 0; }
};

/// @brief Asks the chain's healthy upstreams, sticking to one while it answers (nodes of one pool
/// may briefly disagree about the tip: switching between them at every call would look like
/// reorgs), the one with the highest head first, others on failure. Admin loop only.
class UpstreamBlockSource final : public BlockSource {
 public:
  UpstreamBlockSource(ChainRuntime& chain, UpstreamClient& client, Duration timeout);
  boost::asio::awaitable<std::optional<BlockHeader>> block(uint64_t number) override;
  uint64_t switches() const override { return switches_; }

 private:
  ChainRuntime& chain_;
  UpstreamClient& client_;
  Duration timeout_;
  std::optional<size_t> sticky_;
  uint64_t next_id_ = 1;
  uint64_t switches_ = 0;
};

/// Parses an eth_getBlockByNumber result (raw JSON); nullopt for null or anything malformed.
/// The header object (BlockHeader::json) is kept too.
std::optional<BlockHeader> parse_block_header(std::string_view result);

class ChainFollower {
 public:
  struct Options {
    size_t window_blocks = 128;        // canonical blocks kept; a reorg deeper than this starts over
    size_t max_events = 4096;          // events kept in the published log
    size_t max_blocks_per_step = 256;  // a step that has more to catch up continues at the next one
  };
  /// What the run loop reports after each step (metrics; the follower owns no registry).
  struct StepReport {
    std::optional<uint64_t> head;
    size_t reorgs = 0;          // reorgs seen in this step
    size_t removed_blocks = 0;  // blocks they removed
    bool running = true;        // false once, when the follower stops
    size_t backfilled = 0;      // blocks added below the step's target: a gap filled in order
    uint64_t source_switches = 0;  // times the block source moved to another node in this step
  };
  using Listener = std::function<void(const StepReport&)>;

  explicit ChainFollower(Options options);
  ChainFollower() : ChainFollower(Options{}) {}

  /// The latest published events; lock-free, any thread.
  std::shared_ptr<const ChainEvents> events() const { return published_.load(std::memory_order_acquire); }

  /// One step: from the tip towards `target` (the pool's best head), through `source`. The first
  /// step takes block `target` as the starting point and publishes no event for it. A fetch that
  /// fails ends the step with what was complete; nothing half-done is published.
  boost::asio::awaitable<StepReport> step(BlockSource& source, uint64_t target);
  /// Forgets the window (the run loop stopped); published sequence numbers keep growing.
  void reset();

  /// Runs steps on `io` while `wanted()` holds, each `interval` (and at once when the chain's
  /// health snapshot shows a new head). `on_step` runs after each step on `io`. Any thread; a
  /// second call while running does nothing.
  void ensure_running(boost::asio::io_context& io, ChainRuntime& chain, BlockSource& source, Duration interval,
                      std::function<bool()> wanted, Listener on_step);
  bool running() const { return running_.load(); }
  /// A client has been served block `number`: step towards it now, even before the health probes
  /// report it, so that its next filter poll can include it. Any thread.
  void want(uint64_t number);

 private:
  void publish(std::vector<ChainEvent> fresh);
  boost::asio::awaitable<void> run(boost::asio::io_context& io, ChainRuntime& chain, BlockSource& source,
                                   Duration interval, std::function<bool()> wanted, Listener on_step);

  Options options_;
  std::deque<BlockHeader> window_;  // admin loop only; lowest first
  std::atomic<std::shared_ptr<const ChainEvents>> published_;
  std::atomic<bool> running_{false};
  std::atomic<uint64_t> wanted_{0};                    // the highest block asked for by want()
  std::atomic<boost::asio::io_context*> io_{nullptr};  // where the run loop lives, once started
  /// The run loop's sleep (admin loop only). Owned by the run coroutine's frame, which can outlive
  /// this object at shutdown (the admin loop destroys it later): so a weak reference, never written back.
  std::weak_ptr<boost::asio::steady_timer> timer_;
};

}  // namespace nodeops::gateway
