#include "gateway/reload.h"

#include <boost/asio.hpp>
#include <fmt/format.h>
#include <openssl/evp.h>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/concurrent.h"
#include "core/config_reader.h"
#include "core/log.h"
#include "gateway/health.h"
#include "gateway/metrics.h"

namespace nodeops::gateway {
namespace asio = boost::asio;

namespace {

/// Names the keys of `a` and `b` that differ, among the listed fields.
#define NODEOPS_DIFF_FIELD(out, a, b, field) \
  if (!((a).field == (b).field)) (out).push_back(#field)

std::vector<std::string> chain_keys_changed(const ChainConfig& a, const ChainConfig& b) {
  std::vector<std::string> out;
  NODEOPS_DIFF_FIELD(out, a, b, chain_id);
  NODEOPS_DIFF_FIELD(out, a, b, max_lag_blocks);
  NODEOPS_DIFF_FIELD(out, a, b, archive_after_blocks);
  NODEOPS_DIFF_FIELD(out, a, b, health_interval);
  NODEOPS_DIFF_FIELD(out, a, b, allow_methods);
  NODEOPS_DIFF_FIELD(out, a, b, deny_methods);
  NODEOPS_DIFF_FIELD(out, a, b, min_healthy);
  NODEOPS_DIFF_FIELD(out, a, b, finality_depth);
  NODEOPS_DIFF_FIELD(out, a, b, passive_health);
  return out;
}

std::vector<std::string> upstream_keys_changed(const UpstreamConfig& a, const UpstreamConfig& b) {
  std::vector<std::string> out;
  NODEOPS_DIFF_FIELD(out, a, b, url);
  NODEOPS_DIFF_FIELD(out, a, b, role);
  NODEOPS_DIFF_FIELD(out, a, b, weight);
  NODEOPS_DIFF_FIELD(out, a, b, pool);
  NODEOPS_DIFF_FIELD(out, a, b, max_inflight);
  NODEOPS_DIFF_FIELD(out, a, b, batching);
  NODEOPS_DIFF_FIELD(out, a, b, batch_threshold);
  NODEOPS_DIFF_FIELD(out, a, b, batch_max_calls);
  NODEOPS_DIFF_FIELD(out, a, b, batch_max_bytes);
  NODEOPS_DIFF_FIELD(out, a, b, batch_wait);
  NODEOPS_DIFF_FIELD(out, a, b, tier);
  NODEOPS_DIFF_FIELD(out, a, b, max_rps);
  NODEOPS_DIFF_FIELD(out, a, b, method_weights);
  NODEOPS_DIFF_FIELD(out, a, b, ca_file);
  NODEOPS_DIFF_FIELD(out, a, b, headers_file);
  NODEOPS_DIFF_FIELD(out, a, b, url_file);
  NODEOPS_DIFF_FIELD(out, a, b, headers);  // a rotated provider key: named, never shown
  return out;
}

/// The request limits: what a reload applies to a running process, in one list for copying and
/// for comparing, so that a new one cannot be applied without being reported (or the reverse).
#define NODEOPS_REQUEST_LIMITS(X) \
  X(max_batch)                    \
  X(request_timeout)              \
  X(upstream_timeout)             \
  X(max_attempts)                 \
  X(max_reply_bytes)              \
  X(batch_concurrency)            \
  X(max_buffered_bytes)

/// `server`'s limits with the router's (the request limits, which a reload applies) from `router`.
Limits with_request_limits(Limits server, const Limits& router) {
#define NODEOPS_COPY_LIMIT(field) server.field = router.field;
  NODEOPS_REQUEST_LIMITS(NODEOPS_COPY_LIMIT)
#undef NODEOPS_COPY_LIMIT
  return server;
}

std::vector<std::string> request_limits_changed(const Limits& a, const Limits& b) {
  std::vector<std::string> out;
#define NODEOPS_DIFF_LIMIT(field) NODEOPS_DIFF_FIELD(out, a, b, field);
  NODEOPS_REQUEST_LIMITS(NODEOPS_DIFF_LIMIT)
#undef NODEOPS_DIFF_LIMIT
  return out;
}

/// The sections a running process cannot take over: the traffic server and its connection limits,
/// the loops, and the modules that hold them by reference (cache, client gate, filters,
/// WebSocket). The request limits (max_batch, the timeouts of a call...) are not among them.
std::vector<std::string> global_keys_changed(const GatewayConfig& a, const GatewayConfig& b) {
  std::vector<std::string> out;
  NODEOPS_DIFF_FIELD(out, a, b, listen);
  NODEOPS_DIFF_FIELD(out, a, b, tls);  // the files' contents reload on their own (core/http_tls.h)
  NODEOPS_DIFF_FIELD(out, a, b, admin_listen);
  NODEOPS_DIFF_FIELD(out, a, b, threads);
  NODEOPS_DIFF_FIELD(out, a, b, admin_token_file);
  NODEOPS_DIFF_FIELD(out, a, b, state_file);
  NODEOPS_DIFF_FIELD(out, a, b, limits.max_body);
  NODEOPS_DIFF_FIELD(out, a, b, limits.idle_timeout);
  NODEOPS_DIFF_FIELD(out, a, b, limits.read_timeout);
  NODEOPS_DIFF_FIELD(out, a, b, limits.drain_timeout);
  NODEOPS_DIFF_FIELD(out, a, b, limits.max_connections);
  NODEOPS_DIFF_FIELD(out, a, b, cache);
  NODEOPS_DIFF_FIELD(out, a, b, trusted_proxies);
  NODEOPS_DIFF_FIELD(out, a, b, auth);
  NODEOPS_DIFF_FIELD(out, a, b, cors);
  NODEOPS_DIFF_FIELD(out, a, b, rate_limits);
  NODEOPS_DIFF_FIELD(out, a, b, filters);
  NODEOPS_DIFF_FIELD(out, a, b, websocket);
  NODEOPS_DIFF_FIELD(out, a, b, rollout);
  if (out.empty()) {
    // A section added to GatewayConfig but not to the list above: still never applied silently.
    GatewayConfig rest = b;
    rest.chains = a.chains;
    rest.log_level = a.log_level;
    rest.limits = with_request_limits(rest.limits, a.limits);
    if (!(rest == a)) out.push_back("global settings");
  }
  return out;
}

#undef NODEOPS_DIFF_FIELD
#undef NODEOPS_REQUEST_LIMITS

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

const UpstreamConfig* find_upstream(const ChainConfig& chain, const std::string& name) {
  for (const auto& u : chain.upstreams) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

}  // namespace

bool keeps_upstream(const ChainConfig& chain_before, const UpstreamConfig& before, const ChainConfig& chain_after,
                    const UpstreamConfig& after) {
  if (chain_before.type != chain_after.type || !(chain_before.passive_health == chain_after.passive_health)) {
    return false;
  }
  UpstreamConfig a = before;
  a.weight = after.weight;
  a.max_inflight = after.max_inflight;
  return a == after;
}

ReloadPlan plan_reload(const GatewayConfig& running, const GatewayConfig& next, const std::string& path) {
  ReloadPlan plan;
  for (const auto& key : global_keys_changed(running, next)) plan.restart_required.push_back(key);
  // The effective config: the running one's global sections, the new one's log level and chains
  // (in the running order: chain indexes are fixed for the process).
  plan.effective = running;
  if (running.log_level != next.log_level) {
    plan.effective.log_level = next.log_level;
    plan.changes.push_back(fmt::format("log_level {} -> {}", running.log_level, next.log_level));
  }
  if (auto keys = request_limits_changed(running.limits, next.limits); !keys.empty()) {
    plan.effective.limits = with_request_limits(running.limits, next.limits);
    plan.changes.push_back(fmt::format("limits changed: {}", join(keys)));
  }
  for (const auto& c : next.chains) {
    if (!running.chain(c.name)) plan.restart_required.push_back(fmt::format("chain {} added", c.name));
  }
  for (size_t i = 0; i < running.chains.size(); ++i) {
    const auto& before = running.chains[i];
    const auto* found = next.chain(before.name);
    if (!found) {
      plan.restart_required.push_back(fmt::format("chain {} removed", before.name));
      continue;
    }
    ChainConfig after = *found;
    if (after.type != before.type) {
      plan.restart_required.push_back(fmt::format("chain {}: type", before.name));
      after.type = before.type;
    }
    if (after.active_pool != before.active_pool) {
      // Rollouts own the active pool at run time (and persist it): a file edit does not move traffic.
      plan.restart_required.push_back(fmt::format("chain {}: active_pool", before.name));
      after.active_pool = before.active_pool;
    }
    auto pools = after.pools();
    if (std::find(pools.begin(), pools.end(), before.active_pool) == pools.end()) {
      plan.errors.push_back(fmt::format("{}: chains[{}].upstreams: no upstream is left in pool '{}', which serves "
                                        "the chain's traffic; a reload cannot empty it (switch pools first)",
                                        path, i, before.active_pool));
    }
    auto keys = chain_keys_changed(before, after);
    if (!keys.empty()) plan.changes.push_back(fmt::format("chain {}: keys changed: {}", before.name, join(keys)));
    for (const auto& u : before.upstreams) {
      if (!find_upstream(after, u.name)) plan.changes.push_back(fmt::format("chain {}: upstream {} removed", before.name, u.name));
    }
    for (const auto& u : after.upstreams) {
      const auto* old = find_upstream(before, u.name);
      if (!old) {
        plan.changes.push_back(fmt::format("chain {}: upstream {} added", before.name, u.name));
      } else if (!(*old == u) || !keeps_upstream(before, *old, after, u)) {
        auto changed = upstream_keys_changed(*old, u);
        bool kept = keeps_upstream(before, *old, after, u);
        if (changed.empty()) changed.push_back("passive_health");  // only the chain's breaker settings
        plan.changes.push_back(fmt::format("chain {}: upstream {} changed ({}): {}", before.name, u.name,
                                           kept ? "kept" : "replaced", join(changed)));
      }
    }
    plan.effective.chains[i] = std::move(after);
  }
  return plan;
}

std::shared_ptr<UpstreamSet> next_upstream_set(const UpstreamSet& current, std::shared_ptr<const ChainConfig> config,
                                               size_t chain_index, size_t& next_slot,
                                               const UpstreamFamilies& families) {
  auto set = std::make_shared<UpstreamSet>();
  set->generation = current.generation + 1;
  for (const auto& u : config->upstreams) {
    std::shared_ptr<Upstream> kept;
    for (size_t i = 0; i < current.upstreams.size(); ++i) {
      const auto& before = current.config->upstreams[i];
      if (before.name == u.name && keeps_upstream(*current.config, before, *config, u)) kept = current.upstreams[i];
    }
    set->upstreams.push_back(kept ? kept : std::make_shared<Upstream>(*config, chain_index, u, next_slot++, families));
  }
  set->config = std::move(config);
  return set;
}

std::string sha256_hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr);
  std::string out;
  for (unsigned i = 0; i < len; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

struct ConfigReloader::Impl {
  asio::io_context& io;
  std::string path;
  std::vector<std::unique_ptr<ChainRuntime>>& chains;
  std::vector<std::unique_ptr<HealthTracker>>& trackers;
  GatewayMetrics& metrics;
  /// The config in force (the startup one's global sections, the latest applied chains).
  std::shared_ptr<const GatewayConfig> running;
  std::function<void(const GatewayConfig&)> applied;
  asio::signal_set hup;
  bool busy = false, again = false;
  // What the file looked like when last read: its resolved path, inode, size and mtime.
  std::string seen;

  Impl(asio::io_context& i, std::string p, const GatewayConfig& r, std::vector<std::unique_ptr<ChainRuntime>>& c,
       std::vector<std::unique_ptr<HealthTracker>>& t, GatewayMetrics& m)
      : io(i), path(std::move(p)), chains(c), trackers(t), metrics(m),
        // The startup config outlives the gateway's loops: not owned here.
        running(std::shared_ptr<const GatewayConfig>(std::shared_ptr<const void>(), &r)), hup(i, SIGHUP) {}

  std::string fingerprint() const {
    std::error_code ec;
    auto resolved = std::filesystem::canonical(path, ec);
    if (ec) return {};
    struct stat st {};
    if (::stat(resolved.c_str(), &st) != 0) return {};
    return fmt::format("{}|{}|{}|{}|{}.{}", resolved.string(), st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec,
                       st.st_mtim.tv_nsec);
  }

  void wait_signal(std::shared_ptr<Impl> self) {
    hup.async_wait([self](const boost::system::error_code& ec, int) {
      if (ec) return;
      self->trigger(self, "SIGHUP");
      self->wait_signal(self);
    });
  }

  void trigger(std::shared_ptr<Impl> self, std::string why) {
    if (busy) {  // one reload at a time; a change during one is read right after it
      again = true;
      return;
    }
    asio::co_spawn(
        io, [self, why = std::move(why)]() mutable -> asio::awaitable<void> { co_await self->run(std::move(why)); },
        log_failure("config reload"));
  }

  asio::awaitable<Result> run(std::string why) {
    busy = true;
    Result result = Result::unchanged;
    for (;;) {
      again = false;
      try {
        result = co_await apply(std::move(why));
      } catch (const std::exception& e) {
        log::error("config reload failed", {{"file", path}, {"error", e.what()}});
        metrics.count_config_reload("rejected");
        result = Result::rejected;
      }
      if (!again) break;
      why = "file";
    }
    busy = false;
    co_return result;
  }

  asio::awaitable<Result> apply(std::string why) {
    seen = fingerprint();
    std::string text;
    {
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        log::error("config reload rejected: cannot read the file", {{"file", path}, {"trigger", why}});
        metrics.count_config_reload("rejected");
        co_return Result::rejected;
      }
      std::stringstream ss;
      ss << in.rdbuf();
      text = ss.str();
    }
    auto hash = sha256_hex(text);
    GatewayConfig next;
    try {
      next = parse_gateway_config(text, path);
    } catch (const ConfigError& e) {
      for (const auto& err : e.errors) log::error("config error", {{"error", err}});
      log::error("config reload rejected: the running config keeps serving",
                 {{"file", path}, {"trigger", why}, {"sha256", hash}, {"errors", static_cast<int64_t>(e.errors.size())}});
      metrics.count_config_reload("rejected");
      co_return Result::rejected;
    }
    auto plan = plan_reload(*running, next, path);
    if (!plan.errors.empty()) {
      for (const auto& err : plan.errors) log::error("config error", {{"error", err}});
      log::error("config reload rejected: the running config keeps serving",
                 {{"file", path}, {"trigger", why}, {"sha256", hash}, {"errors", static_cast<int64_t>(plan.errors.size())}});
      metrics.count_config_reload("rejected");
      co_return Result::rejected;
    }
    metrics.set_config_loaded(hash, !plan.restart_required.empty());
    for (const auto& r : plan.restart_required) {
      log::warn("config change needs a restart: not applied", {{"file", path}, {"key", r}});
    }
    if (plan.effective == *running) {
      log::info("config reload: nothing to apply",
                {{"file", path}, {"trigger", why}, {"sha256", hash}, {"restart_required", join(plan.restart_required)}});
      metrics.count_config_reload("unchanged");
      co_return Result::unchanged;
    }
    auto effective = std::make_shared<const GatewayConfig>(std::move(plan.effective));
    if (effective->log_level != running->log_level) {
      log::Level level;
      if (log::parse_level(effective->log_level, level)) log::set_level(level);
    }
    for (size_t c = 0; c < chains.size(); ++c) {
      const auto& cfg = effective->chains[c];
      if (cfg == running->chains[c]) continue;
      auto& rt = *chains[c];
      auto current = rt.latest_set;
      auto set = next_upstream_set(*current, std::shared_ptr<const ChainConfig>(effective, &cfg), c, rt.next_slot,
                                   metrics.upstream_families());
      rt.latest_set = set;
      // Probed before it serves: a new upstream gets traffic only once it is known healthy, and
      // the chain is never without the verdict on its upstreams.
      co_await trackers[c]->round(set);
      if (rt.latest_set != set) continue;  // (a newer reload took over; it retires what it drops)
      for (size_t i = 0; i < current->upstreams.size(); ++i) {
        const auto& gone = current->upstreams[i];
        if (set->position_of_slot(gone->slot())) continue;
        const auto& before = current->config->upstreams[i];
        const auto* now = find_upstream(cfg, before.name);
        if (!now) {
          gone->metrics.retire(before);
        } else if (now->pool != before.pool || now->role != before.role || now->tier != before.tier) {
          gone->metrics.retire_info(before);
        }
      }
    }
    running = effective;
    if (applied) applied(*effective);
    for (const auto& line : plan.changes) log::info("config change applied", {{"file", path}, {"change", line}});
    log::info("config reloaded", {{"file", path},
                                  {"trigger", why},
                                  {"sha256", hash},
                                  {"changes", static_cast<int64_t>(plan.changes.size())},
                                  {"restart_required", join(plan.restart_required)}});
    metrics.count_config_reload("applied");
    co_return Result::applied;
  }

  asio::awaitable<void> watch(std::shared_ptr<Impl> self) {
    asio::steady_timer timer(io);
    for (;;) {
      timer.expires_after(std::chrono::seconds(1));
      auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      auto now = fingerprint();
      // An empty fingerprint: the file is missing for a moment (mid-swap): look again next second.
      if (!now.empty() && now != seen && !busy) trigger(self, "file");
    }
  }
};

ConfigReloader::ConfigReloader(asio::io_context& admin_io, std::string path, const GatewayConfig& running,
                               std::vector<std::unique_ptr<ChainRuntime>>& chains,
                               std::vector<std::unique_ptr<HealthTracker>>& trackers, GatewayMetrics& metrics)
    : impl_(std::make_shared<Impl>(admin_io, std::move(path), running, chains, trackers, metrics)) {
  impl_->seen = impl_->fingerprint();
  std::ifstream in(impl_->path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  metrics.set_config_loaded(sha256_hex(ss.str()), false);
}

ConfigReloader::~ConfigReloader() {
  boost::system::error_code ec;
  impl_->hup.cancel(ec);
}

void ConfigReloader::on_applied(std::function<void(const GatewayConfig&)> fn) { impl_->applied = std::move(fn); }

void ConfigReloader::start() {
  impl_->wait_signal(impl_);
  asio::co_spawn(impl_->io, impl_->watch(impl_), log_failure("config watch"));
}

asio::awaitable<ConfigReloader::Result> ConfigReloader::reload(std::string trigger) {
  auto impl = impl_;
  co_return co_await impl->run(std::move(trigger));
}

}  // namespace nodeops::gateway
