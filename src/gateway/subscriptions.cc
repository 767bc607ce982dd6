#include "gateway/subscriptions.h"

#include "core/coroutine_warnings.h"

#include <fmt/format.h>
#include <openssl/rand.h>
#include <simdjson.h>

#include <algorithm>
#include <boost/asio.hpp>

#include "core/concurrent.h"
#include "core/log.h"
#include "gateway/chain_runtime.h"
#include "gateway/loop_context.h"

namespace nodeops::gateway {
namespace asio = boost::asio;

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kRememberBlocks = 128;  // delivered logs kept for removals: as deep as the follower looks back
constexpr std::string_view kNotEvm = "eth_subscribe is served on evm chains; on Solana use slotSubscribe";
constexpr std::string_view kNotSolana = "slotSubscribe is served on Solana chains; on evm chains use eth_subscribe";

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The first param of an unsubscribe: a string id (eth) or a number (Solana), as written.
std::optional<std::string> id_param(std::string_view params) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array arr;
  if (params.empty() || parser.parse(simdjson::padded_string(params)).get(doc) || doc.get_array().get(arr) ||
      arr.size() < 1) {
    return std::nullopt;
  }
  auto first = arr.at(0).value_unsafe();
  std::string_view s;
  if (!first.get_string().get(s)) return s.size() <= 66 ? std::optional(lower(s)) : std::nullopt;
  uint64_t n;
  if (!first.get_uint64().get(n)) return std::to_string(n);
  return std::nullopt;
}

std::string new_solana_id() {
  uint64_t v = 0;
  if (RAND_bytes(reinterpret_cast<uint8_t*>(&v), sizeof v) != 1) throw std::runtime_error("RAND_bytes failed");
  v &= (uint64_t{1} << 53) - 1;  // exact in a JavaScript number
  return std::to_string(v == 0 ? 1 : v);
}

}  // namespace

// --- pure parts -------------------------------------------------------------------------------

std::string eth_notification(std::string_view id, std::string_view result) {
  std::string out;
  out.reserve(80 + id.size() + result.size());
  out += R"({"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":)";
  out += id;
  out += R"(,"result":)";
  out += result;
  out += "}}";
  return out;
}

std::string slot_notification(std::string_view id, std::string_view result) {
  std::string out;
  out.reserve(80 + id.size() + result.size());
  out += R"({"jsonrpc":"2.0","method":"slotNotification","params":{"result":)";
  out += result;
  out += R"(,"subscription":)";
  out += id;
  out += "}}";
  return out;
}

HeadsBatch heads_since(const ChainEvents& events, uint64_t cursor) {
  HeadsBatch out;
  out.lost = cursor < events.first_seq ? events.first_seq - cursor : 0;
  for (const auto& e : events.since(cursor)) {
    // Removed blocks send nothing: the new chain's blocks for those heights follow in the same step.
    if (e.kind == ChainEvent::Kind::added && e.header) out.headers.push_back(e.header);
  }
  out.cursor = std::max(cursor, events.end_seq());
  return out;
}

std::string feed_key(SubscriptionKind kind, size_t chain, const LogCriteria* c) {
  std::string key = fmt::format("{}/{}", chain, kSubscriptionKindNames[static_cast<size_t>(kind)]);
  if (kind == SubscriptionKind::logs && c) {
    // simdjson re-wrote address and topics without spaces; hex is case-insensitive.
    key += "/" + lower(c->address) + "/" + lower(c->topics);
    key += "/" + (c->from_block ? std::to_string(*c->from_block) : std::string("-"));
    key += "/" + (c->to_block ? std::to_string(*c->to_block) : std::string("-"));
  }
  return key;
}

