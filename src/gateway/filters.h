// Filters emulated by the gateway, so that a filter outlives any node of the pool: eth_newFilter,
// eth_newBlockFilter, eth_newPendingTransactionFilter, eth_getFilterChanges, eth_getFilterLogs and
// eth_uninstallFilter are answered here, from the chain's block follower (gateway/follower.h) and
// eth_getLogs calls routed like any client call (selection, retries, breakers apply).
//
//   - A block filter's changes are the hashes of the blocks the follower added since the last
//     poll, in order.
//   - A log filter's changes are the logs of those blocks (eth_getLogs by blockHash with the
//     filter's address and topics, fromBlock/toBlock applied to the block number); when a reorg
//     removes a block whose logs were delivered, they come again with "removed": true before the
//     new chain's logs (geth's semantics).
//   - A pending-transaction filter's changes are the hashes the chain's pending feed
//     (gateway/pending_feed.h: an upstream pending filter polled, best effort) brought since the
//     last poll, in order; at most Filter::kMaxOps are kept per filter (the oldest go first).
//     The feed runs while a pending filter or a newPendingTransactions subscription exists.
//
// Filter ids are 16 random bytes (OpenSSL's RAND_bytes), as a quantity ("0x", no leading zero).
// A filter not polled for filters.timeout is removed; counts are capped per client and in total.
//
// Threads: serve() runs on any traffic loop; the table is shared behind a mutex, each filter has
// its own. The followers and the expiry sweep run on the admin loop.
#pragma once

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/jsonrpc.h"
#include "core/metrics.h"
#include "gateway/config.h"
#include "gateway/follower.h"
#include "gateway/metrics.h"
#include "gateway/pending_feed.h"

namespace nodeops::gateway {

struct ChainRuntime;
class UpstreamClient;

enum class FilterKind : uint8_t { block, logs, pending };
constexpr std::array<const char*, 3> kFilterKindNames = {"block", "logs", "pending"};

/// @brief eth_newFilter's criteria: what eth_getLogs is asked (address, topics as JSON) and the
/// block bounds applied to changes.
struct LogCriteria {
  std::string address;                           // raw JSON (a string or an array), "" when absent
  std::string topics;                            // raw JSON array, "" when absent
  std::optional<uint64_t> from_block, to_block;  // unset for latest/pending/safe/finalized or absent
  std::string raw;                               // the criteria object, for eth_getFilterLogs

  /// eth_getLogs params for the logs of one block.
  std::string params_for(const BlockHash& block) const;
  bool covers(uint64_t number) const {
    return (!from_block || number >= *from_block) && (!to_block || number <= *to_block);
  }
};
/// Parses eth_newFilter's params (`[{...}]`); the error message for -32602 otherwise.
std::variant<LogCriteria, std::string> parse_log_criteria(std::string_view params);

/// @brief What a log filter still owes its poller, in order: the logs of a block to fetch, or the
/// logs delivered for a block that a reorg removed.
struct FilterOp {
  ChainEvent::Kind kind;
  uint64_t number;
  BlockHash hash;
};

/// @brief One installed filter. `mu` guards everything below it.
struct Filter {
  static constexpr size_t kMaxOps = 4096;                   // pending ops kept; the oldest go first
  static constexpr size_t kMaxRememberedBytes = 256 << 10;  // delivered logs kept for removals

  struct Delivered {
    uint64_t number;
    BlockHash hash;
    std::vector<std::string> logs;  // raw log objects as delivered
  };

  FilterKind kind = FilterKind::block;
  size_t chain = 0;
  std::string client;
  LogCriteria criteria;  // logs only

  std::mutex mu;
  uint64_t cursor = 0;  // the follower's next event this filter has not absorbed
  std::chrono::steady_clock::time_point last_poll;
  bool polling = false;  // a poll is fetching logs; a concurrent poll of the same id gets []
  std::deque<FilterOp> ops;
  std::deque<Delivered> delivered;
  size_t delivered_bytes = 0;
  std::deque<std::string> hashes;  // pending filters: transaction hashes (JSON strings) not yet polled

  /// Moves the events since `cursor` into `ops` (a removal cancels an add not yet delivered);
  /// returns how many changes were lost (events older than the log holds, ops over kMaxOps).
  size_t absorb(const ChainEvents& events);
  /// The block hashes added since `cursor` (block filters); lost events counted in `lost`.
  std::vector<BlockHash> take_blocks(const ChainEvents& events, size_t& lost);
  /// Queues pending-transaction hashes for the next poll; returns how many were lost (the oldest,
  /// over kMaxOps).
  size_t add_hashes(const std::vector<std::string>& fresh);
  /// Records the logs delivered for a block, forgetting blocks below `keep_from` and the oldest
  /// ones over kMaxRememberedBytes.
  void remember(uint64_t number, const BlockHash& hash, std::vector<std::string> logs, uint64_t keep_from);
  /// The logs delivered for a removed block, marked "removed": true (and forgotten); nullopt when
  /// the block's delivery was forgotten.
  std::optional<std::vector<std::string>> unremember(const BlockHash& hash);
};

/// A log object with "removed": true.
std::string mark_removed(std::string_view log);
/// The logs of one eth_getLogs-by-blockHash result that belong to that block, as raw objects;
/// nullopt when the result is not an array of log objects of that block (a node on another fork).
std::optional<std::vector<std::string>> logs_of_block(std::string_view result, const BlockHash& block);

/// @brief The installed filters of every chain: ids, expiry and the caps. Thread-safe.
class FilterTable {
 public:
  using Clock = std::chrono::steady_clock;
  struct Limits {
    size_t max_per_client = 100;
    size_t max_total = 10000;
    Duration timeout{300000};
  };
  enum class Refusal { per_client, total };

