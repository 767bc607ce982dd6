#include "gateway/websocket.h"

#include "core/coroutine_warnings.h"

#include <fmt/format.h>

#include <boost/asio.hpp>

#include "core/jsonrpc.h"
#include "gateway/router.h"
#include "gateway/subscriptions.h"

namespace nodeops::gateway {

ConnectionCounts::Verdict ConnectionCounts::acquire(const std::string& address) {
  std::lock_guard lock(mu_);
  if (count_ >= total_) return Verdict::max_connections;
  auto& n = per_address_count_[address];
  if (n >= per_address_) return Verdict::per_ip_limit;  // n > 0 here: the entry existed already
  ++n;
  ++count_;
  return Verdict::ok;
}

void ConnectionCounts::release(const std::string& address) {
  std::lock_guard lock(mu_);
  auto it = per_address_count_.find(address);
  if (it == per_address_count_.end()) return;
  --count_;
  if (--it->second == 0) per_address_count_.erase(it);  // the table holds connected addresses only
}

size_t ConnectionCounts::addresses() const {
  std::lock_guard lock(mu_);
  return per_address_count_.size();
}

size_t ConnectionCounts::total() const {
  std::lock_guard lock(mu_);
  return count_;
}

/// @brief One accepted connection: the client as the gate admitted it, its chain and loop. Holds
/// its slot in ConnectionCounts until the connection closes (or never opened: destroyed).
class WebSocketService::Session final : public http::WebSocketSession {
 public:
  Session(Router& router, SubscriptionService* subscriptions, ConnectionCounts& counts, ChainRuntime& chain,
          size_t loop, Admission admission)
      : router_(router),
        subscriptions_(subscriptions),
        counts_(counts),
        chain_(chain),
        loop_(loop),
        admission_(std::move(admission)) {
    // Views into the upgrade request, which is gone once the session runs.
    admission_.path = {};
    admission_.origin = {};
    admission_.answer.reset();
  }
  ~Session() override { release(); }

  void opened(std::weak_ptr<http::WebSocketOutbox> outbox) override {
    if (subscriptions_) subscribed_ = subscriptions_->connect(chain_, loop_, std::move(outbox));
  }

  // The slot is the connection's: back as soon as it closes, even while its last calls finish;
  // its subscriptions end with it.
  void closed() override {
    subscribed_.reset();
    release();
  }

  boost::asio::awaitable<http::WebSocketMessage> on_message(std::string message) override {
    if (subscribed_ && message.find("ubscribe") != std::string::npos) {
      auto reply = co_await serve_subscription(message);
      if (reply) co_return http::WebSocketMessage{std::move(*reply), nullptr};
    }
    co_return co_await router_.serve_message(loop_, chain_, admission_, std::move(message));
  }

 private:
  void release() {
    if (!std::exchange(released_, true)) counts_.release(admission_.client);
  }

  // A message that is one subscription call: its reply (empty for a notification). nullopt for
  // anything else (a batch too), which the router answers.
  boost::asio::awaitable<std::optional<std::string>> serve_subscription(const std::string& message) {
    auto parsed = jsonrpc::parse_request(message, 1);
    if (parsed.fatal || parsed.batch || parsed.calls.size() != 1) co_return std::nullopt;
    auto& call = parsed.calls.front();
    if (call.invalid || !SubscriptionService::handles(call.method)) co_return std::nullopt;
    if (admission_.series) admission_.series->requests->inc();
    auto answer = [&](std::string reply) { return call.notification() ? std::string() : std::move(reply); };
    if (router_.draining()) {
      co_return answer(jsonrpc::error_reply(call.id, jsonrpc::kLimitExceeded,
                                            "the gateway is shutting down; reconnect and retry"));
    }
    if (auto* gate = router_.gate()) {
      Admission charged = admission_;
      // The charge may wait for shared limits in Redis: the connection can close meanwhile.
      bool allowed = co_await gate->charge(charged, parsed.calls);
      if (!allowed) co_return answer(jsonrpc::error_reply(call.id, jsonrpc::kLimitExceeded, "rate limit exceeded; retry later"));
      if (call.invalid) co_return answer(jsonrpc::error_reply(call.id, call.invalid->first, call.invalid->second));
    }
    if (!subscribed_) co_return answer(jsonrpc::error_reply(call.id, jsonrpc::kLimitExceeded, "the connection is closing"));
    co_return answer(subscriptions_->serve(*subscribed_, call));
  }