std::variant<SubscribeRequest, std::string> parse_subscribe(std::string_view params) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array arr;
  std::string_view kind;
  if (params.empty() || parser.parse(simdjson::padded_string(params)).get(doc) || doc.get_array().get(arr) ||
      arr.size() < 1 || arr.at(0).get_string().get(kind)) {
    return std::string("expected [\"newHeads\"], [\"logs\", {address, topics}] or [\"newPendingTransactions\"]");
  }
  SubscribeRequest out;
  if (kind == "newHeads") {
    out.kind = SubscriptionKind::new_heads;
  } else if (kind == "newPendingTransactions") {
    out.kind = SubscriptionKind::pending_transactions;
    bool full = false;
    if (arr.size() > 1 && !arr.at(1).get_bool().get(full) && full) {
      return std::string("newPendingTransactions with full transactions is not served; subscribe to the hashes");
    }
  } else if (kind == "logs") {
    out.kind = SubscriptionKind::logs;
    if (arr.size() > 1 && !arr.at(1).value_unsafe().is_null()) {
      auto criteria = parse_log_criteria("[" + simdjson::to_string(arr.at(1).value_unsafe()) + "]");
      if (auto* why = std::get_if<std::string>(&criteria)) return "logs filter: " + *why;
      out.criteria = std::move(std::get<LogCriteria>(criteria));
    }
  } else {
    return fmt::format("unsupported subscription {:?}; newHeads, logs and newPendingTransactions are served",
                       std::string(kind.substr(0, 64)));
  }
  return out;
}

// --- feeds ------------------------------------------------------------------------------------

/// @brief One shared subscription: what it reads and who receives it.
struct SubscriptionService::Feed {
  struct Shard {
    std::unordered_map<std::string, std::weak_ptr<http::WebSocketOutbox>> subscribers;  // by id_json; its loop only
    std::atomic<size_t> count{0};  // read by the admin loop
  };

  SubscriptionKind kind = SubscriptionKind::new_heads;
  size_t chain = 0;
  std::string key;
  LogCriteria criteria;                             // logs
  size_t subscribers = 0;                           // under the service's mutex
  std::atomic<bool> closed{false};                  // no subscriber left: its coroutines end
  std::vector<std::unique_ptr<Shard>> shards;       // one per traffic loop
  // Admin loop only.
  uint64_t cursor = 0;  // the follower's next event this feed has not sent
  bool busy = false;    // a logs feed is fetching
  Filter delivered;     // logs delivered per block (for "removed": true)
};

struct SubscriptionService::ChainSeries {
  std::array<metrics::Gauge*, kSubscriptionKindNames.size()> subscriptions{};
  std::array<metrics::Gauge*, kSubscriptionKindNames.size()> feeds{};
  std::array<metrics::Counter*, kSubscriptionKindNames.size()> notifications{};
  metrics::Counter* restarts_blocks = nullptr;
  metrics::Counter* restarts_pending = nullptr;
  metrics::Counter* log_fetches = nullptr;
  metrics::Counter* lost = nullptr;
  metrics::Counter* refused = nullptr;
  log::Pow2Sampler lost_log, fetch_log;
};

SubscriptionService::Connection::~Connection() {
  for (auto& [id, held] : subs_) service_.release(*this, held, id);
  subs_.clear();
}

