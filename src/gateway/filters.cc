#include "gateway/filters.h"

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

constexpr size_t kMaxAddsPerPoll = 64;     // blocks whose logs one poll fetches; the rest wait for the next
constexpr size_t kFetchConcurrency = 8;    // eth_getLogs calls of one poll in flight at once
constexpr uint64_t kRememberBlocks = 128;  // delivered logs kept for removals: as deep as the follower looks back
constexpr std::string_view kNotFound = "filter not found";
constexpr std::chrono::seconds kCatchUpWait{1};  // how long a poll waits for the follower to reach the client's head

bool is_hex(std::string_view s, size_t bytes) {
  if (s.size() != 2 + 2 * bytes || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return false;
  return std::all_of(s.begin() + 2, s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

// fromBlock/toBlock of a filter: a number bounds changes; tags that follow the head do not.
std::optional<std::string> read_bound(simdjson::dom::element e, std::optional<uint64_t>& out) {
  if (e.is_null()) return std::nullopt;
  std::string_view s;
  if (e.get_string().get(s)) return "must be a block number or tag";
  if (s == "latest" || s == "pending" || s == "safe" || s == "finalized") return std::nullopt;
  if (s == "earliest") {
    out = 0;
    return std::nullopt;
  }
  if (s.size() < 3 || s.size() > 18 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
    return "must be a block number or tag";
  uint64_t v = 0;
  for (char c : s.substr(2)) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return "must be a block number or tag";
    v = v * 16 + static_cast<uint64_t>(std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  out = v;
  return std::nullopt;
}

bool valid_address(simdjson::dom::element e) {
  std::string_view s;
  if (!e.get_string().get(s)) return is_hex(s, 20);
  simdjson::dom::array arr;
  if (e.get_array().get(arr)) return false;
  for (auto item : arr) {
    if (item.get_string().get(s) || !is_hex(s, 20)) return false;
  }
  return true;
}

bool valid_topic(simdjson::dom::element e, bool nested) {
  std::string_view s;
  if (e.is_null()) return true;
  if (!e.get_string().get(s)) return is_hex(s, 32);
  simdjson::dom::array arr;
  if (nested || e.get_array().get(arr)) return false;
  for (auto item : arr) {
    if (!valid_topic(item, true)) return false;
  }
  return true;
}

std::string id_param(std::string_view params) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array arr;
  std::string_view id;
  if (params.empty() || parser.parse(simdjson::padded_string(params)).get(doc) || doc.get_array().get(arr) ||
      arr.size() < 1 || arr.at(0).get_string().get(id) || id.size() > 66) {
    return {};
  }
  std::string out(id);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string join_array(const std::vector<std::string>& items) {
  size_t size = 2;
  for (const auto& s : items) size += s.size() + 1;
  std::string out;
  out.reserve(size);
  out += '[';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += items[i];
  }
  out += ']';
  return out;
}

}  // namespace

// --- criteria ---------------------------------------------------------------------------------

std::variant<LogCriteria, std::string> parse_log_criteria(std::string_view params) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array arr;
  simdjson::dom::object obj;
  if (params.empty() || parser.parse(simdjson::padded_string(params)).get(doc) || doc.get_array().get(arr) ||
      arr.size() < 1 || arr.at(0).get_object().get(obj)) {
    return std::string("expected [filter object]");
  }
  LogCriteria c;
  for (auto [key, value] : obj) {
    if (key == "blockHash") {
      if (!value.is_null()) return std::string("blockHash is not allowed in eth_newFilter (use eth_getLogs)");
    } else if (key == "fromBlock") {
      if (auto why = read_bound(value, c.from_block)) return "fromBlock " + *why;
    } else if (key == "toBlock") {
      if (auto why = read_bound(value, c.to_block)) return "toBlock " + *why;
    } else if (key == "address") {
      if (value.is_null()) continue;
      if (!valid_address(value)) return std::string("address must be a 20-byte hex address or an array of them");
      c.address = simdjson::to_string(value);
    } else if (key == "topics") {
      if (value.is_null()) continue;
      simdjson::dom::array topics;
      if (value.get_array().get(topics) || topics.size() > 4)
        return std::string("topics must be an array of at most 4");
      for (auto t : topics) {
        if (!valid_topic(t, false))
          return std::string("each topic must be null, a 32-byte hex value or an array of them");
      }
      c.topics = simdjson::to_string(value);
    }
  }
  if (c.from_block && c.to_block && *c.from_block > *c.to_block) return std::string("fromBlock is after toBlock");
  c.raw = simdjson::to_string(arr.at(0).value_unsafe());
  return c;
}

std::string LogCriteria::params_for(const BlockHash& block) const {
  std::string out = "[{\"blockHash\":\"" + hash_hex(block) + "\"";
  if (!address.empty()) out += ",\"address\":" + address;
  if (!topics.empty()) out += ",\"topics\":" + topics;
  out += "}]";
  return out;
}

std::optional<std::vector<std::string>> logs_of_block(std::string_view result, const BlockHash& block) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array arr;
  if (parser.parse(simdjson::padded_string(result)).get(doc) || doc.get_array().get(arr)) return std::nullopt;
  std::vector<std::string> out;
  for (auto item : arr) {
    std::string_view hash;
    if (!item.is_object() || item["blockHash"].get_string().get(hash)) return std::nullopt;
    auto parsed = parse_block_hash(hash);
    // A node that answers with another block's logs is not believed (it may be on another fork).
    if (!parsed || *parsed != block) return std::nullopt;
    out.push_back(simdjson::to_string(item));
  }
  return out;
}

std::string mark_removed(std::string_view log) {
  std::string out(log);
  if (auto at = out.find("\"removed\":false"); at != std::string::npos) {
    out.replace(at, 15, "\"removed\":true");
  } else if (out.find("\"removed\":true") == std::string::npos && !out.empty() && out.front() == '{') {
    out.insert(1, out.size() > 2 ? "\"removed\":true," : "\"removed\":true");
  }
  return out;
}

// --- one filter -------------------------------------------------------------------------------

size_t Filter::absorb(const ChainEvents& events) {
  size_t lost = cursor < events.first_seq ? events.first_seq - cursor : 0;
  for (const auto& e : events.since(cursor)) {
    if (e.kind == ChainEvent::Kind::removed) {
      // A block not delivered yet and now gone: its logs are simply never fetched.
      auto it = std::find_if(ops.rbegin(), ops.rend(), [&](const FilterOp& op) {
        return op.kind == ChainEvent::Kind::added && op.hash == e.hash;
      });
      if (it != ops.rend()) {
        ops.erase(std::next(it).base());
        continue;
      }
    }
    ops.push_back({e.kind, e.number, e.hash});
  }
  cursor = events.end_seq();
  while (ops.size() > kMaxOps) {
    ops.pop_front();
    ++lost;
  }
  return lost;
}

std::vector<BlockHash> Filter::take_blocks(const ChainEvents& events, size_t& lost) {
  lost = cursor < events.first_seq ? events.first_seq - cursor : 0;
  std::vector<BlockHash> out;
  for (const auto& e : events.since(cursor)) {
    if (e.kind == ChainEvent::Kind::added) out.push_back(e.hash);
  }
  cursor = events.end_seq();
  return out;
}

size_t Filter::add_hashes(const std::vector<std::string>& fresh) {
  hashes.insert(hashes.end(), fresh.begin(), fresh.end());
  size_t lost = 0;
  while (hashes.size() > kMaxOps) {
    hashes.pop_front();
    ++lost;
  }
  return lost;
}

void Filter::remember(uint64_t number, const BlockHash& hash, std::vector<std::string> logs, uint64_t keep_from) {
  size_t bytes = sizeof(Delivered);
  for (const auto& l : logs) bytes += l.size();
  delivered.push_back({number, hash, std::move(logs)});
  delivered_bytes += bytes;
  auto size_of = [](const Delivered& d) {
    size_t b = sizeof(Delivered);
    for (const auto& l : d.logs) b += l.size();
    return b;
  };
  while (!delivered.empty() && (delivered.front().number < keep_from || delivered_bytes > kMaxRememberedBytes)) {
    delivered_bytes -= size_of(delivered.front());
    delivered.pop_front();
  }
}

std::optional<std::vector<std::string>> Filter::unremember(const BlockHash& hash) {
  for (auto it = delivered.begin(); it != delivered.end(); ++it) {
    if (it->hash != hash) continue;
    std::vector<std::string> out;
    size_t bytes = sizeof(Delivered);
    for (const auto& l : it->logs) {
      bytes += l.size();
      out.push_back(mark_removed(l));
    }
    delivered_bytes -= bytes;
    delivered.erase(it);
    return out;
  }
  return std::nullopt;
}

// --- the table --------------------------------------------------------------------------------

std::string new_filter_id() {
  std::array<uint8_t, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) throw std::runtime_error("RAND_bytes failed");
  std::string hex;
  static constexpr char kDigits[] = "0123456789abcdef";
  for (uint8_t b : bytes) {
    hex += kDigits[b >> 4];
    hex += kDigits[b & 15];
  }
  // A quantity, as geth writes its ids: no leading zero digits.
  auto first = hex.find_first_not_of('0');
  return "0x" + (first == std::string::npos ? std::string("0") : hex.substr(first));
}

