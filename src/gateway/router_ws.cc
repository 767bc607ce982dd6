// Router::serve_message: the WebSocket entry of the data path. Kept apart from router.cc so that
// the HTTP path and the routing itself change there without touching this one; what it shares
// with serve() is serve_call(), where every call is answered.

#include "core/coroutine_warnings.h"

#include <boost/asio.hpp>

#include "core/concurrent.h"
#include "core/jsonrpc.h"
#include "gateway/router.h"

namespace nodeops::gateway {
namespace asio = boost::asio;

namespace {

// A subscription call that reaches the router came in a batch (the WebSocket session serves one
// sent as a message of its own, gateway/subscriptions.h) or the gateway serves none: a client is
// told so, rather than "method not found" from the chain's policy.
constexpr std::string_view kNoSubscriptions =
    "subscription calls are served as a WebSocket message of their own, not in a batch";

bool is_subscription(std::string_view method) {
  return method == "eth_subscribe" || method == "eth_unsubscribe" || method == "slotSubscribe" ||
         method == "slotUnsubscribe";
}

// Every call of a request answered with the same error (notifications get nothing); "" when none.
std::string error_for_each(const jsonrpc::ParsedRequest& parsed, int code, std::string_view message) {
  std::string out;
  for (const auto& call : parsed.calls) {
    if (call.notification()) continue;
    out += out.empty() ? (parsed.batch ? "[" : "") : ",";
    out += jsonrpc::error_reply(call.id, code, message);
  }
  if (parsed.batch && !out.empty()) out += "]";
  return out;
}

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

asio::awaitable<http::WebSocketMessage> Router::serve_message(size_t loop_index, ChainRuntime& chain,
                                                              const Admission& admission, std::string body) {
  auto request_limits = limits();  // one snapshot for the whole message, whatever a reload does
  const std::string& client = admission.client;
  if (admission.series) admission.series->requests->inc();  // a message is a request, as a POST is
  active_clients_.seen(client, unix_seconds());
  metrics_.in_flight().inc();
  struct InFlight {
    metrics::Gauge& g;
    ~InFlight() { g.dec(); }
  } in_flight{metrics_.in_flight()};

  auto& loop = *loops_.at(loop_index);
  auto deadline = Clock::now() + request_limits->request_timeout;
  auto parsed = jsonrpc::parse_request(body, request_limits->max_batch);
  if (parsed.fatal) {
    metrics_.record_request(chain.index, "other", Outcome::rejected, 0);
    co_return http::WebSocketMessage{jsonrpc::error_reply("", parsed.fatal->first, parsed.fatal->second), nullptr};
  }
  if (draining_.load(std::memory_order_relaxed)) {
    // The connection closes (1001) once what it has in flight is answered; new calls are not started.
    co_return http::WebSocketMessage{
        error_for_each(parsed, jsonrpc::kLimitExceeded, "the gateway is shutting down; reconnect and retry"), nullptr};
  }
  for (auto& call : parsed.calls) {
    if (!call.invalid && is_subscription(call.method)) call.invalid.emplace(jsonrpc::kMethodNotFound, kNoSubscriptions);
  }
  if (gate_) {
    Admission charged = admission;  // the connection's key and address; its refusal stays with this message
    bool admitted = co_await gate_->charge(charged, parsed.calls);
    if (!admitted) {
      co_return http::WebSocketMessage{
          error_for_each(parsed, jsonrpc::kLimitExceeded, "rate limit exceeded; retry later"), nullptr};
    }
  }
  // As in serve(): the replies waiting in every WebSocket outbox are bounded by
  // limits.max_buffered_bytes too.
  auto held = hold_replies(request_limits->max_reply_bytes);
  auto& budget = held->budget;
  if (!parsed.batch) {
    auto result = co_await serve_call(loop, chain, parsed.calls.front(), deadline, budget, false, client);
    if (parsed.calls.front().notification()) co_return http::WebSocketMessage{};
    co_return http::WebSocketMessage{std::move(result.reply), held};
  }
  size_t n = parsed.calls.size();
  std::vector<std::string> replies(n);
  co_await for_each_concurrently(
      loop.io, n,
      [&](size_t i) -> asio::awaitable<void> {
        auto result = co_await serve_call(loop, chain, parsed.calls[i], deadline, budget, false, client);
        replies[i] = std::move(result.reply);
      },
      request_limits->batch_concurrency, "batch call");
  size_t size = 2;
  for (const auto& r : replies) size += r.size() + 1;
  std::string out;
  out.reserve(size);
  for (size_t i = 0; i < n; ++i) {
    if (parsed.calls[i].notification()) continue;
    out += out.empty() ? "[" : ",";
    out += replies[i];
    std::string().swap(replies[i]);
  }
  if (out.empty()) co_return http::WebSocketMessage{};
  out += "]";
  co_return http::WebSocketMessage{std::move(out), held};
}

}  // namespace nodeops::gateway
