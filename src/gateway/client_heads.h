// Monotonic reads through a pool: the highest block each client has been served on a chain, so that
// its next reads go to upstreams at or above it and the head it sees never goes backwards, however
// far behind some nodes of the pool are.
//
// Thread-safe (sharded mutexes: every call of every client looks here). Entries expire after
// kIdle without a call; the table is bounded.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace nodeops::gateway {

class ClientHeads {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::minutes kIdle{5};
  static constexpr size_t kMaxClients = 100000;

  /// The highest block served to `client`, if it was served one lately.
  std::optional<uint64_t> get(std::string_view client, Clock::time_point now) const;
  /// `client` has been served data as of `block`.
  void saw(std::string_view client, uint64_t block, Clock::time_point now);

 private:
  struct Entry {
    uint64_t block;
    Clock::time_point at;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Entry> clients;
  };
  Shard& shard(std::string_view client) const;
  mutable std::array<Shard, 16> shards_;
};

}  // namespace nodeops::gateway
