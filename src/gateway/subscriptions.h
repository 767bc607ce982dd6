// WebSocket subscriptions held by the gateway (issue 16): eth_subscribe `newHeads`, `logs`,
// `newPendingTransactions` and eth_unsubscribe on evm chains; slotSubscribe/slotUnsubscribe on
// Solana chains. Notifications are geth's (`{"jsonrpc":"2.0","method":"eth_subscription","params":
// {"subscription":"0x..","result":...}}`) and Solana's (`slotNotification`).
//
// Shared feeds, not one per client: every distinct subscription (kind, chain and, for `logs`, the
// normalized address/topics filter) is one Feed, read by every subscriber that asked for it. A
// feed computes each notification's `result` once on the admin loop and hands the batch to each
// traffic loop that has subscribers of it; the loop pushes it into their outboxes (the same
// bounded queue as replies: a subscriber that does not read is closed 1008 like any other).
//
//   newHeads  reads the chain's block follower (gateway/follower.h): every block it adds, in
//             order, its header as the node returned it. The follower walks the chain block by
//             block across node failures, lag and replacement, so gaps are back-filled before
//             newer heads; on a reorg it publishes the removed blocks and then the new chain, so
//             the replaced heights are sent again (the new blocks).
//   logs      the same events: for each added block one eth_getLogs by blockHash with the
//             filter's address and topics (the node applies geth's matching rules), for each
//             removed block the logs delivered for it again with "removed": true, before the new
//             chain's. A fetch that fails is retried at the next follower step; nothing after it
//             is sent first.
//   newPendingTransactions  best effort: the chain's pending feed (gateway/pending_feed.h, run
//             by the FilterService for these subscriptions and the pending filters alike): an
//             upstream pending-transaction filter polled; when the node fails, the filter is
//             installed again (on the best healthy node; a feed restart). Hashes the node saw
//             while no filter was installed are not sent.
//   slot      Solana: the pool's best slot from the health snapshots; one notification per new
//             best slot seen (skipped slots, and those between two probes, are not sent).
//
// Subscription ids are 16 random bytes (as geth writes them: a quantity); Solana ids are 53-bit
// random integers (its clients expect numbers). Each connection holds at most
// websocket.max_subscriptions_per_connection.
//
// Threads: serve() and the Connection run on the connection's traffic loop; the feed table is
// shared behind a mutex (taken at subscribe and unsubscribe); a feed's subscriber list for a loop
// is touched only on that loop; feeds advance on the admin loop.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
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
#include "core/websocket.h"
#include "gateway/config.h"
#include "gateway/filters.h"
#include "gateway/follower.h"

namespace nodeops::gateway {

struct ChainRuntime;

enum class SubscriptionKind : uint8_t { new_heads, logs, pending_transactions, slot };
constexpr std::array<const char*, 4> kSubscriptionKindNames = {"newHeads", "logs", "newPendingTransactions", "slot"};

/// An eth_subscription notification for subscription `id` (a JSON string) with raw `result`.
std::string eth_notification(std::string_view id, std::string_view result);
/// A Solana slotNotification for subscription `id` (a JSON number) with raw `result`.
std::string slot_notification(std::string_view id, std::string_view result);

/// @brief One feed's new notification results, in order, and where the feed stands. What a
/// `newHeads` or `logs` feed sends for the follower's events since `cursor`: pure, so the
/// fan-out and back-fill rules are unit-tested without a network.
struct HeadsBatch {
  std::vector<std::shared_ptr<const std::string>> headers;  // added blocks, in order
  uint64_t cursor = 0;                                      // the next event not read
  size_t lost = 0;                                          // events older than the log holds
};
HeadsBatch heads_since(const ChainEvents& events, uint64_t cursor);

/// The key that makes two subscriptions one feed: kind, chain and the normalized filter.
std::string feed_key(SubscriptionKind kind, size_t chain, const LogCriteria* criteria);

/// Which subscription an eth_subscribe asks for: the kind and (logs) its criteria, or the
/// -32602 message.
struct SubscribeRequest {
  SubscriptionKind kind = SubscriptionKind::new_heads;
  LogCriteria criteria;
};
std::variant<SubscribeRequest, std::string> parse_subscribe(std::string_view params);

class SubscriptionService {
 public:
  struct Feed;
  /// @brief The subscriptions of one WebSocket connection. Its loop only; ends them all when
  /// destroyed.
  class Connection {
   public:
    ~Connection();
    size_t count() const { return subs_.size(); }

