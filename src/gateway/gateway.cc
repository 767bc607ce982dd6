#include "gateway/gateway.h"

#include <boost/asio.hpp>
#include <fmt/format.h>

#include <malloc.h>

#include <thread>

#include "core/concurrent.h"
#include "core/http.h"
#include "core/http_tls.h"
#include "core/log.h"
#include "gateway/admin.h"
#include "gateway/client_gate.h"
#include "gateway/filters.h"
#include "gateway/health.h"
#include "gateway/metrics.h"
#include "gateway/reload.h"
#include "gateway/router.h"
#include "gateway/status.h"
#include "gateway/subscriptions.h"
#include "gateway/websocket.h"

namespace nodeops::gateway {
namespace asio = boost::asio;

int run_gateway(const GatewayConfig& config, const std::string& config_path) {
  // Large replies (megabytes) come and go; glibc's growing mmap threshold would serve them from
  // the heap after the first one is freed and keep that memory: a fixed threshold gives every
  // buffer above 1 MiB back to the system as soon as it is freed.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  log::Level level;
  if (log::parse_level(config.log_level, level)) log::set_level(level);
  unsigned threads = config.threads ? config.threads : std::max(1u, std::thread::hardware_concurrency());

  std::unique_ptr<ResponseCache> cache;  // outlives the metrics, whose scrapes read it
  GatewayMetrics metrics(config);
  auto chains = make_chains(config, metrics);

  // The admin loop runs health tracking, rollouts and the admin port; the traffic loops only serve.
  // Declared before the router: the router's per-loop contexts hold sockets of these loops and
  // must be destroyed first.
  asio::io_context admin_io(1);
  std::vector<std::unique_ptr<asio::io_context>> loops;
  std::vector<asio::io_context*> loop_ptrs;
  for (unsigned i = 0; i < threads; ++i) {
    loops.push_back(std::make_unique<asio::io_context>(1));
    loop_ptrs.push_back(loops.back().get());
  }
  Router router(config, chains, metrics, threads);
  if (config.cache.enabled) {
    cache = std::make_unique<ResponseCache>(ResponseCache::Options{config.cache.max_bytes, config.cache.max_entry_bytes});
    router.use_cache(cache.get());
    metrics.watch_cache(*cache);
  }
  for (unsigned i = 0; i < threads; ++i) router.attach_loop(i, *loops[i]);
  // Filters emulated by the gateway; their block followers run on the admin loop, only while a
  // chain has filters.
  // (WebSocket subscriptions read the same followers: the service exists for them too.)
  std::unique_ptr<FilterService> filters;
  if (config.filters.enabled || config.websocket.enabled) {
    filters = std::make_unique<FilterService>(config, chains, metrics.registry(), admin_io);
    if (config.filters.enabled) router.use_filters(filters.get());
  }
  // Keys, limits, CORS, trusted proxies; a broken keys file throws ConfigError: the gateway does
  // not start without the keys it was told to require.
  ClientGate gate(config, metrics.registry());
  gate.attach_loops(loop_ptrs);  // shared rate limits: one Redis connection per traffic loop
  router.use_gate(&gate);
  // WebSocket on the traffic port: upgrades pass the same gate; messages are routed like POSTs.
  WebSocketService websocket(config, router, metrics.registry());
  std::unique_ptr<SubscriptionService> subscriptions;
  if (config.websocket.enabled) {
    subscriptions = std::make_unique<SubscriptionService>(config, chains, *filters, metrics.registry(), admin_io,
                                                          loop_ptrs);
    websocket.use_subscriptions(subscriptions.get());
  }

  std::vector<std::unique_ptr<HealthTracker>> trackers;
  for (auto& rt : chains) {
    trackers.push_back(std::make_unique<HealthTracker>(admin_io, *rt, metrics,
                                                       std::min(config.limits.upstream_timeout, rt->config->health_interval * 2)));
  }
  AdminApi admin(config, chains, metrics, router, admin_io);
  // SIGHUP and a change of the file: validated, applied live where it can be (gateway/reload.h).
  std::unique_ptr<ConfigReloader> reloader;
  if (!config_path.empty()) {
    reloader = std::make_unique<ConfigReloader>(admin_io, config_path, config, chains, trackers, metrics);
    reloader->on_applied([&router](const GatewayConfig& applied) { router.set_limits(applied.limits); });
  }

  // Client-facing TLS: the pair was checked with the config; it may have changed since.
  std::unique_ptr<http::ServerCertificate> certificate;
  auto certificate_metrics = http::CertificateMetrics::declare(metrics.registry());
  if (config.tls.enabled()) {
    try {
      certificate = std::make_unique<http::ServerCertificate>(config.tls.cert_file, config.tls.key_file,
                                                              certificate_metrics);
    } catch (const std::exception& e) {
      log::error("cannot load the TLS certificate", {{"error", e.what()}});
      return 1;
    }
  }

  http::ServerOptions traffic_opts;
  traffic_opts.tls = certificate.get();
  traffic_opts.listen = config.listen;
  traffic_opts.max_body = config.limits.max_body;
  traffic_opts.read_timeout = config.limits.read_timeout;
  traffic_opts.idle_timeout = config.limits.idle_timeout;
  traffic_opts.error_response = Router::transport_error;
  traffic_opts.connections_gauge = &metrics.client_connections();
  traffic_opts.max_connections = config.limits.max_connections;
  traffic_opts.refused_counter = &metrics.connections_refused();
  if (config.websocket.enabled) traffic_opts.websocket = websocket.options();
  http::Server traffic(loop_ptrs, traffic_opts, [&router](http::Request& r) { return router.handle(r); });

  http::ServerOptions admin_opts;
  admin_opts.listen = config.admin_listen;
  admin_opts.max_body = 64 * 1024;
  admin_opts.error_response = Router::transport_error;
  http::Server admin_server({&admin_io}, admin_opts, [&admin](http::Request& r) { return admin.handle(r); });

  // Persisted rollout state first: once the admin port listens, a new switch could be asked for,
  // and restoring after it would take that switch for one left over from before the restart.
  admin.start();
  try {
    traffic.start();
    admin_server.start();
  } catch (const std::exception& e) {
    log::error("cannot listen", {{"error", e.what()}});
    return 1;
  }

  // The trackers start now; their first round runs before traffic is served (up to 3 s), so the
  // first request already has a healthy pool.
  for (auto& t : trackers) t->start();
  gate.start(admin_io);
  if (reloader) reloader->start();
  if (certificate) certificate->watch(admin_io, config.tls.reload_interval);
  admin_io.run_for(std::chrono::milliseconds(0));
  {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (std::chrono::steady_clock::now() < until) {
      bool all = true;
      for (auto& rt : chains) all = all && rt->health.load()->probed;
      if (all) break;
      admin_io.run_for(std::chrono::milliseconds(20));
    }
  }
  std::vector<std::thread> workers;
  for (auto& loop : loops) {
    workers.emplace_back([io = loop.get()] {
      auto guard = asio::make_work_guard(*io);
      io->run();
    });
  }

  std::string chain_list;
  for (const auto& c : config.chains) chain_list += (chain_list.empty() ? "" : ",") + c.name;
  log::info("gateway listening", {{"listen", fmt::format("{}:{}", config.listen.host, traffic.port())},
                                  {"admin_listen", fmt::format("{}:{}", config.admin_listen.host, admin_server.port())},
                                  {"threads", threads},
                                  {"chains", chain_list}});

  asio::signal_set signals(admin_io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    log::info("draining", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"},
                           {"in_flight", static_cast<int64_t>(traffic.in_flight())},
                           {"drain_timeout_ms", static_cast<int64_t>(config.limits.drain_timeout.count())}});
    router.set_draining();
    traffic.begin_drain();
    // Wait for the busy connections to finish (idle ones were closed), up to drain_timeout.
    asio::co_spawn(
        admin_io,
        [&]() -> asio::awaitable<void> {
          auto deadline = std::chrono::steady_clock::now() + config.limits.drain_timeout;
          asio::steady_timer timer(admin_io);
          while (traffic.connections() > 0 && std::chrono::steady_clock::now() < deadline) {
            timer.expires_after(std::chrono::milliseconds(20));
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
          }
          if (traffic.connections() > 0) {
            log::warn("drain timeout: closing remaining connections",
                      {{"connections", static_cast<int64_t>(traffic.connections())}});
          }
          admin_io.stop();
        },
        log_failure("drain"));
  });

  admin_io.run();
  for (auto& loop : loops) loop->stop();
  for (auto& w : workers) w.join();
  log::info("gateway stopped");
  return 0;
}

}  // namespace nodeops::gateway
