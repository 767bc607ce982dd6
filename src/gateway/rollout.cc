#include "gateway/rollout.h"

#include <boost/asio.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "core/concurrent.h"
#include "core/http.h"
#include "core/json.h"
#include "core/log.h"

namespace nodeops::gateway {
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string random_id() {
  std::random_device rd;
  std::uniform_int_distribution<uint64_t> d;
  return fmt::format("{:016x}", d(rd));
}

bool is_power_of_two(uint64_t n) { return n && !(n & (n - 1)); }

}  // namespace

struct RolloutManager::Impl : std::enable_shared_from_this<RolloutManager::Impl> {
  asio::io_context& io;
  std::vector<std::unique_ptr<ChainRuntime>>& chains;
  GatewayMetrics& metrics;
  std::string state_file;
  std::map<std::string, RolloutStatus> status;   // by chain
  std::map<std::string, uint64_t> generation;    // bumps on every start/abort: stale watchers stop
  std::string instance = random_id();            // tells this process's answer apart among its peers'
  // Peer sync (rollout.peers): where, how often, with which token; failures counted to log in powers of two.
  std::vector<HostPort> peers;
  Duration sync_interval{5000};
  std::string token;
  uint64_t sync_failures = 0;

  // The fleet's own metrics (registered here, beside the state they describe).
  metrics::Family<metrics::Counter>* peer_answers;  // result: ok | error
  metrics::Family<metrics::Counter>* adopted;       // chain
  metrics::Family<metrics::Gauge>* epoch_gauge;     // chain

  Impl(asio::io_context& i, std::vector<std::unique_ptr<ChainRuntime>>& c, GatewayMetrics& m, std::string f)
      : io(i), chains(c), metrics(m), state_file(std::move(f)) {
    auto& r = m.registry();
    peer_answers = &r.counter("nodeops_gateway_rollout_peer_answers_total",
                              "Rollout peers asked for the fleet's state, by result (ok: a readable answer; "
                              "error: unresolvable, unreachable or unreadable).",
                              {"result"});
    for (const char* result : {"ok", "error"}) peer_answers->labels({result});
    adopted = &r.counter("nodeops_gateway_rollout_adopted_total",
                         "Coordinated rollout transitions this replica took from a peer (it started late or missed one).",
                         {"chain"});
    epoch_gauge = &r.gauge("nodeops_gateway_rollout_epoch",
                           "Epoch of the chain's last coordinated rollout transition (0: none); replicas that "
                           "agree show the same.",
                           {"chain"});
    for (auto& chain : chains) {
      adopted->labels({chain->config->name});
      epoch_gauge->labels({chain->config->name}).set(0);
    }
  }

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
  std::map<std::string, Window> step_start;  // by chain: the target pool's figures when the step began

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
      step_start[chain_name] = start;
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

  // Healthy upstreams of `pool`; nullopt before the first probe round (a replica that just
  // started knows nothing yet: it joins a switch and is gated once it has looked).
  std::optional<size_t> healthy_in(ChainRuntime& chain, const std::string& pool) {
    const auto& cfg = *chain.config;
    auto health = chain.health.load();
    if (!health->probed) return std::nullopt;
    size_t healthy = 0;
    for (size_t i = 0; i < cfg.upstreams.size() && i < health->upstreams.size(); ++i) {
      if (cfg.upstreams[i].pool == pool && health->upstreams[i].healthy) ++healthy;
    }
    return healthy;
  }

  // The target pool's gate inputs since the current step began.
  fleet::GateReport gate(ChainRuntime& chain, const RolloutStatus& st) {
    fleet::GateReport r;
    auto healthy = healthy_in(chain, st.to);
    r.probed = healthy.has_value();
    r.healthy = healthy.value_or(0);
    r.min_healthy = chain.config->min_healthy;
    auto it = step_start.find(chain.config->name);
    if (it == step_start.end()) return r;
    const auto& start = it->second;
    auto now = snapshot(chain, st.to);
    for (size_t i = 0; i < now.requests.size() && i < start.requests.size(); ++i) {
      if (now.buckets[i].empty()) continue;
      r.requests += now.requests[i] - start.requests[i];
      r.failures += now.failures[i] - start.failures[i];
      if (r.buckets.empty()) r.buckets.assign(now.buckets[i].size(), 0);
      for (size_t b = 0; b < r.buckets.size() && b < now.buckets[i].size(); ++b) {
        uint64_t before = b < start.buckets[i].size() ? start.buckets[i][b] : 0;
        r.buckets[b] += now.buckets[i][b] - std::min(now.buckets[i][b], before);
      }
    }
    return r;
  }