SubscriptionService::SubscriptionService(const GatewayConfig& config, std::vector<std::unique_ptr<ChainRuntime>>& chains,
                                         FilterService& filters, metrics::Registry& r, asio::io_context& admin_io,
                                         std::vector<asio::io_context*> loops)
    : config_(config), chains_(chains), filters_(filters), admin_io_(admin_io), loops_(std::move(loops)) {
  auto& subs = r.gauge("nodeops_gateway_subscriptions",
                       "WebSocket subscriptions held, by kind (newHeads, logs, newPendingTransactions, slot).",
                       {"chain", "kind"});
  auto& feed_gauge = r.gauge("nodeops_gateway_subscription_feeds",
                        "Distinct subscription feeds, by kind: every client with the same subscription shares one.",
                        {"chain", "kind"});
  auto& sent = r.counter("nodeops_gateway_subscription_notifications_total",
                         "Subscription notifications queued for clients, by kind.", {"chain", "kind"});
  auto& restarts = r.counter("nodeops_gateway_subscription_feed_restarts_total",
                             "Upstream feeds of subscriptions started again on a node after the one they used "
                             "failed, by feed (blocks: the block follower's source, which newHeads and logs read; "
                             "pending: the pending-transaction feed, which newPendingTransactions subscriptions and "
                             "pending filters read).",
                             {"chain", "feed"});
  auto& fetches = r.counter("nodeops_gateway_subscription_log_fetches_total",
                            "eth_getLogs calls made by logs feeds (one per block per distinct filter).", {"chain"});
  auto& lost_counter = r.counter("nodeops_gateway_subscription_events_lost_total",
                         "Follower events a feed missed (it fell behind the follower's log), or removals whose "
                         "delivered logs were forgotten.",
                         {"chain"});
  auto& refused_counter = r.counter("nodeops_gateway_subscriptions_refused_total",
                            "Subscriptions refused with -32005 (websocket.max_subscriptions_per_connection).",
                            {"chain"});
  for (auto& rt : chains_) {
    auto s = std::make_unique<ChainSeries>();
    const auto& name = rt->config->name;
    for (size_t k = 0; k < kSubscriptionKindNames.size(); ++k) {
      s->subscriptions[k] = &subs.labels({name, kSubscriptionKindNames[k]});
      s->feeds[k] = &feed_gauge.labels({name, kSubscriptionKindNames[k]});
      s->notifications[k] = &sent.labels({name, kSubscriptionKindNames[k]});
    }
    s->restarts_blocks = &restarts.labels({name, "blocks"});
    s->restarts_pending = &restarts.labels({name, "pending"});
    s->log_fetches = &fetches.labels({name});
    s->lost = &lost_counter.labels({name});
    s->refused = &refused_counter.labels({name});
    series_.push_back(std::move(s));
  }
  per_chain_.assign(chains_.size(), 0);
  filters_.set_push_consumer(FilterService::PushConsumer{
      [this](size_t chain) {
        std::lock_guard lock(mu_);
        return per_chain_[chain] > 0;
      },
      [this](size_t chain, const ChainFollower::StepReport& report) { on_step(chain, report); },
      [this](size_t chain) {
        std::lock_guard lock(mu_);
        return feeds_.contains(feed_key(SubscriptionKind::pending_transactions, chain, nullptr));
      },
      [this](size_t chain, const PendingFeed::Batch& batch) { on_pending(chain, batch); }});
}

SubscriptionService::~SubscriptionService() {
  std::lock_guard lock(mu_);
  for (auto& [key, feed] : feeds_) feed->closed.store(true);
}

bool SubscriptionService::handles(std::string_view m) {
  return m == "eth_subscribe" || m == "eth_unsubscribe" || m == "slotSubscribe" || m == "slotUnsubscribe";
}

size_t SubscriptionService::feeds() const {
  std::lock_guard lock(mu_);
  return feeds_.size();
}

std::unique_ptr<SubscriptionService::Connection> SubscriptionService::connect(
    ChainRuntime& chain, size_t loop, std::weak_ptr<http::WebSocketOutbox> outbox) {
  return std::unique_ptr<Connection>(new Connection(*this, chain, loop, std::move(outbox)));
}