std::variant<std::string, FilterTable::Refusal> FilterTable::install(std::shared_ptr<Filter> filter,
                                                                     Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto full = [&] {
    return by_id_.size() >= limits_.max_total                      ? std::optional(Refusal::total)
           : per_client_[filter->client] >= limits_.max_per_client ? std::optional(Refusal::per_client)
                                                                   : std::nullopt;
  };
  // (Expired filters still count until the next sweep, at most a follower step away.)
  if (auto refusal = full()) {
    if (per_client_[filter->client] == 0) per_client_.erase(filter->client);
    return *refusal;
  }
  std::string id;
  do {
    id = new_filter_id();
  } while (by_id_.contains(id));
  filter->last_poll = now;
  ++per_client_[filter->client];
  by_id_.emplace(id, std::move(filter));
  return id;
}

std::shared_ptr<Filter> FilterTable::find(std::string_view id, Clock::time_point now, bool poll) {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(std::string(id));
  if (it == by_id_.end()) return nullptr;
  auto& f = it->second;
  std::lock_guard flock(f->mu);
  if (now - f->last_poll > limits_.timeout) return nullptr;  // expired; expire() removes it
  if (poll) f->last_poll = now;
  return f;
}

std::shared_ptr<Filter> FilterTable::uninstall(std::string_view id) {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(std::string(id));
  if (it == by_id_.end()) return nullptr;
  auto f = std::move(it->second);
  by_id_.erase(it);
  if (--per_client_[f->client] == 0) per_client_.erase(f->client);
  return f;
}