  fleet::FleetState fleet_state(const std::string& chain_name) const {
    fleet::FleetState f;
    f.chain = chain_name;
    auto it = status.find(chain_name);
    if (it == status.end()) return f;
    const auto& st = it->second;
    f.epoch = st.epoch;
    f.switch_id = st.switch_id;
    f.phase = st.epoch ? st.phase : "";
    f.from = st.from;
    f.to = st.to;
    f.steps = st.plan.steps;
    f.step = st.step;
    f.percent = st.percent;
    f.reason = st.reason;
    if (st.phase == "shifting") {
      auto left = std::chrono::duration_cast<Duration>(st.lease_until - Clock::now());
      f.lease = std::max(left, Duration(0));
    }
    return f;
  }

  std::optional<std::string> apply_fleet(const fleet::FleetState& cmd, bool from_peer) {
    auto* chain = find(cmd.chain);
    if (!chain) return fmt::format("unknown chain '{}'", cmd.chain);
    const auto& cfg = *chain->config;
    auto pools = cfg.pools();
    for (const auto* pool : {&cmd.from, &cmd.to}) {
      if (std::find(pools.begin(), pools.end(), *pool) == pools.end()) return fmt::format("no pool '{}'", *pool);
    }
    auto& st = status[cmd.chain];
    if (cmd.epoch < st.epoch) {
      return fmt::format("stale transition: epoch {} is older than this replica's {} ({} {})", cmd.epoch, st.epoch,
                         st.phase, st.switch_id);
    }
    if (cmd.epoch == st.epoch) {
      if (cmd.phase != "shifting") return std::nullopt;  // the same transition again
      if (st.phase != "shifting") {
        return fmt::format("this replica left the switch: {} ({})", st.phase, st.reason);
      }
      st.lease = cmd.lease;
      st.lease_until = Clock::now() + cmd.lease;  // a renewal
      return std::nullopt;
    }
    if (cmd.phase == "shifting" && st.switch_id == cmd.switch_id && st.phase != "shifting" && !st.phase.empty()) {
      return fmt::format("this replica left the switch: {} ({})", st.phase, st.reason);
    }
    if (cmd.phase == "shifting") {
      auto healthy = healthy_in(*chain, cmd.to);
      if (healthy && *healthy < cfg.min_healthy) {
        auto why = fmt::format("pool {} has {} healthy upstreams in sync, min_healthy is {}", cmd.to, *healthy,
                               cfg.min_healthy);
        if (!from_peer) metrics.count_rollout(cfg, "refused");
        log::warn("rollout refused", {{"chain", cfg.name}, {"to", cmd.to}, {"reason", why}, {"epoch", cmd.epoch}});
        return why;
      }
    }
    bool new_step = !(st.phase == "shifting" && st.switch_id == cmd.switch_id && st.step == cmd.step);
    uint64_t gen = ++generation[cmd.chain];  // stops a replica-driven switch or the previous step's watcher
    st.from = cmd.from;
    st.to = cmd.to;
    st.plan.to = cmd.to;
    st.plan.steps = cmd.steps;
    st.step = cmd.step;
    st.percent = cmd.phase == "shifting" ? cmd.percent : st.percent;
    st.epoch = cmd.epoch;
    st.switch_id = cmd.switch_id;
    st.coordinated = true;
    st.lease = cmd.lease;
    st.lease_until = Clock::now() + cmd.lease;
    if (from_peer) {
      log::info("rollout state adopted from a peer", {{"chain", cfg.name}, {"phase", cmd.phase},
                                                      {"epoch", cmd.epoch}, {"switch_id", cmd.switch_id},
                                                      {"percent", cmd.percent}});
    }
    if (from_peer) adopted->labels({cfg.name}).inc();
    epoch_gauge->labels({cfg.name}).set(static_cast<double>(st.epoch));
    if (cmd.phase == "shifting" && new_step) step_start[cmd.chain] = snapshot(*chain, cmd.to);
    apply(*chain, st, cmd.phase, cmd.reason);
    if (cmd.phase == "shifting") {
      auto impl = shared_from_this();
      auto name = cmd.chain;
      asio::co_spawn(io, watch_lease(name, gen),
                     log_failure("rollout lease watcher of chain " + name, [impl, name, gen] {
                       auto* runtime = impl->find(name);
                       if (!runtime || impl->generation[name] != gen) return;
                       impl->apply(*runtime, impl->status[name], "rolled_back", "the rollout lease watcher failed");
                     }));
    }
    return std::nullopt;
  }

