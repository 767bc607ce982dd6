#include "gateway/health.h"

#include <boost/asio.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "chains/evm.h"
#include "chains/health_rules.h"
#include "chains/prober.h"
#include "core/concurrent.h"
#include "core/log.h"
#include "gateway/chain_runtime.h"
#include "gateway/metrics.h"

namespace nodeops::gateway {
namespace asio = boost::asio;

HealthBoard::HealthBoard() { current_.store(std::make_shared<const ChainHealth>()); }

void HealthBoard::publish(std::shared_ptr<const ChainHealth> next) {
  if (!next->set) {
    auto copy = std::make_shared<ChainHealth>(*next);
    copy->set = load()->set;
    next = std::move(copy);
  }
  current_.store(std::move(next), std::memory_order_release);
}

ChainHealth evaluate_health(const ChainConfig& config, std::vector<chains::NodeStatus> statuses,
                            const std::vector<double>& probe_seconds) {
  ChainHealth out;
  out.probed = true;
  out.upstreams.resize(statuses.size());
  // Candidates for the best head: answering, right chain, in sync.
  std::vector<uint64_t> heads;
  for (size_t i = 0; i < statuses.size(); ++i) {
    auto& u = out.upstreams[i];
    u.status = std::move(statuses[i]);
    u.probe_seconds = i < probe_seconds.size() ? probe_seconds[i] : 0;
    const auto& st = u.status;
    auto [verdict, why] = chains::probe_verdict(config.type, st);
    // A head only counts while the node can be trusted to serve: a down or garbled node has none.
    if (verdict == chains::ProbeVerdict::down || verdict == chains::ProbeVerdict::bad_response) {
      u.state = verdict == chains::ProbeVerdict::down ? UpstreamState::down : UpstreamState::bad_response;
      u.reason = (verdict == chains::ProbeVerdict::down ? "unreachable: " : "bad response: ") + why;
      continue;
    }
    u.head = st.head;
    if (config.type == "evm" && !st.chain_id) {
      u.state = UpstreamState::bad_response;
      u.reason = "no chain id in the answer";
    } else if (config.type == "evm" && *st.chain_id != config.chain_id) {
      u.state = UpstreamState::wrong_chain;
      u.reason = fmt::format("wrong chain id {} (want {})", *st.chain_id, config.chain_id);
    } else if (verdict != chains::ProbeVerdict::serving) {
      u.state = UpstreamState::syncing;
      u.reason = why;
    } else {
      u.reason = "";
      heads.push_back(*st.head);
    }
  }
  uint64_t best = chains::best_head(heads, config.max_lag_blocks).value_or(0);
  out.best_head = best;
  for (auto& u : out.upstreams) {
    if (!u.head) continue;
    uint64_t head = *u.head;
    u.lag = head >= best ? 0 : best - head;  // for syncing nodes too: how far they have to go
    if (!u.reason.empty()) continue;
    if (head > best + config.max_lag_blocks) {
      u.state = UpstreamState::bad_response;
      u.reason = fmt::format("head {} is implausibly ahead of the pool ({})", head, best);
      continue;
    }
    if (u.lag > config.max_lag_blocks) {
      u.state = UpstreamState::lagging;
      u.reason = fmt::format("lagging {} blocks (max {})", u.lag, config.max_lag_blocks);
      continue;
    }
    u.healthy = true;
    u.state = UpstreamState::healthy;
    u.reason = "ok";
    ++out.healthy;
  }
  // Finality facts for the cache, from the nodes' own answers: every healthy upstream must know
  // its head hash (and its finalized block, unless the chain sets a depth), or nothing is assumed.
  bool hashes = out.healthy > 0, finals = out.healthy > 0;
  std::optional<uint64_t> lowest_final;
  for (const auto& u : out.upstreams) {
    if (!u.healthy) continue;
    if (u.status.head_hash.empty()) hashes = false;
    if (!out.head_key.empty()) out.head_key += ',';
    out.head_key += u.status.head_hash;
    if (!u.status.finalized) finals = false;
    else lowest_final = std::min(lowest_final.value_or(UINT64_MAX), *u.status.finalized);
  }
  if (!hashes) out.head_key.clear();
  std::vector<uint64_t> healthy_heads;
  for (const auto& u : out.upstreams) {
    if (u.healthy && u.head) healthy_heads.push_back(*u.head);
  }
  if (!healthy_heads.empty()) {
    std::sort(healthy_heads.begin(), healthy_heads.end(), std::greater<>());
    out.shared_head = healthy_heads[std::min<size_t>(1, healthy_heads.size() - 1)];
  }
  if (config.finality_depth > 0) {
    if (out.healthy > 0 && best >= config.finality_depth) out.finalized = best - config.finality_depth;
  } else if (finals) {
    out.finalized = lowest_final;
  }
  return out;
}

struct HealthTracker::Impl {
  asio::io_context& io;
  ChainRuntime& chain;
  const std::string name;  // the chain's (a reload never changes it)
  HealthBoard& board;
  GatewayMetrics& metrics;
  Duration probe_timeout;
  chains::Prober prober;
  uint64_t last_best_head = 0;  // the last non-zero best head served, to notice it going down
  // Counters at the previous round, to turn lifetime totals into per-round rates for the history.
  struct Totals {
    double requests = 0, failures = 0;
    std::vector<uint64_t> buckets;
  };
  std::unordered_map<size_t, Totals> last;  // by upstream slot
  std::chrono::steady_clock::time_point last_at = std::chrono::steady_clock::now();