std::vector<std::shared_ptr<Filter>> FilterTable::expire(Clock::time_point now) {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Filter>> out;
  for (auto it = by_id_.begin(); it != by_id_.end();) {
    bool old;
    {
      std::lock_guard flock(it->second->mu);
      old = now - it->second->last_poll > limits_.timeout;
    }
    if (!old) {
      ++it;
      continue;
    }
    if (--per_client_[it->second->client] == 0) per_client_.erase(it->second->client);
    out.push_back(std::move(it->second));
    it = by_id_.erase(it);
  }
  return out;
}

size_t FilterTable::count_of_chain(size_t chain) const {
  std::lock_guard lock(mu_);
  return static_cast<size_t>(
      std::count_if(by_id_.begin(), by_id_.end(), [&](const auto& kv) { return kv.second->chain == chain; }));
}

std::vector<std::shared_ptr<Filter>> FilterTable::of_chain(size_t chain, FilterKind kind) const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Filter>> out;
  for (const auto& [id, f] : by_id_) {
    if (f->chain == chain && f->kind == kind) out.push_back(f);
  }
  return out;
}

// --- the service ------------------------------------------------------------------------------

struct FilterService::ChainState {
  ChainRuntime& chain;
  ChainFollower follower;
  std::unique_ptr<UpstreamBlockSource> source;
  PendingFeed pending;
  std::array<metrics::Gauge*, kFilterKindNames.size()> installed{};
  std::array<metrics::Counter*, kFilterKindNames.size()> polls{};
  metrics::Counter* dropped = nullptr;
  metrics::Counter* expired = nullptr;
  metrics::Counter* refused_per_client = nullptr;
  metrics::Counter* refused_total = nullptr;
  metrics::Gauge* follower_head = nullptr;
  metrics::Gauge* follower_running = nullptr;
  metrics::Counter* reorgs = nullptr;
  metrics::Counter* removed_blocks = nullptr;
  metrics::Counter* backfilled = nullptr;
  log::Pow2Sampler dropped_log, fetch_log;

