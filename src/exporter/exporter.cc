#include "exporter/exporter.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>

#include "chains/health_rules.h"
#include "chains/solana.h"
#include "core/concurrent.h"
#include "core/json.h"
#include "core/log.h"
#include "nodeops/version.h"

namespace nodeops::exporter {
namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double unix_now_precise() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The reference is a JSON-RPC node; it speaks the protocol of the evm targets, or of the solana
// ones when there is no evm target.
std::string reference_type(const std::vector<TargetOptions>& targets) {
  bool evm = false, solana = false;
  for (const auto& t : targets) {
    evm |= t.type == "evm";
    solana |= t.type == "solana";
  }
  return (!evm && solana) ? "solana" : "evm";
}

http::Response json_response(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body) + "\n";
  return r;
}

}  // namespace

Exporter::Exporter(asio::io_context& loop, ExporterOptions options)
    : loop_(loop), options_(std::move(options)), metrics_(registry_, kVersion) {
  metrics::register_process_metrics(registry_);
  auto start = steady_clock::now();
  for (const auto& t : options_.targets) {
    auto target = std::make_unique<Target>(Target{
        t, chains::make_adapter(t.type, t.url, t.rest_url), std::make_unique<chains::Prober>(loop_),
        TargetHealth(t.type, start),
        HealthLimits{t.max_lag.value_or(options_.max_lag), options_.max_head_age, options_.stall_after}, "", nullptr, nullptr, ""});
    if (!target->adapter) throw std::invalid_argument("unknown target type " + t.type);
    metrics_.add_target(t.name, t.chain);
    if (t.type == "solana" && options_.peers_interval > Duration(0)) {
      target->gossip_adapter = chains::make_solana_gossip_adapter(t.url);
      target->gossip_prober = std::make_unique<chains::Prober>(loop_, options_.peers_max_bytes);
      metrics_.add_gossip_target(t.name, t.chain);
    }
    targets_.push_back(std::move(target));
  }
  if (!options_.reference.empty()) {
    std::string type = reference_type(options_.targets);
    reference_.emplace(Reference{type, chains::make_adapter(type, options_.reference),
                                 std::make_unique<chains::Prober>(loop_), {}});
  }
  // Ages grow between probes: recompute the derived gauges at every scrape.
  registry_.on_collect([this] { refresh_health(); });
}

Exporter::~Exporter() = default;

void Exporter::start() {
  http::ServerOptions so;
  so.listen = options_.listen;
  so.max_body = 64 << 10;
  so.error_response = [](int status, std::string_view message) {
    return json_response(status, "{\"error\":" + json::quote(message) + "}");
  };
  server_ = std::make_unique<http::Server>(std::vector<asio::io_context*>{&loop_}, so,
                                           [this](http::Request& req) -> asio::awaitable<http::Response> {
                                             co_return handle(req);
                                           });
  server_->start();
  // A probe loop that died would leave its target's verdict frozen while /ready kept answering
  // it: better to exit and let the supervisor (Kubernetes, nodeops up) restart the exporter.
  auto fatal = [] { std::exit(70); };
  for (auto& t : targets_) {
    asio::co_spawn(loop_, probe_loop(*t), log_failure("probe loop of target " + t->options.name, fatal));
  }
  for (auto& t : targets_) {
    if (t->gossip_adapter) {
      asio::co_spawn(loop_, gossip_loop(*t), log_failure("gossip probe loop of target " + t->options.name, fatal));
    }
  }
  if (reference_) asio::co_spawn(loop_, reference_loop(), log_failure("reference probe loop", fatal));
  // A full walk of a chain database is heavy: every 10 intervals, at least every minute.
  const Duration period = std::max(Duration(60000), options_.interval * 10);
  for (const auto& dir : options_.data_dirs) {
    disks_.push_back(std::make_unique<DiskWatcher>(dir.path, period, [this, &dir](const DiskUsage& u) {
      metrics_.record_disk(dir.name, dir.path, dir.chain, u);
    }));
  }
  log::info("exporter listening", {{"listen", fmt::format("{}:{}", options_.listen.host, server_->port())},
                                   {"targets", static_cast<int64_t>(targets_.size())}});
}

void Exporter::stop() {
  if (server_) server_->begin_drain();
  disks_.clear();
}

uint16_t Exporter::port() const { return server_ ? server_->port() : 0; }

