#include "gateway/status.h"

#include <fmt/format.h>

#include "core/json.h"

namespace nodeops::gateway {

std::string status_json(const std::vector<std::unique_ptr<ChainRuntime>>& chains,
                        bool draining) {
  std::string out = "{\"draining\":";
  out += draining ? "true" : "false";
  out += ",\"chains\":[";
  for (size_t c = 0; c < chains.size(); ++c) {
    const auto& rt = *chains[c];
    auto health = rt.health.load();
    const auto& cfg = *health->set->config;
    auto traffic = rt.traffic.load();
    if (c) out += ",";
    out += "{\"name\":";
    json::append_string(out, cfg.name);
    out += fmt::format(",\"chain_id\":{},\"best_head\":{},\"healthy\":{},\"max_lag_blocks\":{},\"active_pool\":",
                       cfg.chain_id, health->best_head, health->healthy, cfg.max_lag_blocks);
    json::append_string(out, rt.active_pool);
    // The response cache's view of this chain: what it counts as final, and how often it answers.
    double hits = rt.cache.total(CacheResult::hit), misses = rt.cache.total(CacheResult::miss);
    out += fmt::format(",\"finalized\":{},\"cache\":{{\"hits\":{},\"misses\":{},\"bypasses\":{},\"hit_ratio\":",
                       health->finalized ? std::to_string(*health->finalized) : "null", hits, misses,
                       rt.cache.total(CacheResult::bypass));
    if (hits + misses > 0) json::append_number(out, std::round(hits / (hits + misses) * 10000) / 10000);
    else out += "null";
    out += "}";
    out += ",\"traffic\":{";
    for (size_t i = 0; i < traffic->pools.size(); ++i) {
      if (i) out += ",";
      json::append_string(out, traffic->pools[i].first);
      out += ":";
      json::append_number(out, traffic->pools[i].second);
    }
    out += "},\"upstreams\":[";
    for (size_t u = 0; u < health->set->upstreams.size(); ++u) {
      const auto& upstream = health->set->upstreams[u];
      const auto& up = cfg.upstreams[u];
      if (u) out += ",";
      out += "{\"name\":";
      json::append_string(out, up.name);
      out += ",\"url\":";
      json::append_string(out, up.url.shown());  // never the key a provider's URL holds
      out += ",\"pool\":";
      json::append_string(out, up.pool);
      out += fmt::format(",\"role\":\"{}\",\"tier\":\"{}\",\"tls\":{},\"weight\":",
                         up.role == Role::archive ? "archive" : "full", tier_name(up.tier), up.url.tls());
      json::append_number(out, up.weight);
      out += ",\"max_rps\":";
      json::append_number(out, up.max_rps);
      out += ",\"backoff_s\":";
      json::append_number(out, std::round(upstream->backoff.seconds_left(Clock::now()) * 10) / 10);
      if (health->probed && u < health->upstreams.size()) {
        const auto& h = health->upstreams[u];
        out += fmt::format(",\"healthy\":{},\"state\":\"{}\",\"reason\":", h.healthy, state_name(h.state));
        json::append_string(out, h.reason);
        // Without a fresh head there is no lag to show: null, never a stale number or a 0.
        out += fmt::format(",\"head\":{},\"lag\":{}", h.head ? std::to_string(*h.head) : "null",
                           h.head ? std::to_string(h.lag) : "null");
        out += fmt::format(",\"chain_id\":{},\"syncing\":{},\"peers\":{},\"probe_ms\":",
                           h.status.chain_id ? std::to_string(*h.status.chain_id) : "null",
                           h.status.syncing ? (*h.status.syncing ? "true" : "false") : "null",
                           h.status.peers ? std::to_string(*h.status.peers) : "null");
        json::append_number(out, std::round(h.probe_seconds * 10000) / 10);
        out += ",\"client_version\":";
        json::append_string(out, h.status.client_version);
        out += ",\"head_hash\":";
        json::append_string(out, h.status.head_hash);
      } else {
        out += ",\"healthy\":false,\"state\":\"not_probed\",\"reason\":\"not probed yet\",\"head\":null,\"lag\":null";
      }
      auto& m = upstream->metrics;
      out += fmt::format(",\"in_flight\":{},\"consecutive_failures\":{}",
                         upstream->in_flight.load(std::memory_order_relaxed), upstream->breaker.consecutive_failures());
      out += ",\"requests_total\":";
      json::append_number(out, m.requests());
      out += ",\"failures_total\":";
      json::append_number(out, m.failures());
      out += ",\"p99_ms\":";
      json::append_number(out, std::round(m.duration().quantile(0.99) * 10000) / 10);
      out += ",\"history\":[";
      {
        bool first = true;
        for (const auto& p : upstream->history) {
          if (!first) out += ",";
          first = false;
          out += fmt::format("[{},{},{},", p.unix_seconds, p.head, p.healthy ? 1 : 0);
          json::append_number(out, std::round(p.rps * 10) / 10);
          out += ",";
          json::append_number(out, std::round(p.error_ratio * 10000) / 10000);
          out += ",";
          json::append_number(out, std::round(p.p99_ms * 10) / 10);
          out += "]";
        }
      }
      out += "]}";
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

}  // namespace nodeops::gateway