  explicit FilterTable(Limits limits) : limits_(limits) {}
  /// A new id for `filter`, or why not.
  std::variant<std::string, Refusal> install(std::shared_ptr<Filter> filter, Clock::time_point now);
  /// The filter when it exists and has not expired; `poll` resets its expiry.
  std::shared_ptr<Filter> find(std::string_view id, Clock::time_point now, bool poll);
  std::shared_ptr<Filter> uninstall(std::string_view id);
  /// Removes every filter not polled for the timeout; returns them.
  std::vector<std::shared_ptr<Filter>> expire(Clock::time_point now);
  size_t count_of_chain(size_t chain) const;
  /// The installed filters of `chain` of one kind (expired ones too, until the sweep).
  std::vector<std::shared_ptr<Filter>> of_chain(size_t chain, FilterKind kind) const;
  const Limits& limits() const { return limits_; }

 private:
  Limits limits_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Filter>> by_id_;
  std::unordered_map<std::string, size_t> per_client_;
};

/// A new filter id: 16 random bytes as a quantity.
std::string new_filter_id();

/// @brief The answer to one filter call and how it counts in nodeops_gateway_requests_total.
struct FilterReply {
  std::string reply;
  Outcome outcome = Outcome::ok;
};

/// @brief The filter methods of every evm chain: the table, a follower per chain, and their metrics.
/// Lifecycle: built with the gateway, before traffic; lives until it stops.
class FilterService {
 public:
  /// The result of an eth_getLogs routed for a filter: the reply to the client's call, and the
  /// `result` bytes when the node answered with one.
  struct Fetched {
    std::string reply;
    std::optional<std::string> result;
  };
  /// Routes eth_getLogs with these params like a client call of the same request.
  using LogFetch = std::function<boost::asio::awaitable<Fetched>(std::string params)>;

  FilterService(const GatewayConfig& config, std::vector<std::unique_ptr<ChainRuntime>>& chains,
                metrics::Registry& registry, boost::asio::io_context& admin_io);
  ~FilterService();

  /// Whether `method` is a filter method this service answers.
  static bool handles(std::string_view method);

  /// The other reader of the followers: the WebSocket subscriptions (gateway/subscriptions.h).
  /// `wanted(chain)` keeps a chain's follower running besides its filters; `on_step(chain, report)`
  /// runs on the admin loop after each of its steps. Set once, before traffic.
  /// `pending_wanted(chain)` keeps the chain's pending feed running besides its pending filters;
  /// `on_pending(chain, batch)` receives each of its batches (admin loop).
  struct PushConsumer {
    std::function<bool(size_t chain)> wanted;
    std::function<void(size_t chain, const ChainFollower::StepReport&)> on_step;
    std::function<bool(size_t chain)> pending_wanted;
    std::function<void(size_t chain, const PendingFeed::Batch&)> on_pending;
  };
  void set_push_consumer(PushConsumer consumer) { push_ = std::move(consumer); }
  /// Starts `chain`'s follower if it is not running (any thread); it runs while filters or the
  /// push consumer want it. No-op for a chain that is not evm.
  void follow(ChainRuntime& chain);
  /// Starts `chain`'s pending-transaction feed if it is not running (any thread); it runs while
  /// pending filters or the push consumer want it. No-op for a chain that is not evm.
  void follow_pending(ChainRuntime& chain);
  PendingFeed& pending(size_t chain);
  /// The chain's follower (its events are read from any thread; tests step it with a fake source).
  ChainFollower& follower(size_t chain);
  /// The admin loop's upstream client (subscriptions' own upstream calls go through it).
  UpstreamClient& admin_client() { return *admin_client_; }
  /// Answers one filter call of `client` on `chain`; `io` is the calling loop.
  /// A poll waits (up to `deadline`, 1 s at most) for the follower to reach the highest block the
  /// client has been served (monotonic reads' ClientHeads): a client that saw block N through
  /// eth_blockNumber and then polls gets N's changes, not an empty answer until the next block.
  boost::asio::awaitable<FilterReply> serve(boost::asio::io_context& io, ChainRuntime& chain, const jsonrpc::Call& call,
                                            std::string_view client, std::chrono::steady_clock::time_point deadline,
                                            LogFetch fetch);

 private:
  struct ChainState;
  boost::asio::awaitable<FilterReply> changes(boost::asio::io_context& io, ChainState& state, Filter& filter,
                                              std::string_view id, std::string_view call_id, std::string_view client,
                                              std::chrono::steady_clock::time_point deadline, LogFetch& fetch);
  void install_metrics(FilterKind kind, size_t chain, double delta);
  void sweep();
  void on_pending(ChainState& state, const PendingFeed::Batch& batch);

  const GatewayConfig& config_;
  std::vector<std::unique_ptr<ChainRuntime>>& chains_;
  boost::asio::io_context& admin_io_;
  FilterTable table_;
  std::unique_ptr<UpstreamClient> admin_client_;
  std::vector<std::unique_ptr<ChainState>> states_;
  PushConsumer push_;
  uint64_t next_call_id_ = 1;  // the pending feeds' upstream calls (admin loop only)
};

}  // namespace nodeops::gateway
