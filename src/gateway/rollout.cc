#include "gateway/rollout.h"

#include <boost/asio.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/concurrent.h"
#include "core/json.h"
#include "core/log.h"

namespace nodeops::gateway {
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

struct RolloutManager::Impl : std::enable_shared_from_this<RolloutManager::Impl> {
  asio::io_context& io;
  std::vector<std::unique_ptr<ChainRuntime>>& chains;
  GatewayMetrics& metrics;
  std::string state_file;
  std::map<std::string, RolloutStatus> status;   // by chain
  std::map<std::string, uint64_t> generation;    // bumps on every start/abort: stale watchers stop

  Impl(asio::io_context& i, std::vector<std::unique_ptr<ChainRuntime>>& c, GatewayMetrics& m, std::string f)
      : io(i), chains(c), metrics(m), state_file(std::move(f)) {}

  ChainRuntime* find(const std::string& name) {
    for (auto& c : chains) {
      if (c->config->name == name) return c.get();
    }
    return nullptr;
  }

  void apply(ChainRuntime& chain, RolloutStatus& st, const std::string& phase, const std::string& reason = {}) {
    auto set = chain.upstreams();  // the config in force (a reload may have changed it)
    const auto& cfg = *set->config;
    st.phase = phase;
    st.reason = reason;
    st.updated_unix = unix_now();
    TrafficSplit split;
    if (phase == "shifting") {
      if (st.percent < 100) split.pools.emplace_back(st.from, 100 - st.percent);
      if (st.percent > 0) split.pools.emplace_back(st.to, st.percent);
    } else if (phase == "completed") {
      chain.active_pool = st.to;
      split.pools.emplace_back(st.to, 100);
    } else {
      chain.active_pool = st.from.empty() ? chain.active_pool : st.from;
      split.pools.emplace_back(chain.active_pool, 100);
    }
    chain.set_traffic(split);
    for (const auto& pool : cfg.pools()) metrics.set_traffic(cfg, pool, split.share(pool));
    metrics.set_active_pool(cfg, chain.active_pool);
    metrics.set_rollout_phase(cfg, phase);
    if (phase == "completed" || phase == "rolled_back" || phase == "aborted") metrics.count_rollout(cfg, phase);
    auto level = phase == "rolled_back" ? log::Level::warn : log::Level::info;
    log::write(level, "rollout " + phase,
               {{"chain", cfg.name}, {"from", st.from}, {"to", st.to}, {"percent", st.percent},
                {"pool", chain.active_pool}, {"reason", reason}});
    persist();
  }

  // The target pool's health and traffic figures since `since_*` snapshots.
  struct Window {
    std::vector<double> requests, failures;
    std::vector<std::vector<uint64_t>> buckets;
  };
  Window snapshot(ChainRuntime& chain, const std::string& pool) {
    Window w;
    auto set = chain.upstreams();
    for (size_t i = 0; i < set->upstreams.size(); ++i) {
      auto& up = set->upstreams[i];
      bool in = set->config->upstreams[i].pool == pool;
      w.requests.push_back(in ? up->metrics.requests() : 0);
      w.failures.push_back(in ? up->metrics.failures() : 0);
      w.buckets.push_back(in ? up->metrics.duration().cumulative() : std::vector<uint64_t>{});
    }
    return w;
  }

  // Why the target pool fails its gates now, or "" when it passes.
  std::string check(ChainRuntime& chain, const RolloutStatus& st, const Window& start) {
    auto health = chain.health.load();
    const auto& cfg = *health->set->config;
    size_t healthy = 0;
    for (size_t i = 0; i < cfg.upstreams.size() && i < health->upstreams.size(); ++i) {
      if (cfg.upstreams[i].pool == st.to && health->upstreams[i].healthy) ++healthy;
    }
    if (healthy < cfg.min_healthy) {
      return fmt::format("pool {} has {} healthy upstreams (min_healthy {})", st.to, healthy, cfg.min_healthy);
    }
    auto now = snapshot(chain, st.to);
    double requests = 0, failures = 0;
    std::vector<uint64_t> before, after;
    for (size_t i = 0; i < cfg.upstreams.size() && i < now.requests.size(); ++i) {
      // (A reload during the switch moves positions: the window restarts with the new set.)
      if (cfg.upstreams[i].pool != st.to || i >= start.requests.size()) continue;
      requests += now.requests[i] - start.requests[i];
      failures += now.failures[i] - start.failures[i];
      if (before.empty()) {
        before = start.buckets[i];
        after = now.buckets[i];
      } else {
        for (size_t b = 0; b < after.size(); ++b) {
          before[b] += start.buckets[i][b];
          after[b] += now.buckets[i][b];
        }
      }
    }
    if (requests > 0 && failures / requests > st.plan.max_error_ratio) {
      return fmt::format("pool {} error ratio {:.3f} > {} ({} of {} calls failed)", st.to, failures / requests,
                         st.plan.max_error_ratio, failures, requests);
    }
    if (requests > 0) {
      double p99 = metrics::quantile_between(metrics::latency_buckets(), before, after, 0.99);
      if (p99 * 1000 > static_cast<double>(st.plan.max_p99.count())) {
        return fmt::format("pool {} p99 {:.0f}ms > {}ms", st.to, p99 * 1000, st.plan.max_p99.count());
      }
    }
    return "";
  }