  // A coordinated step on this replica: rolled back when the target pool loses min_healthy here,
  // or when nobody renews the step before its lease runs out (the coordinator died or lost us).
  asio::awaitable<void> watch_lease(std::string chain_name, uint64_t gen) {
    auto self = shared_from_this();
    asio::steady_timer timer(io);
    for (;;) {
      auto& st = status[chain_name];
      auto interval = std::min<Duration>(Duration(500), std::max<Duration>(Duration(50), st.lease / 4));
      timer.expires_after(interval);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (generation[chain_name] != gen) co_return;
      auto* chain = find(chain_name);
      if (Clock::now() > st.lease_until) {
        apply(*chain, st, "rolled_back",
              fmt::format("no coordinator renewed step {} within its lease ({}ms): rolled back on its own", st.step,
                          st.lease.count()));
        co_return;
      }
      auto healthy = healthy_in(*chain, st.to);
      if (healthy && *healthy < chain->config->min_healthy) {
        apply(*chain, st, "rolled_back",
              fmt::format("pool {} has {} healthy upstreams (min_healthy {})", st.to, *healthy,
                          chain->config->min_healthy));
        co_return;
      }
    }
  }

  // One round of asking every peer for its fleet state; a later transition is adopted.
  asio::awaitable<void> sync_once() {
    std::map<std::string, fleet::FleetState> best;  // by chain
    for (const auto& peer : peers) {
      asio::ip::tcp::resolver resolver(io);
      auto [ec, results] = co_await resolver.async_resolve(peer.host, std::to_string(peer.port),
                                                           asio::as_tuple(asio::use_awaitable));
      if (ec) {
        peer_answers->labels({"error"}).inc();
        if (is_power_of_two(++sync_failures)) {
          log::warn("rollout peers: cannot resolve", {{"peer", peer.host}, {"error", ec.message()},
                                                      {"failures", sync_failures}});
        }
        continue;
      }
      for (const auto& entry : results) {
        auto address = entry.endpoint().address().to_string();
        http::ClientPool pool(io, address, entry.endpoint().port(), 1, 1 << 20);
        http::ClientPool::Headers headers;
        headers.emplace_back("Authorization", "Bearer " + token);
        auto res = co_await pool.request("GET", "/admin/rollout/fleet", "", Duration(2000), "application/json", headers);
        if (!res.ok() || res.status != 200) {
          peer_answers->labels({"error"}).inc();
          if (is_power_of_two(++sync_failures)) {
            log::warn("rollout peers: no answer", {{"peer", address + ":" + std::to_string(entry.endpoint().port())},
                                                   {"status", res.status}, {"error", res.message},
                                                   {"failures", sync_failures}});
          }
          continue;
        }
        simdjson::dom::parser parser;
        simdjson::dom::element doc;
        simdjson::dom::object chains_of_peer;
        std::string_view id;
        if (parser.parse(res.body).get(doc) || doc["instance"].get_string().get(id) ||
            doc["chains"].get_object().get(chains_of_peer)) {
          peer_answers->labels({"error"}).inc();
          continue;
        }
        peer_answers->labels({"ok"}).inc();
        if (id == instance) continue;  // this replica's own address among the peers
        for (auto [name, value] : chains_of_peer) {
          std::string why;
          auto state = fleet::parse_state(simdjson::minify(value), why);
          if (!state || state->chain != name) continue;
          auto& b = best[state->chain];
          if (state->epoch > b.epoch) b = *state;
        }
      }
    }
    for (auto& [name, peer_state] : best) {
      if (!fleet::should_adopt(fleet_state(name), peer_state)) continue;
      if (auto why = apply_fleet(peer_state, true)) {
        log::warn("rollout state of a peer not adopted", {{"chain", name}, {"reason", *why}});
      }
    }
  }

