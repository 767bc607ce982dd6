#include "gateway/health.h"

#include <boost/asio.hpp>
#include <fmt/format.h>

#include <algorithm>

#include "chains/evm.h"
#include "chains/prober.h"
#include "core/concurrent.h"
#include "core/log.h"
#include "gateway/chain_runtime.h"
#include "gateway/metrics.h"

namespace nodeops::gateway {
namespace asio = boost::asio;

HealthBoard::HealthBoard() { current_.store(std::make_shared<const ChainHealth>()); }

ChainHealth evaluate_health(const ChainConfig& config, std::vector<chains::NodeStatus> statuses,
                            const std::vector<double>& probe_seconds) {
  ChainHealth out;
  out.probed = true;
  out.upstreams.resize(statuses.size());
  // Candidates for the best head: answering, right chain, not syncing.
  std::vector<uint64_t> heads;
  for (size_t i = 0; i < statuses.size(); ++i) {
    auto& u = out.upstreams[i];
    u.status = std::move(statuses[i]);
    u.probe_seconds = i < probe_seconds.size() ? probe_seconds[i] : 0;
    const auto& st = u.status;
    u.head = st.head;
    if (!st.reachable || !st.head) {
      u.reason = "unreachable: " + (st.error.empty() ? std::string("no answer") : st.error);
    } else if (config.type == "evm" && !st.chain_id) {
      u.reason = "no chain id in the answer";
    } else if (config.type == "evm" && *st.chain_id != config.chain_id) {
      u.reason = fmt::format("wrong chain id {} (want {})", *st.chain_id, config.chain_id);
    } else if (st.syncing.value_or(false)) {
      u.reason = config.type == "solana" ? "unhealthy (getHealth)" : "syncing";
    } else {
      u.reason = "";
      heads.push_back(*st.head);
    }
  }
  // Best head: the highest head another candidate corroborates. Without corroboration (a single
  // candidate, or all disagree) take the upper median, so a lone liar cannot set it.
  std::sort(heads.begin(), heads.end());
  uint64_t best = 0;
  bool found = false;
  for (size_t i = heads.size(); i-- > 0;) {
    bool corroborated = (i > 0 && heads[i] - heads[i - 1] <= config.max_lag_blocks) ||
                        (i + 1 < heads.size() && heads[i + 1] - heads[i] <= config.max_lag_blocks);
    if (corroborated) {
      best = heads[i];
      found = true;
      break;
    }
  }
  if (!found && !heads.empty()) best = heads[heads.size() / 2];
  out.best_head = best;
  for (auto& u : out.upstreams) {
    if (!u.reason.empty()) continue;
    uint64_t head = *u.head;
    if (head > best + config.max_lag_blocks) {
      u.reason = fmt::format("head {} is implausibly ahead of the pool ({})", head, best);
      continue;
    }
    u.lag = head >= best ? 0 : best - head;
    if (u.lag > config.max_lag_blocks) {
      u.reason = fmt::format("lagging {} blocks (max {})", u.lag, config.max_lag_blocks);
      continue;
    }
    u.healthy = true;
    u.reason = "ok";
    ++out.healthy;
  }
  return out;
}

struct HealthTracker::Impl {
  asio::io_context& io;
  ChainRuntime& chain;
  const ChainConfig& config;
  HealthBoard& board;
  GatewayMetrics& metrics;
  Duration probe_timeout;
  chains::Prober prober;
  std::vector<std::unique_ptr<chains::Adapter>> adapters;
  // Counters at the previous round, to turn lifetime totals into per-round rates for the history.
  struct Totals {
    double requests = 0, failures = 0;
    std::vector<uint64_t> buckets;
  };
  std::vector<Totals> last;
  std::chrono::steady_clock::time_point last_at = std::chrono::steady_clock::now();

  Impl(asio::io_context& i, ChainRuntime& c, GatewayMetrics& m, Duration t)
      : io(i), chain(c), config(*c.config), board(c.health), metrics(m), probe_timeout(t), prober(i),
        last(c.config->upstreams.size()) {
    for (const auto& u : config.upstreams) adapters.push_back(chains::make_adapter(config.type, u.url.str()));
    chain.history.resize(config.upstreams.size());
  }

  void record_history(const ChainHealth& health) {
    auto now = std::chrono::steady_clock::now();
    double dt = std::max(1e-3, std::chrono::duration<double>(now - last_at).count());
    last_at = now;
    int64_t unix_now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    for (size_t i = 0; i < health.upstreams.size(); ++i) {
      const auto& series = metrics.upstream(chain.index, i);
      Totals now_totals{metrics.upstream_requests(chain.index, i), metrics.upstream_failures(chain.index, i),
                        series.duration->cumulative()};
      auto& prev = last[i];
      HistoryPoint p;
      p.unix_seconds = unix_now;
      p.head = health.upstreams[i].head.value_or(0);
      p.healthy = health.upstreams[i].healthy;
      double requests = now_totals.requests - prev.requests;
      p.rps = requests / dt;
      p.error_ratio = requests > 0 ? (now_totals.failures - prev.failures) / requests : 0;
      p.p99_ms = prev.buckets.empty() ? 0
                                      : metrics::quantile_between(series.duration->bounds(), prev.buckets,
                                                                  now_totals.buckets, 0.99) * 1000;
      prev = std::move(now_totals);
      auto& h = chain.history[i];
      h.push_back(p);
      while (h.size() > ChainRuntime::kHistoryPoints) h.pop_front();
    }
  }
};

HealthTracker::HealthTracker(asio::io_context& io, ChainRuntime& chain, GatewayMetrics& metrics, Duration probe_timeout)
    : impl_(std::make_shared<Impl>(io, chain, metrics, probe_timeout)) {}

void HealthTracker::start() { asio::co_spawn(impl_->io, run(), asio::detached); }

asio::awaitable<void> HealthTracker::round() {
  auto impl = impl_;
  const auto& cfg = impl->config;
  size_t n = cfg.upstreams.size();
  std::vector<chains::NodeStatus> statuses(n);
  std::vector<double> seconds(n);
  // Probe every upstream at once: one slow node must not delay the verdict on the others.
  co_await for_each_concurrently(impl->io, n, [&](size_t i) -> asio::awaitable<void> {
    auto t0 = std::chrono::steady_clock::now();
    statuses[i] = co_await impl->prober.probe(*impl->adapters[i], impl->probe_timeout);
    seconds[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  });

  auto previous = impl->board.load();
  auto next = std::make_shared<ChainHealth>(evaluate_health(cfg, std::move(statuses), seconds));
  for (size_t i = 0; i < n; ++i) {
    const auto& u = next->upstreams[i];
    bool was = previous->probed ? previous->upstreams[i].healthy : false;
    bool had_reason = previous->probed && previous->upstreams[i].reason == u.reason;
    if (u.healthy != was || (!u.healthy && !had_reason)) {
      const auto& name = cfg.upstreams[i].name;
      if (u.healthy) {
        log::info("upstream joined rotation", {{"chain", cfg.name}, {"upstream", name}, {"head", u.head.value_or(0)}});
      } else {
        log::warn("upstream out of rotation",
                  {{"chain", cfg.name}, {"upstream", name}, {"reason", u.reason}, {"head", u.head.value_or(0)}});
      }
    }
  }
  impl->metrics.record_health(cfg, *next);
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
      log::error("health round failed", {{"chain", impl->config.name}, {"error", e.what()}});
    }
    timer.expires_at(started + impl->config.health_interval);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
  }
}

}  // namespace nodeops::gateway