  explicit ChainState(ChainRuntime& c) : chain(c) {}
};

FilterService::FilterService(const GatewayConfig& config, std::vector<std::unique_ptr<ChainRuntime>>& chains,
                             metrics::Registry& r, asio::io_context& admin_io)
    : config_(config),
      chains_(chains),
      admin_io_(admin_io),
      table_({config.filters.max_per_client, config.filters.max_total, config.filters.timeout}),
      admin_client_(std::make_unique<PooledUpstreamClient>(admin_io, chains, 16 << 20)) {
  auto& installed =
      r.gauge("nodeops_gateway_filters", "Filters installed, by kind (block, logs, pending).", {"chain", "kind"});
  auto& polls = r.counter("nodeops_gateway_filter_polls_total", "eth_getFilterChanges calls answered, by filter kind.",
                          {"chain", "kind"});
  auto& dropped = r.counter("nodeops_gateway_filter_changes_dropped_total",
                            "Changes a filter lost because its poller was too slow (older than the follower keeps, "
                            "or over a filter's pending cap), or a removal whose delivered logs were forgotten.",
                            {"chain"});
  auto& expired = r.counter("nodeops_gateway_filters_expired_total",
                            "Filters removed after filters.timeout without a poll.", {"chain"});
  auto& refused = r.counter("nodeops_gateway_filters_refused_total",
                            "Filters refused with -32005, by reason (per_client, total).", {"chain", "reason"});
  auto& head = r.gauge("nodeops_gateway_follower_head",
                       "The block the chain's follower holds as canonical tip; 0 while it does not run.", {"chain"});
  auto& running = r.gauge("nodeops_gateway_follower_running",
                          "1 while the chain's block follower runs (only while the chain has filters).", {"chain"});
  auto& reorgs =
      r.counter("nodeops_gateway_follower_reorgs_total", "Reorgs the chain's block follower saw.", {"chain"});
  auto& removed = r.counter("nodeops_gateway_follower_removed_blocks_total",
                            "Blocks the chain's follower saw removed by reorgs.", {"chain"});
  auto& backfilled = r.counter("nodeops_gateway_follower_backfilled_blocks_total",
                               "Blocks the chain's follower fetched below the pool's head to fill a gap (a new "
                               "head more than one block ahead, a node that died or lagged), published in order "
                               "before the newer ones.",
                               {"chain"});
  auto timeout_for = [&](const ChainConfig& c) {
    return std::min(config.limits.upstream_timeout, c.health_interval * 2);
  };
  for (auto& rt : chains_) {
    auto st = std::make_unique<ChainState>(*rt);
    const auto& name = rt->config->name;
    if (rt->config->type == "evm") {
      st->source = std::make_unique<UpstreamBlockSource>(*rt, *admin_client_, timeout_for(*rt->config));
      for (size_t k = 0; k < kFilterKindNames.size(); ++k) {
        st->installed[k] = &installed.labels({name, kFilterKindNames[k]});
        st->polls[k] = &polls.labels({name, kFilterKindNames[k]});
      }
      st->dropped = &dropped.labels({name});
      st->expired = &expired.labels({name});
      st->refused_per_client = &refused.labels({name, "per_client"});
      st->refused_total = &refused.labels({name, "total"});
      st->follower_head = &head.labels({name});
      st->follower_running = &running.labels({name});
      st->reorgs = &reorgs.labels({name});
      st->removed_blocks = &removed.labels({name});
      st->backfilled = &backfilled.labels({name});
    }
    states_.push_back(std::move(st));
  }
}

FilterService::~FilterService() = default;

bool FilterService::handles(std::string_view m) {
  return m == "eth_newFilter" || m == "eth_newBlockFilter" || m == "eth_newPendingTransactionFilter" ||
         m == "eth_getFilterChanges" || m == "eth_getFilterLogs" || m == "eth_uninstallFilter";
}