std::string SubscriptionService::serve(Connection& c, const jsonrpc::Call& call) {
  const auto& m = call.method;
  bool solana = c.chain_.config->type == "solana";
  if (m == "eth_subscribe" || m == "slotSubscribe") {
    if (solana != (m == "slotSubscribe")) {
      return jsonrpc::error_reply(call.id, jsonrpc::kMethodNotFound, solana ? kNotEvm : kNotSolana);
    }
    if (c.subs_.size() >= config_.websocket.max_subscriptions_per_connection) {
      series_[c.chain_.index]->refused->inc();
      return jsonrpc::error_reply(
          call.id, jsonrpc::kLimitExceeded,
          fmt::format("this connection holds {} subscriptions, the most it may "
                      "(websocket.max_subscriptions_per_connection); unsubscribe some or open another connection",
                      config_.websocket.max_subscriptions_per_connection));
    }
    if (solana) return subscribe(c, call, SubscriptionKind::slot, {});
    auto parsed = parse_subscribe(call.params);
    if (auto* why = std::get_if<std::string>(&parsed)) return jsonrpc::error_reply(call.id, jsonrpc::kInvalidParams, *why);
    auto& req = std::get<SubscribeRequest>(parsed);
    return subscribe(c, call, req.kind, std::move(req.criteria));
  }
  // eth_unsubscribe / slotUnsubscribe
  if (solana != (m == "slotUnsubscribe")) {
    return jsonrpc::error_reply(call.id, jsonrpc::kMethodNotFound, solana ? kNotEvm : kNotSolana);
  }
  auto id = id_param(call.params);
  if (!id) return jsonrpc::error_reply(call.id, jsonrpc::kInvalidParams, "expected [subscription id]");
  bool found = unsubscribe(c, *id);
  if (!found && solana) {
    // Solana answers an unknown id with an error, geth with false.
    return jsonrpc::error_reply(call.id, jsonrpc::kInvalidParams, "Invalid subscription id.");
  }
  return jsonrpc::result_reply(call.id, found ? "true" : "false");
}

std::string SubscriptionService::subscribe(Connection& c, const jsonrpc::Call& call, SubscriptionKind kind,
                                           LogCriteria criteria) {
  auto key = feed_key(kind, c.chain_.index, &criteria);
  std::shared_ptr<Feed> feed;
  bool fresh = false;
  {
    std::lock_guard lock(mu_);
    auto& slot = feeds_[key];
    if (!slot) {
      slot = std::make_shared<Feed>();
      slot->kind = kind;
      slot->chain = c.chain_.index;
      slot->key = key;
      slot->criteria = std::move(criteria);
      for (size_t i = 0; i < loops_.size(); ++i) slot->shards.push_back(std::make_unique<Feed::Shard>());
      // Notifications start after the newest event the follower has published.
      if (kind == SubscriptionKind::new_heads || kind == SubscriptionKind::logs) {
        slot->cursor = filters_.follower(c.chain_.index).events()->end_seq();
      }
      fresh = true;
    }
    feed = slot;
    ++feed->subscribers;
    ++per_chain_[c.chain_.index];
  }
  auto& series = *series_[c.chain_.index];
  if (fresh) {
    series.feeds[static_cast<size_t>(kind)]->inc();
    if (kind == SubscriptionKind::slot) {
      asio::co_spawn(admin_io_, run_slots(feed), log_failure("slot feed"));
    }
  }
  if (kind == SubscriptionKind::new_heads || kind == SubscriptionKind::logs) filters_.follow(c.chain_);
  if (kind == SubscriptionKind::pending_transactions) filters_.follow_pending(c.chain_);
  std::string id, id_json;
  do {
    if (kind == SubscriptionKind::slot) {
      id = new_solana_id();
      id_json = id;
    } else {
      id = new_filter_id();
      id_json = "\"" + id + "\"";
    }
  } while (c.subs_.contains(id));
  auto& shard = *feed->shards.at(c.loop_);
  shard.subscribers.emplace(id_json, c.outbox_);
  shard.count.fetch_add(1, std::memory_order_relaxed);
  c.subs_.emplace(id, Connection::Held{feed, id_json});
  series.subscriptions[static_cast<size_t>(kind)]->inc();
  total_.fetch_add(1, std::memory_order_relaxed);
  return jsonrpc::result_reply(call.id, id_json);
}

bool SubscriptionService::unsubscribe(Connection& c, const std::string& id) {
  auto it = c.subs_.find(id);
  if (it == c.subs_.end()) return false;
  release(c, it->second, id);
  c.subs_.erase(it);
  return true;
}