   private:
    friend class SubscriptionService;
    struct Held {
      std::shared_ptr<Feed> feed;
      std::string id_json;  // the id as it appears in notifications: "\"0x..\"" or a number
    };
    Connection(SubscriptionService& service, ChainRuntime& chain, size_t loop,
               std::weak_ptr<http::WebSocketOutbox> outbox)
        : service_(service), chain_(chain), loop_(loop), outbox_(std::move(outbox)) {}
    SubscriptionService& service_;
    ChainRuntime& chain_;
    size_t loop_;
    std::weak_ptr<http::WebSocketOutbox> outbox_;
    std::unordered_map<std::string, Held> subs_;  // by id as the client writes it (lower case)
  };

  SubscriptionService(const GatewayConfig& config, std::vector<std::unique_ptr<ChainRuntime>>& chains,
                      FilterService& filters, metrics::Registry& registry, boost::asio::io_context& admin_io,
                      std::vector<boost::asio::io_context*> loops);
  ~SubscriptionService();

  /// eth_subscribe, eth_unsubscribe, slotSubscribe, slotUnsubscribe.
  static bool handles(std::string_view method);
  /// A connection's subscriptions, for its session (on its loop).
  std::unique_ptr<Connection> connect(ChainRuntime& chain, size_t loop, std::weak_ptr<http::WebSocketOutbox> outbox);
  /// Answers one subscription call of `connection` (on its loop; does not suspend between the
  /// subscription's start and the reply, so the reply goes out before its first notification).
  std::string serve(Connection& connection, const jsonrpc::Call& call);

  /// Subscriptions held, in all (the status page).
  size_t subscriptions() const { return total_.load(std::memory_order_relaxed); }
  /// Distinct feeds, in all.
  size_t feeds() const;
  /// After a follower step of `chain` (admin loop; the follower's listener, tests call it): every
  /// newHeads and logs feed of the chain advances.
  void on_step(size_t chain, const ChainFollower::StepReport& report);
  /// A batch of the chain's pending feed (admin loop; the feed's listener): the newPendingTransactions
  /// feed fans it out, a restart is counted.
  void on_pending(size_t chain, const PendingFeed::Batch& batch);

 private:
  struct ChainSeries;
  std::string subscribe(Connection& c, const jsonrpc::Call& call, SubscriptionKind kind, LogCriteria criteria);
  bool unsubscribe(Connection& c, const std::string& id);
  void release(Connection& c, Connection::Held& held, const std::string& id);
  void advance_heads(const std::shared_ptr<Feed>& feed);
  boost::asio::awaitable<void> advance_logs(std::shared_ptr<Feed> feed);
  boost::asio::awaitable<void> run_slots(std::shared_ptr<Feed> feed);
  /// Posts `results` to every loop where `feed` has subscribers.
  void fan_out(const std::shared_ptr<Feed>& feed, std::vector<std::string> results);
  void deliver(Feed& feed, size_t loop, const std::vector<std::string>& results);
  /// One JSON-RPC call to the healthy upstreams of `chain` (call_healthy): the raw result, or nullopt.
  boost::asio::awaitable<std::optional<std::string>> call_upstream(ChainRuntime& chain, std::string_view method,
                                                                   std::string params);
  std::vector<std::shared_ptr<Feed>> feeds_of(size_t chain) const;

  const GatewayConfig& config_;
  std::vector<std::unique_ptr<ChainRuntime>>& chains_;
  FilterService& filters_;
  boost::asio::io_context& admin_io_;
  std::vector<boost::asio::io_context*> loops_;
  std::vector<std::unique_ptr<ChainSeries>> series_;  // per chain
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Feed>> feeds_;  // by feed_key
  std::vector<size_t> per_chain_;                                  // subscriptions per chain (under mu_)
  std::atomic<size_t> total_{0};
  uint64_t next_id_ = 1;  // admin loop only
};

}  // namespace nodeops::gateway