void FilterService::follow(ChainRuntime& chain) {
  auto& st = *states_[chain.index];
  if (!st.source) return;
  size_t index = chain.index;
  st.follower.ensure_running(
      admin_io_, chain, *st.source, std::max(Duration(50), chain.config->health_interval / 2),
      [this, index] { return table_.count_of_chain(index) > 0 || (push_.wanted && push_.wanted(index)); },
      [this, &st, index](const ChainFollower::StepReport& report) {
        // The expiry sweep rides on the follower: it runs exactly while there are filters.
        sweep();
        st.follower_running->set(report.running ? 1 : 0);
        st.follower_head->set(static_cast<double>(report.head.value_or(0)));
        st.reorgs->inc(static_cast<double>(report.reorgs));
        st.removed_blocks->inc(static_cast<double>(report.removed_blocks));
        st.backfilled->inc(static_cast<double>(report.backfilled));
        if (push_.on_step) push_.on_step(index, report);
      });
}

ChainFollower& FilterService::follower(size_t chain) { return states_.at(chain)->follower; }

PendingFeed& FilterService::pending(size_t chain) { return states_.at(chain)->pending; }

void FilterService::follow_pending(ChainRuntime& chain) {
  auto& st = *states_[chain.index];
  if (!st.source) return;
  size_t index = chain.index;
  auto timeout = std::min(config_.limits.upstream_timeout, chain.config->health_interval * 2);
  PendingFeed::Call call = [this, &chain, timeout](std::string_view method, std::string params,
                                                   std::optional<size_t> only, Answered* answered) {
    return call_healthy(*admin_client_, chain, timeout, next_call_id_, method, std::move(params), only, answered);
  };
  st.pending.ensure_running(
      admin_io_, chain.config->name, std::move(call),
      std::clamp(chain.config->health_interval / 2, Duration(100), Duration(1000)),
      [this, index] {
        // The expiry sweep rides on this feed too (asked at each turn): a chain with only pending
        // filters has no follower running, and its expired filters must go, and the feed with them.
        sweep();
        return !table_.of_chain(index, FilterKind::pending).empty() ||
               (push_.pending_wanted && push_.pending_wanted(index));
      },
      [this, &st](const PendingFeed::Batch& batch) { on_pending(st, batch); });
}

void FilterService::on_pending(ChainState& st, const PendingFeed::Batch& batch) {
  if (!batch.hashes.empty()) {
    size_t lost = 0;
    for (auto& f : table_.of_chain(st.chain.index, FilterKind::pending)) {
      std::lock_guard lock(f->mu);
      lost += f->add_hashes(batch.hashes);
    }
    if (lost > 0) {
      st.dropped->inc(static_cast<double>(lost));
      if (auto n = st.dropped_log.tick()) {
        log::warn("pending filter hashes dropped: a poller is too slow",
                  {{"chain", st.chain.config->name}, {"lost", lost}, {"occurrences", n}});
      }
    }
  }
  if (push_.on_pending) push_.on_pending(st.chain.index, batch);
}

void FilterService::install_metrics(FilterKind kind, size_t chain, double delta) {
  states_[chain]->installed[static_cast<size_t>(kind)]->inc(delta);
}

void FilterService::sweep() {
  for (auto& f : table_.expire(Clock::now())) {
    install_metrics(f->kind, f->chain, -1);
    states_[f->chain]->expired->inc();
  }
}