  Impl(asio::io_context& i, ChainRuntime& c, GatewayMetrics& m, Duration t)
      : io(i), chain(c), name(c.config->name), board(c.health), metrics(m), probe_timeout(t), prober(i) {}

  // Passive health: real calls that fail too often take an upstream out of rotation even while
  // its probes pass. The breaker is the one mechanism; this only trips it on the window's ratio.
  void apply_passive_health(const UpstreamSet& set, ChainHealth& health, Clock::time_point now) {
    const auto& ph = set.config->passive_health;
    for (size_t i = 0; i < set.upstreams.size(); ++i) {
      auto& up = set.upstreams[i];
      auto& u = health.upstreams[i];
      if (up->breaker.closes() != up->seen_closes) {  // closed again: judge it on new calls only
        up->seen_closes = up->breaker.closes();
        up->window.clear();
      }
      up->window.add(now, up->metrics.requests(), up->metrics.failures(), ph.window);
      double calls = up->window.requests(), failed = up->window.failures();
      if (up->breaker.phase(now) == CircuitBreaker::Phase::closed && calls >= ph.min_calls &&
          failed / calls >= ph.error_ratio) {
        up->breaker.trip(now, UpstreamState::failing_calls);
        log::warn("upstream ejected: its calls fail",
                  {{"chain", name}, {"upstream", up->name()}, {"failed", failed}, {"calls", calls},
                   {"window_s", std::chrono::duration<double>(ph.window).count()}});
      }
      // Never the last one: with no healthy upstream left the chain would refuse every call,
      // and a chain that is merely overloaded must keep serving what it can.
      if (up->breaker.phase(now) == CircuitBreaker::Phase::open && u.healthy && health.healthy > 1) {
        u.healthy = false;
        --health.healthy;
        u.state = up->breaker.reason();
        u.reason = u.state == UpstreamState::failing_calls
                       ? fmt::format("failing_calls: its real calls failed too often (cool-down, then one trial call)")
                       : fmt::format("circuit_open: {} calls in a row failed (cool-down, then one trial call)",
                                     ph.consecutive_failures);
      }
    }
  }

  void log_changes(const ChainHealth& previous, const ChainHealth& next) {
    const auto& set = *next.set;
    for (size_t i = 0; i < set.upstreams.size(); ++i) {
      auto& up = set.upstreams[i];
      const auto& u = next.upstreams[i];
      // The same upstream in the previous snapshot (a reload may have moved or added it).
      std::optional<size_t> before;
      if (previous.probed && previous.set) before = previous.set->position_of_slot(up->slot());
      if (before && *before >= previous.upstreams.size()) before.reset();
      bool was = before ? previous.upstreams[*before].healthy : false;
      bool same_state = before && previous.upstreams[*before].state == u.state;
      if (u.healthy != was || (!u.healthy && !same_state)) {
        if (u.healthy) {
          up->failure_log.reset();
          log::info("upstream joined rotation", {{"chain", name}, {"upstream", up->name()}, {"head", u.head.value_or(0)}});
        } else {
          log::warn("upstream out of rotation", {{"chain", name}, {"upstream", up->name()},
                                                 {"state", state_name(u.state)}, {"reason", u.reason},
                                                 {"head", u.head.value_or(0)}});
        }
      }
    }
    if (next.healthy == 0 && (!previous.probed || previous.healthy > 0)) {
      log::error("chain has no healthy upstream: its calls fail", {{"chain", name}});
    } else if (next.healthy > 0 && previous.probed && previous.healthy == 0) {
      chain.unavailable_log.reset();
      log::info("chain has a healthy upstream again", {{"chain", name}, {"healthy", next.healthy}});
    }
    // The best head going down is what clients see as time going backwards.
    if (next.best_head > 0) {
      if (last_best_head > 0 && next.best_head < last_best_head) {
        metrics.count_head_regression(chain.index);
        log::warn("best head went backwards", {{"chain", name}, {"from", last_best_head},
                                               {"to", next.best_head}, {"healthy", next.healthy}});
      }
      last_best_head = next.best_head;
    }
  }