  asio::awaitable<void> run(std::string chain_name, uint64_t gen) {
    auto self = shared_from_this();
    asio::steady_timer timer(io);
    auto* chain = find(chain_name);
    auto& st = status[chain_name];
    for (size_t step = 0; step < st.plan.steps.size(); ++step) {
      if (generation[chain_name] != gen) co_return;
      st.step = step;
      st.percent = st.plan.steps[step];
      apply(*chain, st, "shifting");
      auto start = snapshot(*chain, st.to);
      auto bake_end = Clock::now() + st.plan.bake;
      // Gates are checked every half second (or more often for short bakes), so a failing pool is
      // rolled back well within one bake period.
      auto interval = std::min<Duration>(Duration(500), std::max<Duration>(Duration(50), st.plan.bake / 4));
      while (Clock::now() < bake_end) {
        timer.expires_after(interval);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (generation[chain_name] != gen) co_return;
        auto why = check(*chain, st, start);
        if (!why.empty()) {
          apply(*chain, st, "rolled_back", why);
          co_return;
        }
      }
    }
    if (generation[chain_name] != gen) co_return;
    apply(*chain, st, "completed");
  }

  void persist() {
    if (state_file.empty()) return;
    std::string out = "{\"chains\":{";
    bool first = true;
    for (auto& c : chains) {
      auto it = status.find(c->config->name);
      if (!first) out += ",";
      first = false;
      json::append_string(out, c->config->name);
      out += ":{\"active_pool\":";
      json::append_string(out, c->active_pool);
      out += ",\"phase\":";
      json::append_string(out, it == status.end() ? "idle" : it->second.phase);
      out += ",\"from\":";
      json::append_string(out, it == status.end() ? "" : it->second.from);
      out += ",\"to\":";
      json::append_string(out, it == status.end() ? "" : it->second.to);
      out += "}";
    }
    out += "}}\n";
    std::string tmp = state_file + ".tmp";
    {
      std::ofstream f(tmp, std::ios::trunc);
      f << out;
      if (!f) {
        log::error("cannot write rollout state", {{"file", state_file}});
        return;
      }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, state_file, ec);
    if (ec) log::error("cannot write rollout state", {{"file", state_file}, {"error", ec.message()}});
  }
};

RolloutManager::RolloutManager(asio::io_context& io, std::vector<std::unique_ptr<ChainRuntime>>& chains,
                               GatewayMetrics& metrics, std::string state_file)
    : impl_(std::make_shared<Impl>(io, chains, metrics, std::move(state_file))) {}

RolloutManager::~RolloutManager() = default;

void RolloutManager::restore() {
  if (impl_->state_file.empty()) return;
  std::ifstream in(impl_->state_file);
  if (!in) return;
  std::stringstream ss;
  ss << in.rdbuf();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::object chains;
  if (parser.parse(ss.str()).get(doc) || doc["chains"].get_object().get(chains)) {
    log::warn("ignoring unreadable rollout state", {{"file", impl_->state_file}});
    return;
  }
  for (auto [name, value] : chains) {
    auto* chain = impl_->find(std::string(name));
    if (!chain) continue;
    std::string_view active, phase, from, to;
    if (value["active_pool"].get_string().get(active) || value["phase"].get_string().get(phase)) continue;
    if (value["from"].get_string().get(from)) from = {};
    if (value["to"].get_string().get(to)) to = {};
    auto pools = chain->config->pools();
    auto& st = impl_->status[chain->config->name];
    st.from = std::string(from);
    st.to = std::string(to);
    if (phase == "shifting") {
      // A switch was in flight when the gateway stopped: its gates can't be re-checked, so undo it.
      if (std::find(pools.begin(), pools.end(), st.from) != pools.end()) {
        impl_->apply(*chain, st, "rolled_back", "gateway restarted during the switch");
      }
      continue;
    }
    if (std::find(pools.begin(), pools.end(), std::string(active)) == pools.end()) continue;
    chain->active_pool = std::string(active);
    st.phase = std::string(phase);
    chain->set_traffic(TrafficSplit{{{chain->active_pool, 100.0}}});
    const auto& cfg = *chain->config;
    for (const auto& pool : pools) impl_->metrics.set_traffic(cfg, pool, pool == chain->active_pool ? 100 : 0);
    impl_->metrics.set_active_pool(cfg, chain->active_pool);
    impl_->metrics.set_rollout_phase(cfg, st.phase);
    log::info("rollout state restored", {{"chain", cfg.name}, {"pool", chain->active_pool}, {"phase", st.phase}});
  }
}

std::optional<std::string> RolloutManager::start(const std::string& chain_name, RolloutPlan plan) {
  auto* chain = impl_->find(chain_name);
  if (!chain) return fmt::format("unknown chain '{}'", chain_name);
  auto set = chain->upstreams();  // the config in force (a reload may have changed it)
  const auto& cfg = *set->config;
  auto refuse = [&](std::string why) -> std::optional<std::string> {
    impl_->metrics.count_rollout(cfg, "refused");
    log::warn("rollout refused", {{"chain", cfg.name}, {"to", plan.to}, {"reason", why}});
    return why;
  };
  auto pools = cfg.pools();
  if (std::find(pools.begin(), pools.end(), plan.to) == pools.end()) return refuse(fmt::format("no pool '{}'", plan.to));
  auto& st = impl_->status[chain_name];
  if (st.phase == "shifting") return refuse(fmt::format("a switch to {} is already running", st.to));
  if (plan.to == chain->active_pool) return refuse(fmt::format("{} is already the active pool", plan.to));
  if (plan.steps.empty() || plan.steps.back() != 100) return refuse("the last step must be 100");
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    if (plan.steps[i] <= 0 || plan.steps[i] > 100 || (i && plan.steps[i] <= plan.steps[i - 1])) {
      return refuse("steps must rise from above 0 to 100");
    }
  }
  auto health = chain->health.load();
  size_t healthy = 0;
  for (size_t i = 0; i < health->set->upstreams.size() && i < health->upstreams.size(); ++i) {
    if (health->set->config->upstreams[i].pool == plan.to && health->upstreams[i].healthy) ++healthy;
  }
  if (healthy < cfg.min_healthy) {
    return refuse(fmt::format("pool {} has {} healthy upstreams in sync, min_healthy is {}", plan.to, healthy,
                              cfg.min_healthy));
  }
  st = RolloutStatus{};
  st.from = chain->active_pool;
  st.to = plan.to;
  st.plan = std::move(plan);
  uint64_t gen = ++impl_->generation[chain_name];
  // A watcher that dies mid-switch would leave traffic split between pools with nobody checking
  // the gates: roll the switch back to where it started.
  auto impl = impl_;
  asio::co_spawn(impl_->io, impl_->run(chain_name, gen),
                 log_failure("rollout watcher of chain " + chain_name, [impl, chain_name, gen] {
                   auto* runtime = impl->find(chain_name);
                   if (!runtime || impl->generation[chain_name] != gen) return;
                   impl->apply(*runtime, impl->status[chain_name], "rolled_back", "the rollout watcher failed");
                 }));
  st.phase = "shifting";
  return std::nullopt;
}