asio::awaitable<FilterReply> FilterService::serve(asio::io_context& io, ChainRuntime& chain, const jsonrpc::Call& call,
                                                  std::string_view client, Clock::time_point deadline, LogFetch fetch) {
  auto& st = *states_[chain.index];
  auto now = Clock::now();
  const auto& m = call.method;
  auto error = [&](int code, std::string_view message, Outcome outcome = Outcome::rejected) {
    return FilterReply{jsonrpc::error_reply(call.id, code, message), outcome};
  };
  if (m == "eth_newFilter" || m == "eth_newBlockFilter" || m == "eth_newPendingTransactionFilter") {
    auto filter = std::make_shared<Filter>();
    filter->kind = m == "eth_newFilter"        ? FilterKind::logs
                   : m == "eth_newBlockFilter" ? FilterKind::block
                                               : FilterKind::pending;
    filter->chain = chain.index;
    filter->client = std::string(client);
    if (filter->kind == FilterKind::logs) {
      auto parsed = parse_log_criteria(call.params);
      if (auto* why = std::get_if<std::string>(&parsed)) co_return error(jsonrpc::kInvalidParams, *why);
      filter->criteria = std::move(std::get<LogCriteria>(parsed));
    }
    // Changes start after the newest event the follower has published: a filter sees blocks
    // added after it was installed, as on a node.
    filter->cursor = st.follower.events()->end_seq();
    auto kind = filter->kind;
    auto installed = table_.install(std::move(filter), now);
    if (auto* refusal = std::get_if<FilterTable::Refusal>(&installed)) {
      bool per_client = *refusal == FilterTable::Refusal::per_client;
      (per_client ? st.refused_per_client : st.refused_total)->inc();
      co_return error(jsonrpc::kLimitExceeded,
                      per_client ? fmt::format("too many filters for this client (filters.max_per_client = {}); "
                                               "uninstall some or let them expire",
                                               table_.limits().max_per_client)
                                 : fmt::format("too many filters on this gateway (filters.max_total = {}); retry later",
                                               table_.limits().max_total),
                      Outcome::failed);
    }
    install_metrics(kind, chain.index, 1);
    if (kind == FilterKind::pending) {
      // Hashes come from the chain's pending feed; the filter is answered once that feed holds an
      // upstream filter (briefly waited for), so what is sent after this reply is seen.
      follow_pending(chain);
      asio::steady_timer timer(io);
      auto until = std::min(deadline, Clock::now() + kCatchUpWait);
      while (!st.pending.live() && Clock::now() < until) {
        timer.expires_after(std::chrono::milliseconds(10));
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      }
    } else {
      follow(chain);
    }
    co_return FilterReply{jsonrpc::result_reply(call.id, "\"" + std::get<std::string>(installed) + "\"")};
  }

  auto id = id_param(call.params);
  if (id.empty()) co_return error(jsonrpc::kInvalidParams, "expected [filter id]");
  if (m == "eth_uninstallFilter") {
    // Another chain's filter is not this endpoint's to remove.
    auto found = table_.find(id, now, false);
    auto f = found && found->chain == chain.index ? table_.uninstall(id) : nullptr;
    if (f) install_metrics(f->kind, f->chain, -1);
    co_return FilterReply{jsonrpc::result_reply(call.id, f ? "true" : "false")};
  }
  bool poll = m == "eth_getFilterChanges";
  auto filter = table_.find(id, now, poll);
  if (!filter || filter->chain != chain.index || (!poll && filter->kind != FilterKind::logs)) {
    co_return error(jsonrpc::kFilterNotFound, kNotFound, Outcome::rpc_error);
  }
  if (!poll) {
    // eth_getFilterLogs: every log the criteria match, as eth_getLogs answers them.
    auto got = co_await fetch("[" + filter->criteria.raw + "]");
    co_return FilterReply{std::move(got.reply), got.result ? Outcome::ok : Outcome::failed};
  }
  st.polls[static_cast<size_t>(filter->kind)]->inc();
  co_return co_await changes(io, st, *filter, id, call.id, client, deadline, fetch);
}

