// The gateway's in-process response cache: `result` bytes by canonical call key, bounded in bytes,
// shared by every traffic loop. What may be cached and for how long is decided by the chain rules
// (chains/cache_rules.h) and the router; this file only stores, evicts and coalesces.
//
// Example (the router's hit path):
//   if (auto hit = cache.find(key, now)) reply = jsonrpc::result_reply(call.id, *hit);
//
// Threads: every public member is safe from any thread. The store is split in shards by key hash,
// each behind its own mutex, so loops rarely contend; a hit holds a shard's lock for one hash
// lookup and a shared_ptr copy, and the reply is built outside the lock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <deque>
#include <vector>

namespace nodeops::gateway {

using CacheClock = std::chrono::steady_clock;
using CacheValue = std::shared_ptr<const std::string>;

/// @brief One shard's store with the S3-FIFO policy (Yang et al., SOSP'23). Not thread-safe.
///
/// New keys enter a small FIFO (a tenth of the bytes); at its head, an entry read again since it
/// came in moves to the main FIFO, the rest are evicted and remembered in a ghost list of key
/// hashes. A key found in the ghost list goes straight to main. Main is a FIFO with up to 3
/// second chances (one per read). A scan of keys read once passes through the small FIFO without
/// displacing what is read often: that is the scan resistance LRU lacks.
/// Every entry costs its key, its value and kEntryOverhead bytes; the total stays <= max_bytes.
class S3FifoStore {
 public:
  /// What an entry costs beyond its key and value bytes: the key's and value's heap blocks, the
  /// list node, the map node and bucket, its ghost when evicted. Measured (bench/cache.py's fill):
  /// with 128 here, 64 MiB of tiny entries took 115 MiB of RSS; 256 keeps RSS near max_bytes.
  static constexpr uint64_t kEntryOverhead = 256;

  explicit S3FifoStore(uint64_t max_bytes) : max_bytes_(max_bytes) {}

  /// The value, or null when absent or expired (an expired entry is dropped then).
  CacheValue find(std::string_view key, CacheClock::time_point now);
  /// Stores `value` under `key` (replacing an older value), expiring at `expires` when set.
  /// Returns false when the entry alone is larger than max_bytes.
  bool insert(std::string key, CacheValue value, std::optional<CacheClock::time_point> expires);

  uint64_t bytes() const { return bytes_; }
  size_t entries() const { return index_.size(); }
  uint64_t evictions() const { return evictions_; }

 private:
  struct Entry {
    std::string key;
    CacheValue value;
    uint64_t bytes;
    CacheClock::time_point expires;  // max() when it never expires
    uint8_t freq = 0;                // reads since it entered its queue, capped at 3
    bool main = false;
  };
  using Queue = std::list<Entry>;
  void make_room(CacheClock::time_point now);
  void evict_small(CacheClock::time_point now);  // expired entries go first, whatever their reads
  void evict_main(CacheClock::time_point now);
  void erase(Queue::iterator it, bool evicted);
  void remember_ghost(const std::string& key);

  uint64_t max_bytes_;
  uint64_t bytes_ = 0;
  uint64_t small_bytes_ = 0;
  uint64_t evictions_ = 0;
  Queue small_, main_;
  std::unordered_map<std::string_view, Queue::iterator> index_;  // views into Entry::key
  std::deque<std::pair<size_t, uint64_t>> ghost_order_;           // (key hash, sequence), oldest first
  std::unordered_map<size_t, uint64_t> ghost_;                    // key hash -> sequence of its newest slot
  uint64_t ghost_seq_ = 0;
};

/// @brief Calls in flight by key, so identical calls at once share one upstream request.
/// The first caller of a key leads: it calls the upstream and finish()es with the result; callers
/// that join meanwhile wait on their own loop and take the leader's result (or, if it has none to
/// share, call the upstream themselves).
class Flights {
 public:
  struct Flight {
    std::mutex mu;
    bool done = false;
    CacheValue result;  // null: the leader has nothing to share (an error, an uncacheable answer)
    std::vector<std::function<void()>> waiters;
  };
  /// The flight of `key`, and whether the caller leads it.
  std::pair<std::shared_ptr<Flight>, bool> join(const std::string& key);
  /// Ends the flight the caller leads: wakes every waiter and forgets the key.
  void finish(const std::string& key, const std::shared_ptr<Flight>& flight, CacheValue result);
  /// Registers `wake` (run from the leader's thread; it must post to the waiter's own loop) unless
  /// the flight is already done; returns whether it is done.
  static bool wait(Flight& flight, std::function<void()> wake);
  /// Callers waiting on the flight of `key` now (0 when none is in flight).
  size_t waiting(const std::string& key);

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;
};

/// @brief The sharded store plus the in-flight table; one per gateway process.
class ResponseCache {
 public:
  struct Options {
    uint64_t max_bytes;
    uint64_t max_entry_bytes;
    size_t shards = 16;
  };
  explicit ResponseCache(const Options& options);

  CacheValue find(std::string_view key, CacheClock::time_point now);
  /// False when the entry is over max_entry_bytes (or its shard's share of max_bytes).
  bool insert(std::string key, CacheValue value, std::optional<CacheClock::time_point> expires);
  Flights& flights() { return flights_; }

  uint64_t bytes() const;
  uint64_t entries() const;
  uint64_t evictions() const;

 private:
  struct Shard {
    mutable std::mutex mu;
    S3FifoStore store;
    explicit Shard(uint64_t max) : store(max) {}
  };
  Shard& shard_of(std::string_view key);

  Options options_;
  std::vector<std::unique_ptr<Shard>> shards_;
  Flights flights_;
};

}  // namespace nodeops::gateway
