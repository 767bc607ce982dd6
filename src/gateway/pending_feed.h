// A chain's pending-transaction hashes, best effort: one pending-transaction filter installed on a
// healthy node (eth_newPendingTransactionFilter) and polled with eth_getFilterChanges. When the
// node fails, leaves rotation or forgets the filter, the filter is installed again on the best
// healthy node (a feed restart); hashes that node saw while no filter was installed are not seen.
// The gateway has no mempool of its own: this is the one place it learns of pending transactions.
//
// Consumers (both through FilterService): the `newPendingTransactions` WebSocket subscriptions
// (gateway/subscriptions.h) and the emulated pending-transaction filters (gateway/filters.h). One
// feed per chain serves both: a node holds one filter of the gateway's, however many clients.
//
// Threads: the run loop lives on the admin loop; ensure_running(), running() and live() may be
// called from any thread.
// Lifecycle: one per chain, built with the gateway; runs only while its `wanted` predicate holds
// (started lazily, it uninstalls its upstream filter and stops itself when nobody wants it).
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/units.h"

namespace nodeops::gateway {

struct ChainRuntime;
class UpstreamClient;

/// Which upstream answered a call_healthy(): its never-reused slot and its name.
struct Answered {
  size_t slot = 0;
  std::string upstream;
};

/// One JSON-RPC call from the admin loop to the healthy upstreams of `chain` (best head first, up
/// to 3; only the one with slot `only` when given): the raw `result`, or nullopt when none
/// answered with one. `answered` (when given) receives the upstream that answered.
boost::asio::awaitable<std::optional<std::string>> call_healthy(UpstreamClient& client, ChainRuntime& chain,
                                                                Duration timeout, uint64_t& next_id,
                                                                std::string_view method, std::string params,
                                                                std::optional<size_t> only, Answered* answered);

/// The hashes of an eth_getFilterChanges result of a pending-transaction filter, as JSON strings
/// in lower case ("\"0x..\""), in the node's order; items that are not 32-byte hashes are skipped.
/// nullopt when the result is not an array (the node forgot the filter, or answered nonsense).
std::optional<std::vector<std::string>> pending_hashes(std::string_view result);

class PendingFeed {
 public:
  /// One upstream call, as call_healthy() makes it (tests pass a fake).
  using Call = std::function<boost::asio::awaitable<std::optional<std::string>>(
      std::string_view method, std::string params, std::optional<size_t> only, Answered* answered)>;
  /// What one turn of the run loop brought (the feed owns no metrics: its listener counts).
  struct Batch {
    std::vector<std::string> hashes;  // new pending transactions, as pending_hashes() gives them
    bool restarted = false;           // the upstream filter was installed again after a failure
    bool running = true;              // false once, when the feed stops
  };
  using Listener = std::function<void(const Batch&)>;

  /// Runs the feed on `io` while `wanted()` holds, polling each `interval`; `on_batch` runs on
  /// `io` for every batch with hashes, a restart, or the stop. Any thread; a second call while
  /// running does nothing.
  void ensure_running(boost::asio::io_context& io, std::string chain_name, Call call, Duration interval,
                      std::function<bool()> wanted, Listener on_batch);
  bool running() const { return running_.load(); }
  /// Whether an upstream filter is installed now (what a node sees from here on is delivered).
  bool live() const { return live_.load(); }

 private:
  boost::asio::awaitable<void> run(boost::asio::io_context& io, std::string chain_name, Call call, Duration interval,
                                   std::function<bool()> wanted, Listener on_batch);

  std::atomic<bool> running_{false};
  std::atomic<bool> live_{false};
};

}  // namespace nodeops::gateway