asio::awaitable<FilterReply> FilterService::changes(asio::io_context& io, ChainState& st, Filter& f,
                                                    std::string_view id, std::string_view call_id,
                                                    std::string_view client, Clock::time_point deadline,
                                                    LogFetch& fetch) {
  auto events = st.follower.events();
  // Clients poll when they see a new block (ethers polls eth_blockNumber, then the filter): the
  // follower learns of blocks from the health probes, a moment later. Ask it for the block this
  // client has seen and wait for it, briefly, so the poll is not empty until the next block.
  // (Pending filters read no blocks: they do not wait.)
  if (auto seen = client.empty() || f.kind == FilterKind::pending ? std::nullopt : st.chain.heads.get(client, Clock::now());
      seen && (!events->head || events->head->number < *seen)) {
    st.follower.want(*seen);
    asio::steady_timer timer(io);
    auto until = std::min(deadline, Clock::now() + kCatchUpWait);
    while (Clock::now() < until && (!events->head || events->head->number < *seen)) {
      timer.expires_after(std::chrono::milliseconds(10));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      events = st.follower.events();
    }
  }
  auto& chain_name = st.chain.config->name;
  auto count_lost = [&](size_t lost) {
    if (lost == 0) return;
    st.dropped->inc(static_cast<double>(lost));
    if (auto n = st.dropped_log.tick()) {
      log::warn("filter changes dropped: its poller is too slow",
                {{"chain", chain_name}, {"filter", std::string(id)}, {"lost", lost}, {"occurrences", n}});
    }
  };
  if (f.kind != FilterKind::logs) {
    std::vector<std::string> hashes;
    size_t lost = 0;
    {
      std::lock_guard lock(f.mu);
      if (f.kind == FilterKind::block) {
        for (const auto& h : f.take_blocks(*events, lost)) hashes.push_back("\"" + hash_hex(h) + "\"");
      } else {
        hashes.assign(std::make_move_iterator(f.hashes.begin()), std::make_move_iterator(f.hashes.end()));
        f.hashes.clear();
      }
    }
    count_lost(lost);
    co_return FilterReply{jsonrpc::result_reply(call_id, join_array(hashes))};
  }
  std::vector<FilterOp> todo;
  {
    std::lock_guard lock(f.mu);
    if (f.polling) co_return FilterReply{jsonrpc::result_reply(call_id, "[]")};
    count_lost(f.absorb(*events));
    size_t adds = 0;
    for (const auto& op : f.ops) {
      if (op.kind == ChainEvent::Kind::added && ++adds > kMaxAddsPerPoll) break;
      todo.push_back(op);
    }
    f.polling = true;
  }
  std::vector<std::optional<Fetched>> got(todo.size());
  co_await for_each_concurrently(
      io, todo.size(),
      [&](size_t i) -> asio::awaitable<void> {
        const auto& op = todo[i];
        if (op.kind != ChainEvent::Kind::added || !f.criteria.covers(op.number)) co_return;
        got[i] = co_await fetch(f.criteria.params_for(op.hash));
      },
      kFetchConcurrency, "filter logs");
  uint64_t keep_from =
      events->head && events->head->number > kRememberBlocks ? events->head->number - kRememberBlocks : 0;
  std::vector<std::string> out;
  std::optional<std::string> failure;
  size_t forgotten = 0;
  {
    std::lock_guard lock(f.mu);
    size_t done = 0;
    for (size_t i = 0; i < todo.size(); ++i) {
      const auto& op = todo[i];
      if (op.kind == ChainEvent::Kind::removed) {
        auto logs = f.unremember(op.hash);
        if (!logs)
          ++forgotten;
        else
          for (auto& l : *logs) out.push_back(std::move(l));
      } else if (!f.criteria.covers(op.number)) {
        f.remember(op.number, op.hash, {}, keep_from);
      } else {
        auto logs = got[i] && got[i]->result ? logs_of_block(*got[i]->result, op.hash) : std::nullopt;
        if (!logs) {
          // Not fetched (the nodes failed, or do not know the block yet): it and what follows stay
          // for the next poll, so nothing is skipped and the order holds.
          failure = got[i] ? std::move(got[i]->reply) : std::string();
          break;
        }
        for (const auto& l : *logs) out.push_back(l);
        f.remember(op.number, op.hash, std::move(*logs), keep_from);
      }
      ++done;
    }
    f.ops.erase(f.ops.begin(), f.ops.begin() + static_cast<std::ptrdiff_t>(done));
    f.polling = false;
    if (failure && done == 0 && !failure->empty()) {
      if (auto n = st.fetch_log.tick()) {
        log::warn("filter poll could not fetch logs",
                  {{"chain", chain_name}, {"filter", std::string(id)}, {"occurrences", n}});
      }
      co_return FilterReply{std::move(*failure), Outcome::failed};
    }
  }
  count_lost(forgotten);
  co_return FilterReply{jsonrpc::result_reply(call_id, join_array(out))};
}

}  // namespace nodeops::gateway