  Router& router_;
  SubscriptionService* subscriptions_;
  std::unique_ptr<SubscriptionService::Connection> subscribed_;
  ConnectionCounts& counts_;
  ChainRuntime& chain_;
  size_t loop_;
  Admission admission_;
  bool released_ = false;
};

WebSocketService::WebSocketService(const GatewayConfig& config, Router& router, metrics::Registry& r)
    : config_(config),
      router_(router),
      counts_(config.websocket.max_connections_per_ip, config.websocket.max_connections) {
  series_.connections =
      &r.gauge("nodeops_gateway_websocket_connections", "Open WebSocket connections on the traffic port.").labels({});
  auto& messages =
      r.counter("nodeops_gateway_websocket_messages_total",
                "WebSocket messages by direction: in (read from clients), out (sent to them).", {"direction"});
  series_.messages_in = &messages.labels({"in"});
  series_.messages_out = &messages.labels({"out"});
  auto& closes = r.counter("nodeops_gateway_websocket_forced_closes_total",
                           "WebSocket connections closed by the gateway for a limit, by reason: slow_consumer "
                           "(1008, outbox over websocket.max_send_queue), message_too_big (1009, over "
                           "websocket.max_message).",
                           {"reason"});
  series_.slow_consumer_closes = &closes.labels({"slow_consumer"});
  series_.too_big_closes = &closes.labels({"message_too_big"});
  series_.queued_bytes = &r.gauge("nodeops_gateway_websocket_queued_bytes",
                                  "Bytes waiting in WebSocket outboxes (each at most websocket.max_send_queue "
                                  "behind the message being written).")
                              .labels({});
  auto& refused = r.counter("nodeops_gateway_websocket_upgrades_refused_total",
                            "WebSocket upgrade requests refused, by reason (bad_handshake, not_found, unauthorized, "
                            "forbidden, origin, rate_limited, per_ip_limit, max_connections, draining).",
                            {"reason"});
  for (size_t i = 0; i < kUpgradeRefusalNames.size(); ++i) refused_[i] = &refused.labels({kUpgradeRefusalNames[i]});
  series_.bad_handshakes = refused_[static_cast<size_t>(UpgradeRefusal::bad_handshake)];
}

http::WebSocketOptions WebSocketService::options() {
  const auto& ws = config_.websocket;
  http::WebSocketOptions o;
  o.accept = [this](http::Request& r) { return accept(r); };
  o.limits.max_message = ws.max_message;
  o.limits.max_send_queue = ws.max_send_queue;
  o.limits.max_in_flight = ws.max_in_flight;
  o.limits.idle_timeout = ws.idle_timeout;
  o.limits.ping_interval = ws.ping_interval;
  o.limits.handshake_timeout = ws.handshake_timeout;
  o.metrics = series_;
  o.permessage_deflate = ws.compression;
  return o;
}

http::WebSocketAccept WebSocketService::refuse(UpgradeRefusal why, http::Response response) {
  refused_[static_cast<size_t>(why)]->inc();
  http::WebSocketAccept a;
  a.refusal = std::move(response);
  return a;
}

http::WebSocketAccept WebSocketService::refuse(UpgradeRefusal why, int status, int code, std::string message) {
  http::Response r;
  r.status = status;
  r.body = jsonrpc::error_reply("", code, message);
  return refuse(why, std::move(r));
}

boost::asio::awaitable<http::WebSocketAccept> WebSocketService::accept(http::Request& req) {
  if (router_.draining()) {
    co_return refuse(UpgradeRefusal::draining, 503, jsonrpc::kLimitExceeded,
                     "the gateway is shutting down; connect again to reach another replica");
  }
  auto path = http::path_of(req.target);
  Admission admission;
  auto* gate = router_.gate();
  if (gate) {
    admission = gate->admit(req, path);
  } else {
    admission.client = req.peer_address;
    admission.path = path;
  }
  if (admission.answer) {
    auto why = UpgradeRefusal::unauthorized;
    switch (admission.rejection.value_or(Rejection::unauthorized)) {
      case Rejection::unauthorized:
        why = UpgradeRefusal::unauthorized;
        break;
      case Rejection::forbidden:
        why = UpgradeRefusal::forbidden;
        break;
      case Rejection::rate_limited:
        why = UpgradeRefusal::rate_limited;
        break;
      case Rejection::origin:
        why = UpgradeRefusal::origin;
        break;
    }
    co_return refuse(why, std::move(*admission.answer));
  }
  ChainRuntime* chain = router_.chain_at(admission.path);
  if (!chain) {
    co_return refuse(UpgradeRefusal::not_found, 404, jsonrpc::kMethodNotFound,
                     fmt::format("no route {} for a WebSocket; connect to /<chain>", admission.path));
  }
  if (gate && !gate->check_chain(admission, chain->config->name)) {
    co_return refuse(UpgradeRefusal::forbidden, std::move(*admission.answer));
  }
  switch (counts_.acquire(admission.client)) {
    case ConnectionCounts::Verdict::per_ip_limit: {
      auto r = refuse(UpgradeRefusal::per_ip_limit, 429, jsonrpc::kLimitExceeded,
                      fmt::format("this address has {} WebSocket connections open, the most it may "
                                  "(websocket.max_connections_per_ip)",
                                  config_.websocket.max_connections_per_ip));
      r.refusal->headers.emplace_back("Retry-After", "5");
      co_return r;
    }
    case ConnectionCounts::Verdict::max_connections:
      co_return refuse(UpgradeRefusal::max_connections, 503, jsonrpc::kLimitExceeded,
                       "this gateway has as many WebSocket connections as it takes (websocket.max_connections)");
    case ConnectionCounts::Verdict::ok:
      break;
  }
  http::WebSocketAccept a;
  a.session = std::make_shared<Session>(router_, subscriptions_, counts_, *chain, req.loop, std::move(admission));
  if (config_.websocket.compression) a.session->extension_offer = req.websocket_extensions;
  co_return a;
}

}  // namespace nodeops::gateway
