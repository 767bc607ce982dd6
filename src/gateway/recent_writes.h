// Read-your-writes through a pool: which upstream accepted a client's transaction, so that the
// reads that follow it (its receipt, the transaction, the sender's pending nonce) go where it is
// known, until the other upstreams have it too (the gateway also broadcasts it to them).
//
// Thread-safe (one mutex: writes are rare next to reads, and a lookup is a hash probe). Entries
// live `kWindow`; the table is bounded, oldest first out.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace nodeops::gateway {

class RecentWrites {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kWindow{60};
  static constexpr size_t kMaxEntries = 20000;

  /// `client` sent transaction `tx_hash` (lower-case hex, with quotes as in JSON) and `upstream`
  /// accepted it.
  /// `upstream` is its slot (Upstream::slot(): stable across reloads, unlike a position).
  void record(std::string_view client, std::string_view tx_hash, size_t upstream, Clock::time_point now);
  /// The upstream that accepted this transaction, within the window.
  std::optional<size_t> upstream_of_tx(std::string_view tx_hash, Clock::time_point now) const;
  /// The upstream of this client's latest transaction, within the window.
  std::optional<size_t> upstream_of_client(std::string_view client, Clock::time_point now) const;

 private:
  struct Entry {
    size_t upstream;
    Clock::time_point at;
  };
  void trim(Clock::time_point now);

  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> by_tx_, by_client_;
  std::deque<std::pair<std::string, std::string>> order_;  // (tx, client), oldest first
};

}  // namespace nodeops::gateway