  void record_history(const ChainHealth& health) {
    auto now = std::chrono::steady_clock::now();
    double dt = std::max(1e-3, std::chrono::duration<double>(now - last_at).count());
    last_at = now;
    int64_t unix_now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    std::unordered_map<size_t, Totals> kept;
    const auto& set = *health.set;
    for (size_t i = 0; i < set.upstreams.size(); ++i) {
      auto& up = set.upstreams[i];
      auto& m = up->metrics;
      Totals now_totals{m.requests(), m.failures(), m.duration().cumulative()};
      auto& prev = last[up->slot()];
      HistoryPoint p;
      p.unix_seconds = unix_now;
      p.head = health.upstreams[i].head.value_or(0);
      p.healthy = health.upstreams[i].healthy;
      double requests = now_totals.requests - prev.requests;
      p.rps = requests / dt;
      p.error_ratio = requests > 0 ? (now_totals.failures - prev.failures) / requests : 0;
      p.p99_ms = prev.buckets.empty() ? 0
                                      : metrics::quantile_between(m.duration().bounds(), prev.buckets,
                                                                  now_totals.buckets, 0.99) * 1000;
      kept[up->slot()] = std::move(now_totals);
      up->history.push_back(p);
      while (up->history.size() > Upstream::kHistoryPoints) up->history.pop_front();
    }
    last = std::move(kept);  // upstreams a reload removed are forgotten
  }
};

HealthTracker::HealthTracker(asio::io_context& io, ChainRuntime& chain, GatewayMetrics& metrics, Duration probe_timeout)
    : impl_(std::make_shared<Impl>(io, chain, metrics, probe_timeout)) {}

void HealthTracker::start() {
  asio::co_spawn(impl_->io, run(), log_failure("health tracker of chain " + impl_->name));
}

asio::awaitable<void> HealthTracker::round(std::shared_ptr<const UpstreamSet> set) {
  auto impl = impl_;
  if (!set) set = impl->chain.latest_set;
  const auto& ups = set->upstreams;
  size_t n = ups.size();
  // How each upstream is reached beyond its URL (CAs for https, a provider's key headers): probes
  // go through the same TLS client, with the same verification, as traffic.
  std::vector<chains::ProbeAccess> access;
  for (const auto& up : ups) access.push_back({up->config().ca_file, up->config().headers});
  std::vector<chains::NodeStatus> statuses(n);
  std::vector<double> seconds(n);
  // Probe every upstream at once: one slow node must not delay the verdict on the others.
  co_await for_each_concurrently(impl->io, n, [&](size_t i) -> asio::awaitable<void> {
    auto t0 = std::chrono::steady_clock::now();
    statuses[i] = co_await impl->prober.probe(ups[i]->adapter(), impl->probe_timeout, access[i]);
    seconds[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  });

  // A reload decided a newer set while this round probed: its own round publishes.
  if (set != impl->chain.latest_set) co_return;
  auto previous = impl->board.load();
  auto next = std::make_shared<ChainHealth>(evaluate_health(*set->config, std::move(statuses), seconds));
  next->set = set;
  impl->apply_passive_health(*set, *next, Clock::now());
  impl->log_changes(*previous, *next);
  for (size_t i = 0; i < n; ++i) {
    auto& up = ups[i];
    const auto& u = next->upstreams[i];
    // A head is only published while it is fresh: down and garbled nodes have none.
    up->metrics.set_health(u.healthy, u.state, u.head, u.lag);
  }
  impl->metrics.record_health(impl->chain.index, *next);
  impl->record_history(*next);
  impl->board.publish(std::move(next));
}

asio::awaitable<void> HealthTracker::run() {
  auto impl = impl_;
  asio::steady_timer timer(impl->io);
  for (;;) {
    auto started = std::chrono::steady_clock::now();
    try {
      co_await round();
    } catch (const std::exception& e) {
      log::error("health round failed", {{"chain", impl->name}, {"error", e.what()}});
    }
    timer.expires_at(started + impl->chain.latest_set->config->health_interval);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
  }
}

}  // namespace nodeops::gateway