void SubscriptionService::release(Connection& c, Connection::Held& held, const std::string& /*id*/) {
  auto& feed = *held.feed;
  auto& shard = *feed.shards.at(c.loop_);
  if (shard.subscribers.erase(held.id_json)) shard.count.fetch_sub(1, std::memory_order_relaxed);
  bool last = false;
  {
    std::lock_guard lock(mu_);
    --per_chain_[feed.chain];
    if (--feed.subscribers == 0) {
      last = true;
      auto it = feeds_.find(feed.key);
      if (it != feeds_.end() && it->second == held.feed) feeds_.erase(it);
      feed.closed.store(true);
    }
  }
  auto& series = *series_[feed.chain];
  series.subscriptions[static_cast<size_t>(feed.kind)]->dec();
  if (last) series.feeds[static_cast<size_t>(feed.kind)]->dec();
  total_.fetch_sub(1, std::memory_order_relaxed);
}

std::vector<std::shared_ptr<SubscriptionService::Feed>> SubscriptionService::feeds_of(size_t chain) const {
  std::vector<std::shared_ptr<Feed>> out;
  std::lock_guard lock(mu_);
  for (const auto& [key, feed] : feeds_) {
    if (feed->chain == chain) out.push_back(feed);
  }
  return out;
}

// --- fan-out ----------------------------------------------------------------------------------

void SubscriptionService::fan_out(const std::shared_ptr<Feed>& feed, std::vector<std::string> results) {
  if (results.empty()) return;
  auto shared = std::make_shared<const std::vector<std::string>>(std::move(results));
  for (size_t i = 0; i < loops_.size(); ++i) {
    if (feed->shards[i]->count.load(std::memory_order_relaxed) == 0) continue;
    asio::post(*loops_[i], [this, feed, shared, i] { deliver(*feed, i, *shared); });
  }
}

void SubscriptionService::deliver(Feed& feed, size_t loop, const std::vector<std::string>& results) {
  auto& shard = *feed.shards[loop];
  bool slot = feed.kind == SubscriptionKind::slot;
  double sent = 0;
  for (const auto& [id_json, weak] : shard.subscribers) {
    auto outbox = weak.lock();
    if (!outbox) continue;
    for (const auto& result : results) {
      // A push that fails closed the connection (slow consumer): its session ends the subscription.
      if (!outbox->push({slot ? slot_notification(id_json, result) : eth_notification(id_json, result), nullptr}))
        break;
      ++sent;
    }
  }
  if (sent > 0) series_[feed.chain]->notifications[static_cast<size_t>(feed.kind)]->inc(sent);
}

// --- the feeds' sources -----------------------------------------------------------------------

void SubscriptionService::on_step(size_t chain, const ChainFollower::StepReport& report) {
  auto& series = *series_[chain];
  if (report.source_switches > 0) series.restarts_blocks->inc(static_cast<double>(report.source_switches));
  for (auto& feed : feeds_of(chain)) {
    if (feed->kind == SubscriptionKind::new_heads) {
      advance_heads(feed);
      continue;
    }
    if (feed->kind != SubscriptionKind::logs || feed->busy) continue;
    feed->busy = true;
    asio::co_spawn(admin_io_, advance_logs(feed), log_failure("logs feed"));
  }
}

void SubscriptionService::on_pending(size_t chain, const PendingFeed::Batch& batch) {
  if (batch.restarted) series_[chain]->restarts_pending->inc();
  if (batch.hashes.empty()) return;
  std::shared_ptr<Feed> feed;
  {
    std::lock_guard lock(mu_);
    auto it = feeds_.find(feed_key(SubscriptionKind::pending_transactions, chain, nullptr));
    if (it == feeds_.end()) return;
    feed = it->second;
  }
  fan_out(feed, batch.hashes);
}

void SubscriptionService::advance_heads(const std::shared_ptr<Feed>& self) {
  auto& feed = *self;
  auto events = filters_.follower(feed.chain).events();
  auto batch = heads_since(*events, feed.cursor);
  feed.cursor = batch.cursor;
  auto& series = *series_[feed.chain];
  if (batch.lost > 0) {
    series.lost->inc(static_cast<double>(batch.lost));
    if (auto n = series.lost_log.tick()) {
      log::warn("newHeads feed fell behind the follower's log",
                {{"chain", chains_[feed.chain]->config->name}, {"lost", batch.lost}, {"occurrences", n}});
    }
  }
  std::vector<std::string> results;
  results.reserve(batch.headers.size());
  for (auto& h : batch.headers) results.push_back(*h);
  fan_out(self, std::move(results));
}