asio::awaitable<void> Exporter::probe_loop(Target& t) {
  asio::steady_timer timer(loop_);
  const Duration timeout = options_.interval;
  for (;;) {
    auto started = steady_clock::now();
    chains::NodeStatus status = co_await t.prober->probe(*t.adapter, timeout);
    auto done = steady_clock::now();
    t.health.observe(status, done);
    metrics_.record_probe(t.options.name, t.options.chain, t.options.type, status,
                          std::chrono::duration<double>(done - started).count(), unix_now_precise());
    refresh_health();

    std::string state = status.reachable ? (status.error.empty() ? "ok" : "partial: " + status.error)
                                         : "down: " + status.error;
    if (state != t.last_logged) {
      auto level = status.reachable && status.error.empty() ? log::Level::info : log::Level::warn;
      log::write(level, status.reachable ? "target answered" : "target down",
                 {{"target", std::string_view(t.options.name)},
                  {"chain", std::string_view(t.options.chain)},
                  {"reason", std::string_view(status.error)}});
      t.last_logged = std::move(state);
    }
    timer.expires_at(started + options_.interval);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<void> Exporter::gossip_loop(Target& t) {
  asio::steady_timer timer(loop_);
  for (;;) {
    auto started = steady_clock::now();
    chains::NodeStatus status = co_await t.gossip_prober->probe(*t.gossip_adapter, options_.peers_timeout);
    metrics_.record_gossip(t.options.name, t.options.chain, status.peers, !status.peers.has_value());
    std::string state = status.peers ? "ok" : "failed: " + status.error;
    if (state != t.gossip_logged) {
      log::write(status.peers ? log::Level::info : log::Level::warn,
                 status.peers ? "gossip probe answered" : "gossip probe failed",
                 {{"target", std::string_view(t.options.name)},
                  {"chain", std::string_view(t.options.chain)},
                  {"peers", static_cast<int64_t>(status.peers.value_or(0))},
                  {"reason", std::string_view(status.error)}});
      t.gossip_logged = std::move(state);
    }
    timer.expires_at(started + options_.peers_interval);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<void> Exporter::reference_loop() {
  asio::steady_timer timer(loop_);
  bool was_up = true;
  for (;;) {
    auto started = steady_clock::now();
    reference_->last = co_await reference_->prober->probe(*reference_->adapter, options_.interval);
    if (reference_->last.reachable != was_up) {
      was_up = reference_->last.reachable;
      log::write(was_up ? log::Level::info : log::Level::warn, was_up ? "reference answered" : "reference down",
                 {{"upstream", std::string_view(options_.reference)},
                  {"reason", std::string_view(reference_->last.error)}});
    }
    refresh_health();
    timer.expires_at(started + options_.interval);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

std::optional<uint64_t> Exporter::lag_of(const Target& t) const {
  const auto& st = t.health.last();
  if (!st.reachable || !st.head) return std::nullopt;
  // The best head of this chain and type, decided as the gateway decides it (chains/health_rules):
  // from the reference and every target that can serve, the highest head another one corroborates.
  // Heads of different types (blocks vs slots) are never compared.
  std::vector<uint64_t> heads;
  auto consider = [&](const chains::NodeStatus& s) {
    if (chains::probe_verdict(t.options.type, s).first == chains::ProbeVerdict::serving) heads.push_back(*s.head);
  };
  if (reference_ && reference_->type == t.options.type) consider(reference_->last);
  for (const auto& other : targets_) {
    if (other->options.chain == t.options.chain && other->options.type == t.options.type) {
      consider(other->health.last());
    }
  }
  return lag_behind(st.head, chains::best_head(heads, t.limits.max_lag));
}

void Exporter::refresh_health() {
  auto now = steady_clock::now();
  int64_t wall = unix_now();
  for (const auto& t : targets_) {
    auto lag = lag_of(*t);
    bool ready = t->health.not_ready_reason(lag, t->limits, now, wall).empty();
    bool live = t->health.not_live_reason(t->limits, now).empty();
    metrics_.record_health(t->options.name, t->options.chain, ready, live, lag,
                           t->health.last().reachable ? t->health.head_age_seconds(now, wall) : std::nullopt);
  }
}

http::Response Exporter::verdict(std::string_view name, bool ready) {
  auto now = steady_clock::now();
  int64_t wall = unix_now();
  std::string reasons;   // "geth: syncing; lighthouse: down"
  std::string per_target;
  bool found = false;
  for (const auto& t : targets_) {
    if (!name.empty() && t->options.name != name) continue;
    found = true;
    std::string why = ready ? t->health.not_ready_reason(lag_of(*t), t->limits, now, wall)
                            : t->health.not_live_reason(t->limits, now);
    if (!per_target.empty()) per_target += ",";
    per_target += json::quote(t->options.name) + ":" + json::quote(why.empty() ? "ok" : why);
    if (!why.empty()) reasons += (reasons.empty() ? "" : "; ") + t->options.name + ": " + why;
  }
  if (!found) return json_response(404, "{\"error\":" + json::quote("unknown target " + std::string(name)) + "}");
  const char* key = ready ? "ready" : "live";
  bool ok = reasons.empty();
  std::string body = fmt::format("{{\"{}\":{}", key, ok ? "true" : "false");
  if (!ok) body += ",\"reason\":" + json::quote(reasons);
  body += ",\"targets\":{" + per_target + "}}";
  return json_response(ok ? 200 : 503, std::move(body));
}

http::Response Exporter::handle(const http::Request& req) {
  std::string_view path = http::path_of(req.target);
  if (req.method != "GET" && req.method != "HEAD") {
    auto r = json_response(405, "{\"error\":\"method not allowed\"}");
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  if (path == "/metrics") {
    http::Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = registry_.expose();
    return r;
  }
  if (path == "/ready") return verdict(http::query_param(req.target, "target"), true);
  if (path == "/live") return verdict(http::query_param(req.target, "target"), false);
  if (path == "/healthz") return json_response(200, "{\"status\":\"ok\"}");
  return json_response(404, "{\"error\":\"not found\",\"paths\":[\"/metrics\",\"/ready\",\"/live\",\"/healthz\"]}");
}

int run_exporter(const ExporterOptions& options) {
  log::Level level = log::Level::info;
  if (log::parse_level(options.log_level, level)) log::set_level(level);
  asio::io_context loop(1);
  Exporter exporter(loop, options);
  try {
    exporter.start();
  } catch (const std::exception& e) {
    log::error("cannot start exporter", {{"reason", std::string_view(e.what())}});
    return 1;
  }
  asio::signal_set signals(loop, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    log::info("exporter stopping", {{"reason", signo == SIGTERM ? "SIGTERM" : "SIGINT"}});
    exporter.stop();
    loop.stop();
  });
  loop.run();
  return 0;
}

}  // namespace nodeops::exporter
