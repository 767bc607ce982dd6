#include "gateway/pending_feed.h"

#include "core/coroutine_warnings.h"

#include <simdjson.h>

#include <algorithm>
#include <boost/asio.hpp>

#include "core/concurrent.h"
#include "core/jsonrpc.h"
#include "core/log.h"
#include "gateway/chain_runtime.h"
#include "gateway/follower.h"
#include "gateway/loop_context.h"

namespace nodeops::gateway {
namespace asio = boost::asio;

namespace {

constexpr uint64_t kMaxResultBytes = 16 << 20;

// A filter id as a node returns it, safe to write back into params: a JSON string of a few
// dozen letters and digits (geth and anvil write a quantity).
bool plain_id(std::string_view raw) {
  if (raw.size() < 3 || raw.size() > 130 || raw.front() != '"' || raw.back() != '"') return false;
  return std::all_of(raw.begin() + 1, raw.end() - 1,
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; });
}

}  // namespace

asio::awaitable<std::optional<std::string>> call_healthy(UpstreamClient& client, ChainRuntime& chain, Duration timeout,
                                                         uint64_t& next_id, std::string_view method,
                                                         std::string params, std::optional<size_t> only,
                                                         Answered* answered) {
  // One snapshot: its verdicts and its upstream set have the same positions (a reload publishes
  // both at once); `only` names an upstream by its slot, which no reload reuses.
  auto health = chain.health.load();
  const auto& set = *health->set;
  std::vector<size_t> order;
  for (size_t i = 0; i < health->upstreams.size() && i < set.upstreams.size(); ++i) {
    if (health->upstreams[i].healthy && (!only || *only == set.upstreams[i]->slot())) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return health->upstreams[a].head.value_or(0) > health->upstreams[b].head.value_or(0);
  });
  size_t tried = 0;
  for (size_t u : order) {
    if (++tried > 3) break;
    uint64_t id = next_id++;
    auto upstream = set.upstreams[u];  // held: a reload may drop it from the set meanwhile
    auto res =
        co_await client.post(*upstream, jsonrpc::upstream_request(id, method, params), timeout, {kMaxResultBytes});
    if (!res.ok() || res.status != 200) continue;
    auto reply = jsonrpc::parse_upstream_reply(res.body, id);
    if (reply.kind != jsonrpc::UpstreamReply::Kind::result) continue;
    if (answered) *answered = Answered{upstream->slot(), upstream->name()};
    co_return std::string(reply.payload);
  }
  co_return std::nullopt;
}

std::optional<std::vector<std::string>> pending_hashes(std::string_view result) {
  simdjson::dom::parser parser;
  simdjson::dom::array arr;
  if (parser.parse(simdjson::padded_string(result)).get_array().get(arr)) return std::nullopt;
  std::vector<std::string> out;
  for (auto item : arr) {
    std::string_view hash;
    if (item.get_string().get(hash)) continue;
    if (auto parsed = parse_block_hash(hash)) out.push_back("\"" + hash_hex(*parsed) + "\"");
  }
  return out;
}

void PendingFeed::ensure_running(asio::io_context& io, std::string chain_name, Call call, Duration interval,
                                 std::function<bool()> wanted, Listener on_batch) {
  if (running_.exchange(true)) return;
  // Posted: callers are traffic loops, and the feed's state belongs to `io`'s thread.
  asio::post(io, [this, &io, chain_name = std::move(chain_name), call = std::move(call), interval,
                  wanted = std::move(wanted), on_batch = std::move(on_batch)] {
    asio::co_spawn(io, run(io, chain_name, call, interval, wanted, on_batch),
                   log_failure("pending-transaction feed of chain " + chain_name, [this] {
                     live_.store(false);
                     running_.store(false);
                   }));
  });
}

asio::awaitable<void> PendingFeed::run(asio::io_context& io, std::string chain_name, Call call, Duration interval,
                                       std::function<bool()> wanted, Listener on_batch) {
  log::info("pending-transaction feed started", {{"chain", chain_name}});
  asio::steady_timer timer(io);
  std::optional<size_t> upstream;  // the slot of the node holding the filter
  std::string filter;              // the filter's id on that node, as JSON
  bool started = false;            // a filter was installed once: the next install is a restart
  log::Pow2Sampler lost_log;
  for (;;) {
    if (!wanted()) {
      if (!filter.empty()) co_await call("eth_uninstallFilter", "[" + filter + "]", upstream, nullptr);
      filter.clear();
      upstream.reset();
      live_.store(false);
      running_.store(false);
      // Someone may have wanted it between the check and the store: then they saw it running and
      // did not start another, so this one goes on.
      if (!wanted() || running_.exchange(true)) {
        log::info("pending-transaction feed stopped: nothing reads it", {{"chain", chain_name}});
        if (on_batch) on_batch(Batch{{}, false, false});
        co_return;
      }
      started = false;
    }
    if (filter.empty()) {
      Answered at;
      auto id = co_await call("eth_newPendingTransactionFilter", "[]", std::nullopt, &at);
      if (id && plain_id(*id)) {
        bool restarted = started;
        started = true;
        upstream = at.slot;
        filter = std::move(*id);
        live_.store(true);
        log::info("pending-transaction feed installed its upstream filter",
                  {{"chain", chain_name}, {"upstream", at.upstream}, {"restart", restarted}});
        if (restarted && on_batch) on_batch(Batch{{}, true, true});
      }
    } else {
      auto changes = co_await call("eth_getFilterChanges", "[" + filter + "]", upstream, nullptr);
      auto hashes = changes ? pending_hashes(*changes) : std::nullopt;
      if (!hashes) {
        // The node failed, left rotation or forgot the filter: install one again, on the best node.
        if (auto n = lost_log.tick()) {
          log::warn("pending-transaction feed lost its upstream filter; installing it again",
                    {{"chain", chain_name}, {"occurrences", n}});
        }
        filter.clear();
        upstream.reset();
        live_.store(false);
        continue;
      }
      if (!hashes->empty() && on_batch) on_batch(Batch{std::move(*hashes), false, true});
    }
    timer.expires_after(interval);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace nodeops::gateway