asio::awaitable<void> SubscriptionService::advance_logs(std::shared_ptr<Feed> feed) {
  auto& chain = *chains_[feed->chain];
  auto& series = *series_[feed->chain];
  struct Idle {
    Feed& f;
    ~Idle() { f.busy = false; }
  } idle{*feed};
  for (;;) {
    auto events = filters_.follower(feed->chain).events();
    if (feed->cursor >= events->end_seq() || feed->closed.load()) co_return;
    size_t lost = feed->cursor < events->first_seq ? events->first_seq - feed->cursor : 0;
    uint64_t seq = std::max(feed->cursor, events->first_seq);
    uint64_t keep_from =
        events->head && events->head->number > kRememberBlocks ? events->head->number - kRememberBlocks : 0;
    for (const auto& e : events->since(feed->cursor)) {
      if (feed->closed.load()) co_return;
      std::vector<std::string> results;
      if (e.kind == ChainEvent::Kind::removed) {
        auto logs = feed->delivered.unremember(e.hash);
        // nullopt: added before this feed began (its subscribers never had those logs).
        if (logs) results = std::move(*logs);
      } else if (!feed->criteria.covers(e.number)) {
        feed->delivered.remember(e.number, e.hash, {}, keep_from);
      } else {
        series.log_fetches->inc();
        auto result = co_await call_upstream(chain, "eth_getLogs", feed->criteria.params_for(e.hash));
        auto logs = result ? logs_of_block(*result, e.hash) : std::nullopt;
        if (!logs) {
          // Not there (every node failed, or none knows the block yet): this block and what
          // follows wait for the next step, so the order holds and nothing is skipped.
          if (auto n = series.fetch_log.tick()) {
            log::warn("logs feed could not fetch a block's logs; retrying at the next step",
                      {{"chain", chain.config->name}, {"block", e.number}, {"occurrences", n}});
          }
          break;
        }
        results = *logs;
        feed->delivered.remember(e.number, e.hash, std::move(*logs), keep_from);
      }
      feed->cursor = ++seq;
      fan_out(feed, std::move(results));
    }
    if (lost > 0) {
      series.lost->inc(static_cast<double>(lost));
      if (auto n = series.lost_log.tick()) {
        log::warn("logs feed missed events", {{"chain", chain.config->name}, {"lost", lost}, {"occurrences", n}});
      }
    }
    if (feed->cursor < events->end_seq()) co_return;  // a fetch failed: the next step retries
  }
}

asio::awaitable<std::optional<std::string>> SubscriptionService::call_upstream(ChainRuntime& chain,
                                                                               std::string_view method,
                                                                               std::string params) {
  auto timeout = std::min(config_.limits.upstream_timeout, chain.config->health_interval * 2);
  co_return co_await call_healthy(filters_.admin_client(), chain, timeout, next_id_, method, std::move(params),
                                  std::nullopt, nullptr);
}

asio::awaitable<void> SubscriptionService::run_slots(std::shared_ptr<Feed> feed) {
  auto& chain = *chains_[feed->chain];
  auto interval = std::clamp(chain.config->health_interval / 4, Duration(20), Duration(250));
  asio::steady_timer timer(admin_io_);
  uint64_t last = chain.health.load()->best_head;
  while (!feed->closed.load()) {
    auto health = chain.health.load();
    if (health->best_head > last) {
      uint64_t root = health->finalized.value_or(0);
      fan_out(feed, {fmt::format(R"({{"parent":{},"root":{},"slot":{}}})", last, root, health->best_head)});
      last = health->best_head;
    }
    timer.expires_after(interval);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace nodeops::gateway
