// JSON-RPC over WebSocket on the traffic port: `GET /<chain>` (or `/<chain>/<key>`) with
// `Upgrade: websocket`. The upgrade request passes the same client gate as a POST (address behind
// trusted proxies, Origin against cors.allowed_origins, the API key, an empty rate bucket) plus
// the connection limits (per client address and in all); a refusal is the same JSON-RPC error
// body and HTTP status a POST would get. Every message is then routed like a POST body by
// Router::serve_message, replies sent as they complete (clients match them by id).
//
// Subscriptions (eth_subscribe/eth_unsubscribe, slotSubscribe/slotUnsubscribe; a message of their
// own, not in a batch) are the SubscriptionService's (gateway/subscriptions.h): Session::opened()
// gives it the connection's outbox (core/websocket.h), which its feeds push notifications into from
// the connection's loop — the same bounded queue as replies, so a subscriber that does not read is
// closed as a slow consumer like any other; Session::closed() ends the connection's subscriptions.
//
// Metrics (registered at construction, every label value from the start): open connections,
// messages in and out, forced closes by reason, bytes queued for clients, refused upgrades by
// reason. Threads: accept() and the sessions run on traffic loops; the address table is shared
// behind a mutex taken once per upgrade and once per close.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/http.h"
#include "core/metrics.h"
#include "gateway/config.h"

namespace nodeops::gateway {

class Router;
class SubscriptionService;

/// Why an upgrade was refused (the `reason` of nodeops_gateway_websocket_upgrades_refused_total).
enum class UpgradeRefusal {
  bad_handshake,    // not RFC 6455 (400, or 426 for another version)
  not_found,        // no chain at that path (404)
  unauthorized,     // no valid API key (401)
  forbidden,        // the key may not use the chain (403)
  origin,           // an Origin not in cors.allowed_origins (403)
  rate_limited,     // the client's bucket is empty (429)
  per_ip_limit,     // websocket.max_connections_per_ip (429)
  max_connections,  // websocket.max_connections (503)
  draining,         // the gateway is shutting down (503)
};
constexpr std::array<const char*, 9> kUpgradeRefusalNames = {"bad_handshake", "not_found",       "unauthorized",
                                                             "forbidden",     "origin",          "rate_limited",
                                                             "per_ip_limit",  "max_connections", "draining"};

/// @brief WebSocket connections per client address and in all, within their caps.
class ConnectionCounts {
 public:
  enum class Verdict { ok, per_ip_limit, max_connections };
  ConnectionCounts(uint32_t per_address, uint32_t total) : per_address_(per_address), total_(total) {}
  /// Takes a slot for `address` when both caps allow; release() gives it back.
  Verdict acquire(const std::string& address);
  void release(const std::string& address);
  size_t addresses() const;
  size_t total() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, uint32_t> per_address_count_;
  size_t count_ = 0;
  uint32_t per_address_;
  uint32_t total_;
};

/// @brief Accepts WebSocket upgrades for the router and serves their messages through it.
/// Lifecycle: built after the router and its gate; options() goes into the traffic server's
/// options; outlives the server.
class WebSocketService {
 public:
  WebSocketService(const GatewayConfig& config, Router& router, metrics::Registry& registry);

  /// What the traffic server needs: the upgrade handler, limits and series.
  http::WebSocketOptions options();
  /// The gate and the limits for one upgrade request: a session, or the refusal.
  boost::asio::awaitable<http::WebSocketAccept> accept(http::Request& request);
  /// Serves subscription calls from `subscriptions` (null: they are answered -32601).
  void use_subscriptions(SubscriptionService* subscriptions) { subscriptions_ = subscriptions; }
  /// Open WebSocket connections (the status page).
  size_t connections() const { return counts_.total(); }

 private:
  class Session;
  http::WebSocketAccept refuse(UpgradeRefusal why, http::Response response);
  http::WebSocketAccept refuse(UpgradeRefusal why, int status, int code, std::string message);

  const GatewayConfig& config_;
  Router& router_;
  SubscriptionService* subscriptions_ = nullptr;
  ConnectionCounts counts_;
  http::WebSocketMetrics series_;
  std::array<metrics::Counter*, kUpgradeRefusalNames.size()> refused_{};
};

}  // namespace nodeops::gateway