  asio::awaitable<void> sync_loop() {
    auto self = shared_from_this();
    asio::steady_timer timer(io);
    for (;;) {
      co_await sync_once();
      timer.expires_after(sync_interval);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
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
      out += fmt::format(",\"epoch\":{},\"switch_id\":", it == status.end() ? 0 : it->second.epoch);
      json::append_string(out, it == status.end() ? "" : it->second.switch_id);
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
    uint64_t epoch = 0;
    std::string_view switch_id;
    if (!value["epoch"].get_uint64().get(epoch)) st.epoch = epoch;
    impl_->epoch_gauge->labels({chain->config->name}).set(static_cast<double>(st.epoch));
    if (!value["switch_id"].get_string().get(switch_id)) st.switch_id = std::string(switch_id);
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
  auto epoch = st.epoch;  // a replica-driven switch is this replica's alone: peers' epochs still order the fleet's
  st = RolloutStatus{};
  st.epoch = epoch;
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
  // A coordinated switch aborted on this replica alone: a later epoch, so its peers adopt it too.
  if (st.coordinated) {
    st.epoch = fleet::next_epoch(st.epoch, 0);
    impl_->epoch_gauge->labels({chain_name}).set(static_cast<double>(st.epoch));
  }
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
  out += fmt::format(",\"step\":{},\"steps\":", st.step);
  json::append_numbers(out, st.plan.steps);
  out += ",\"reason\":";
  json::append_string(out, st.reason);
  out += ",\"traffic\":{";
  auto split = chain->traffic.load();
  for (size_t i = 0; i < split->pools.size(); ++i) {
    if (i) out += ",";
    json::append_string(out, split->pools[i].first);
    out += ":";
    json::append_number(out, split->pools[i].second);
  }
  out += fmt::format("}},\"updated_unix\":{},\"epoch\":{},\"switch_id\":", st.updated_unix, st.epoch);
  json::append_string(out, st.switch_id);
  out += fmt::format(",\"coordinated\":{}", st.coordinated ? "true" : "false");
  if (st.phase == "shifting") {
    if (st.coordinated) {
      auto left = std::chrono::duration_cast<Duration>(st.lease_until - Clock::now());
      out += fmt::format(",\"lease_remaining_ms\":{}", std::max<int64_t>(0, left.count()));
    }
    auto g = impl_->gate(*chain, st);
    out += fmt::format(",\"gate\":{{\"probed\":{},\"healthy\":{},\"min_healthy\":{},\"requests\":",
                       g.probed ? "true" : "false", g.healthy, g.min_healthy);
    json::append_number(out, g.requests);
    out += ",\"failures\":";
    json::append_number(out, g.failures);
    out += ",\"buckets\":[";
    for (size_t i = 0; i < g.buckets.size(); ++i) {
      if (i) out += ",";
      out += std::to_string(g.buckets[i]);
    }
    out += "]}";
  }
  out += "}";
  return out;
}

std::optional<std::string> RolloutManager::apply_fleet(const fleet::FleetState& state, bool from_peer) {
  return impl_->apply_fleet(state, from_peer);
}

std::string RolloutManager::fleet_json() const {
  std::string out = "{\"instance\":";
  json::append_string(out, impl_->instance);
  out += ",\"chains\":{";
  bool first = true;
  for (auto& c : impl_->chains) {
    auto f = impl_->fleet_state(c->config->name);
    if (f.epoch == 0) continue;
    if (!first) out += ",";
    first = false;
    json::append_string(out, f.chain);
    out += ":" + fleet::to_json(f);
  }
  out += "}}";
  return out;
}

void RolloutManager::start_peer_sync(std::vector<HostPort> peers, Duration interval, std::string token) {
  if (peers.empty()) return;
  impl_->peers = std::move(peers);
  impl_->sync_interval = interval;
  impl_->token = std::move(token);
  asio::co_spawn(impl_->io, impl_->sync_loop(), log_failure("rollout peer sync"));
}

}  // namespace nodeops::gateway