std::optional<std::string> RolloutManager::abort(const std::string& chain_name) {
  auto* chain = impl_->find(chain_name);
  if (!chain) return fmt::format("unknown chain '{}'", chain_name);
  auto& st = impl_->status[chain_name];
  if (st.phase != "shifting") return fmt::format("no switch is running (phase {})", st.phase);
  ++impl_->generation[chain_name];
  impl_->apply(*chain, st, "aborted", "aborted by an operator");
  return std::nullopt;
}

std::optional<std::string> RolloutManager::status_json(const std::string& chain_name) const {
  auto* chain = impl_->find(chain_name);
  if (!chain) return std::nullopt;
  RolloutStatus st;
  if (auto it = impl_->status.find(chain_name); it != impl_->status.end()) st = it->second;
  std::string out = "{\"chain\":";
  json::append_string(out, chain_name);
  out += ",\"active_pool\":";
  json::append_string(out, chain->active_pool);
  out += ",\"phase\":";
  json::append_string(out, st.phase);
  out += ",\"from\":";
  json::append_string(out, st.from);
  out += ",\"to\":";
  json::append_string(out, st.to);
  out += ",\"percent\":";
  json::append_number(out, st.percent);
  out += fmt::format(",\"step\":{},\"steps\":[", st.step);
  for (size_t i = 0; i < st.plan.steps.size(); ++i) {
    if (i) out += ",";
    json::append_number(out, st.plan.steps[i]);
  }
  out += "],\"reason\":";
  json::append_string(out, st.reason);
  out += ",\"traffic\":{";
  auto split = chain->traffic.load();
  for (size_t i = 0; i < split->pools.size(); ++i) {
    if (i) out += ",";
    json::append_string(out, split->pools[i].first);
    out += ":";
    json::append_number(out, split->pools[i].second);
  }
  out += fmt::format("}},\"updated_unix\":{}}}", st.updated_unix);
  return out;
}

}  // namespace nodeops::gateway
