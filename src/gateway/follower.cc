#include "gateway/follower.h"

#include "core/coroutine_warnings.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <boost/asio.hpp>

#include "core/concurrent.h"
#include "core/jsonrpc.h"
#include "core/log.h"
#include "gateway/chain_runtime.h"
#include "gateway/loop_context.h"

namespace nodeops::gateway {
namespace asio = boost::asio;

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<uint64_t> parse_quantity(std::string_view s) {
  if (s.size() < 3 || s.size() > 18 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return std::nullopt;
  uint64_t v = 0;
  for (char c : s.substr(2)) {
    int d = hex_digit(c);
    if (d < 0) return std::nullopt;
    v = v * 16 + static_cast<uint64_t>(d);
  }
  return v;
}

}  // namespace

std::optional<BlockHash> parse_block_hash(std::string_view hex) {
  if (hex.size() != 66 || hex[0] != '0' || (hex[1] != 'x' && hex[1] != 'X')) return std::nullopt;
  BlockHash out{};
  for (size_t i = 0; i < 32; ++i) {
    int hi = hex_digit(hex[2 + 2 * i]), lo = hex_digit(hex[3 + 2 * i]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return out;
}

std::string hash_hex(const BlockHash& hash) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "0x";
  out.reserve(66);
  for (uint8_t b : hash) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

std::optional<BlockHeader> parse_block_header(std::string_view result) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(simdjson::padded_string(result)).get(doc) || !doc.is_object()) return std::nullopt;
  std::string_view number, hash, parent;
  if (doc["number"].get_string().get(number) || doc["hash"].get_string().get(hash) ||
      doc["parentHash"].get_string().get(parent)) {
    return std::nullopt;
  }
  auto n = parse_quantity(number);
  auto h = parse_block_hash(hash);
  auto p = parse_block_hash(parent);
  if (!n || !h || !p) return std::nullopt;
  // geth's header object: the block's fields, in the node's order and bytes, without the body.
  std::string json = "{";
  simdjson::dom::object fields;
  if (doc.get_object().get(fields)) return std::nullopt;
  for (auto [key, value] : fields) {
    if (key == "transactions" || key == "uncles" || key == "withdrawals" || key == "size" ||
        key == "totalDifficulty" || key.find_first_of("\"\\") != std::string_view::npos ||
        std::any_of(key.begin(), key.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
      continue;  // (a key that would need escaping is no header field)
    }
    if (json.size() > 1) json += ',';
    json += '"';
    json += key;
    json += "\":";
    json += simdjson::to_string(value);
  }
  json += '}';
  return BlockHeader{*n, *h, *p, std::make_shared<const std::string>(std::move(json))};
}

std::span<const ChainEvent> ChainEvents::since(uint64_t seq) const {
  if (seq <= first_seq) return events;
  if (seq >= end_seq()) return {};
  return std::span<const ChainEvent>(events).subspan(seq - first_seq);
}

UpstreamBlockSource::UpstreamBlockSource(ChainRuntime& chain, UpstreamClient& client, Duration timeout)
    : chain_(chain), client_(client), timeout_(timeout) {}

asio::awaitable<std::optional<BlockHeader>> UpstreamBlockSource::block(uint64_t number) {
  auto health = chain_.health.load();
  const auto& set = *health->set;
  // Candidates: the one that answered last (while healthy), then the others, highest head first.
  std::vector<size_t> order;
  for (size_t i = 0; i < health->upstreams.size() && i < set.upstreams.size(); ++i) {
    if (health->upstreams[i].healthy) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (sticky_ == a || sticky_ == b) return sticky_ == a;
    return health->upstreams[a].head.value_or(0) > health->upstreams[b].head.value_or(0);
  });
  auto params = fmt::format("[\"0x{:x}\",false]", number);
  size_t tried = 0;
  for (size_t u : order) {
    if (++tried > 3) break;
    uint64_t id = next_id_++;
    auto res = co_await client_.post(
        *set.upstreams[u], jsonrpc::upstream_request(id, "eth_getBlockByNumber", params), timeout_, {1 << 20});
    if (!res.ok() || res.status != 200) continue;
    auto reply = jsonrpc::parse_upstream_reply(res.body, id);
    if (reply.kind != jsonrpc::UpstreamReply::Kind::result) continue;
    auto header = parse_block_header(reply.payload);
    if (header && header->number == number) {
      if (sticky_ && *sticky_ != u) ++switches_;
      sticky_ = u;
      co_return header;
    }
  }
  co_return std::nullopt;
}

ChainFollower::ChainFollower(Options options) : options_(options) {
  published_.store(std::make_shared<const ChainEvents>());
}

void ChainFollower::publish(std::vector<ChainEvent> fresh) {
  auto old = events();
  auto next = std::make_shared<ChainEvents>();
  size_t total = old->events.size() + fresh.size();
  size_t drop = total > options_.max_events ? total - options_.max_events : 0;
  next->first_seq = old->first_seq + drop;
  next->events.reserve(total - drop);
  for (size_t i = std::min(drop, old->events.size()); i < old->events.size(); ++i)
    next->events.push_back(old->events[i]);
  size_t skip_fresh = drop > old->events.size() ? drop - old->events.size() : 0;
  for (size_t i = skip_fresh; i < fresh.size(); ++i) next->events.push_back(fresh[i]);
  if (!window_.empty()) next->head = window_.back();
  published_.store(std::move(next), std::memory_order_release);
}

void ChainFollower::reset() {
  window_.clear();
  publish({});
}

asio::awaitable<ChainFollower::StepReport> ChainFollower::step(BlockSource& source, uint64_t target) {
  StepReport report;
  const uint64_t switches_before = source.switches();
  if (window_.empty()) {
    auto start = co_await source.block(target);
    if (start) {
      window_.push_back(*start);
      publish({});
      report.head = start->number;
    }
    report.source_switches = source.switches() - switches_before;
    co_return report;
  }
  // Work on a copy: whatever a step cannot finish is not published half-done.
  auto window = window_;
  std::vector<ChainEvent> fresh;
  size_t fetched = 0;
  while (fetched < options_.max_blocks_per_step && !window.empty()) {
    const BlockHeader tip = window.back();
    std::optional<BlockHeader> next;
    if (tip.number < target) {
      next = co_await source.block(tip.number + 1);
      ++fetched;
      if (next && next->parent == tip.hash) {
        window.push_back(*next);
        fresh.push_back({ChainEvent::Kind::added, next->number, next->hash, next->json});
        if (next->number < target) ++report.backfilled;
        continue;
      }
    }
    if (!next) {
      // At the pool's head (or the next block is not there yet): is the tip still canonical? A
      // reorg to a chain of the same height or shorter shows only here.
      next = co_await source.block(tip.number);
      ++fetched;
      if (next && next->hash == tip.hash) break;
      if (!next) {
        // The tip is gone: a shorter chain when the pool's head is below it (else the node lags).
        if (tip.number <= target) break;
        next = co_await source.block(target);
        ++fetched;
        if (!next) break;
        auto held =
            std::find_if(window.begin(), window.end(), [&](const BlockHeader& b) { return b.number == target; });
        if (held != window.end() && held->hash == next->hash) break;
      }
    }
    // A reorg: walk the new chain back until it joins the window.
    std::vector<BlockHeader> pending{*next};  // the new chain, highest first
    std::vector<BlockHeader> removed;         // the old chain, highest first
    bool failed = false;
    for (;;) {
      const BlockHeader low = pending.back();
      if (window.empty()) break;  // deeper than the window: the new chain starts over from here
      const BlockHeader t = window.back();
      if (t.number >= low.number) {
        removed.push_back(t);
        window.pop_back();
        continue;
      }
      if (t.number + 1 == low.number) {
        if (t.hash == low.parent) break;  // joined
        removed.push_back(t);
        window.pop_back();
      }
      if (low.number == 0 || ++fetched > options_.max_blocks_per_step + options_.window_blocks) {
        failed = low.number != 0;
        if (!failed) {
          // Another genesis: everything the window holds is gone.
          while (!window.empty()) {
            removed.push_back(window.back());
            window.pop_back();
          }
        }
        break;
      }
      auto parent = co_await source.block(low.number - 1);
      // The source changed its mind while we walked (another fork, or it failed): try next step.
      if (!parent || parent->hash != low.parent) {
        failed = true;
        break;
      }
      pending.push_back(*parent);
    }
    if (failed) {
      for (auto it = removed.rbegin(); it != removed.rend(); ++it) window.push_back(*it);
      break;
    }
    for (auto it = removed.rbegin(); it != removed.rend(); ++it) {
      fresh.push_back({ChainEvent::Kind::removed, it->number, it->hash});
    }
    for (auto it = pending.rbegin(); it != pending.rend(); ++it) {
      window.push_back(*it);
      fresh.push_back({ChainEvent::Kind::added, it->number, it->hash, it->json});
    }
    ++report.reorgs;
    report.removed_blocks += removed.size();
  }
  while (window.size() > options_.window_blocks) window.pop_front();
  window_ = std::move(window);
  if (!window_.empty()) report.head = window_.back().number;
  if (!fresh.empty()) publish(std::move(fresh));
  report.source_switches = source.switches() - switches_before;
  co_return report;
}

void ChainFollower::ensure_running(asio::io_context& io, ChainRuntime& chain, BlockSource& source, Duration interval,
                                   std::function<bool()> wanted, Listener on_step) {
  io_.store(&io);
  if (running_.exchange(true)) return;
  // Posted: callers are traffic loops, and the follower's state belongs to `io`'s thread.
  asio::post(io, [this, &io, &chain, &source, interval, wanted = std::move(wanted), on_step = std::move(on_step)] {
    asio::co_spawn(io, run(io, chain, source, interval, wanted, on_step),
                   log_failure("block follower of chain " + chain.config->name, [this] { running_.store(false); }));
  });
}

void ChainFollower::want(uint64_t number) {
  uint64_t current = wanted_.load();
  while (current < number && !wanted_.compare_exchange_weak(current, number)) {
  }
  if (auto* io = io_.load(); io && current < number) {
    asio::post(*io, [this] {
      if (auto timer = timer_.lock()) timer->cancel();
    });
  }
}

asio::awaitable<void> ChainFollower::run(asio::io_context& io, ChainRuntime& chain, BlockSource& source,
                                         Duration interval, std::function<bool()> wanted, Listener on_step) {
  log::info("block follower started", {{"chain", chain.config->name}});
  auto timer = std::make_shared<asio::steady_timer>(io);
  timer_ = timer;
  uint64_t done_head = 0;
  std::string done_key;
  bool have_done = false;
  for (;;) {
    if (!wanted()) {
      reset();
      running_.store(false);
      // Someone may have wanted it between the check and the store: then they saw it running and
      // did not start another, so this one goes on.
      if (!wanted() || running_.exchange(true)) {
        log::info("block follower stopped: nothing follows the chain", {{"chain", chain.config->name}});
        if (on_step) on_step(StepReport{std::nullopt, 0, 0, false});
        co_return;
      }
      have_done = false;
    }
    auto health = chain.health.load();
    // A step costs calls only when the pool's head (or a head hash: a reorg at the same height)
    // changed since the last complete one, a client asked for a block beyond the tip, or the
    // follower has no window yet.
    auto tip = events()->head;
    uint64_t target = std::max(health->best_head, wanted_.load());
    bool changed =
        !have_done || health->best_head != done_head || health->head_key != done_key || !tip || tip->number < target;
    // (A pool at genesis has best_head 0: the walk starts from block 0 then, so block 1 is sent.)
    if (health->healthy > 0 && (health->best_head > 0 || (!tip && health->probed)) && changed) {
      StepReport report;
      try {
        report = co_await step(source, target);
      } catch (const std::exception& e) {
        log::warn("block follower step failed", {{"chain", chain.config->name}, {"error", e.what()}});
      }
      if (report.head && *report.head >= health->best_head) {
        done_head = health->best_head;
        done_key = health->head_key;
        have_done = true;
      }
      if (on_step) on_step(report);
    } else if (on_step) {
      on_step(StepReport{events()->head ? std::optional(events()->head->number) : std::nullopt});
    }
    // Sleeps until the next step, or until want() wakes it (a cancelled wait).
    timer->expires_after(interval);
    co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace nodeops::gateway
