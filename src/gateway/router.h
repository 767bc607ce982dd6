// The JSON-RPC data path: parse a client's request once, route each call (of a batch, each on its
// own) to an upstream, retry on another one when an attempt fails, and answer with the upstream's
// raw `result`/`error` bytes under the client's own ids. docs/gateway.md says what is retried.
//
// Threads: handle() runs on the traffic loop that accepted the request and uses that loop's
// LoopContext (chosen by Request::loop); everything shared is read-only or atomic.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include "core/http.h"
#include "core/jsonrpc.h"
#include "gateway/active_clients.h"
#include "gateway/cache.h"
#include "gateway/chain_runtime.h"
#include "gateway/client_gate.h"
#include "gateway/config.h"
#include "gateway/loop_context.h"
#include "gateway/metrics.h"

namespace nodeops::gateway {

class FilterService;

/// @brief What the replies of one client request may still add up to (limits.max_reply_bytes).
struct ReplyBudget {
  uint64_t left;
  uint64_t held = 0;  // bytes of its replies counted in the gateway's buffered total
};

/// @brief The answer to one call: its JSON-RPC reply, and whether it was shed under overload
/// (a lone shed call is answered with HTTP 503 and Retry-After).
struct CallResult {
  std::string reply;
  bool shed = false;
  /// What the response cache did; unset when the call is not cacheable (or the cache is off).
  std::optional<CacheResult> cache;
  /// The block the answer was read at, when the gateway knows it: the block the call named (or
  /// its tag resolved to), or the head of the node that answered a call reading the head.
  std::optional<uint64_t> block;
};

class Router {
 public:
  Router(const GatewayConfig& config, std::vector<std::unique_ptr<ChainRuntime>>& chains, GatewayMetrics& metrics,
         size_t loops);

  /// Gives traffic loop `index` its context with a pool per upstream on `io`. Call for every loop
  /// before it serves.
  void attach_loop(size_t index, boost::asio::io_context& io);
  /// Same with a context built elsewhere (tests: a fake UpstreamClient).
  void attach_loop(size_t index, std::unique_ptr<LoopContext> context);

  /// The traffic port: POST /<chain> (or / with one chain); GET /healthz, /readyz, /readyz/<chain>.
  boost::asio::awaitable<http::Response> handle(http::Request& request);
  /// 200 while this process can serve (not draining), whatever its upstreams do: pod readiness
  /// and the load balancer's check. Per-chain availability is readiness_of().
  http::Response readiness() const;
  /// 200 when `chain` has a healthy upstream, else 503; 404 for an unknown chain.
  http::Response readiness_of(std::string_view chain) const;
  /// Body of the errors the HTTP server answers itself (413, 408, 400), as JSON-RPC errors.
  static http::Response transport_error(int status, std::string_view message);
  ActiveClients& active_clients() { return active_clients_; }
  /// From SIGTERM on, /readyz answers 503 so load balancers stop sending while in-flight calls finish.
  void set_draining() { draining_.store(true); }
  bool draining() const { return draining_.load(); }

  /// Answers from the response cache when it may (set with use_cache; null: no cache).
  void use_cache(ResponseCache* cache) { cache_ = cache; }
  /// Puts API keys, rate limits, CORS and trusted proxies in front of every request (null: none;
  /// the client is then the direct peer).
  void use_gate(ClientGate* gate) { gate_ = gate; }
  /// Answers the filter methods of evm chains from the gateway's own filters (null: they are
  /// routed to the nodes like any call).
  void use_filters(FilterService* filters) { filters_ = filters; }

  /// One message over WebSocket (gateway/websocket.h) on `chain`, from a client the gate admitted
  /// at the upgrade: answered like a POST body — the gate's charge, cache, policy, selection,
  /// retries; a batch as a batch — its reply's bytes held (on_sent) until written. Runs on `loop`.
  boost::asio::awaitable<http::WebSocketMessage> serve_message(size_t loop, ChainRuntime& chain,
                                                               const Admission& admission, std::string body);
  /// The chain served at `path` (/<chain>, or / when there is one chain); null when none is.
  ChainRuntime* chain_at(std::string_view path) const { return chain_for(path); }
  ClientGate* gate() const { return gate_; }

  /// Answers one call: from the cache when it holds the answer (or an identical call in flight
  /// brings it), else route_call(); `no_cache` (the client's Cache-Control) skips the cache.
  boost::asio::awaitable<CallResult> serve_call(LoopContext& loop, ChainRuntime& chain, const jsonrpc::Call& call,
                                                std::chrono::steady_clock::time_point deadline, ReplyBudget& budget,
                                                bool no_cache, std::string_view client = {});
  /// Routes one call: policy, selection (health, pool, block range, breaker, in-flight cap),
  /// up to max_attempts attempts before `deadline`, replies charged to `budget`. `client` (its
  /// address) ties its reads to its own writes and to the blocks it was served (read-your-writes,
  /// monotonic reads). On a JSON-RPC result, `result_out` (when given) receives the result's raw bytes.
  boost::asio::awaitable<CallResult> route_call(LoopContext& loop, ChainRuntime& chain, const jsonrpc::Call& call,
                                                std::chrono::steady_clock::time_point deadline, ReplyBudget& budget,
                                                std::string_view client = {}, std::string* result_out = nullptr);

  /// The request limits in force; set_limits() replaces them for the requests that start after it
  /// (a reload; the server's own limits, max_body and the timeouts of a connection, stay).
  std::shared_ptr<const Limits> limits() const { return limits_.load(std::memory_order_acquire); }
  void set_limits(const Limits& limits) { limits_.store(std::make_shared<const Limits>(limits)); }

 private:
  ChainRuntime* chain_for(std::string_view path) const;
  /// handle() once the gate has let the request in.
  boost::asio::awaitable<http::Response> serve(http::Request& request, Admission& admission);
  /// Sends a raw transaction one upstream accepted to every other healthy one, within `deadline`:
  /// anvil and many private nodes do not gossip, and a pool whose members disagree about pending
  /// transactions answers nonces and receipts at random.
  boost::asio::awaitable<void> broadcast(LoopContext& loop, ChainRuntime& chain, std::string params, size_t except_slot,
                                         std::chrono::steady_clock::time_point deadline);
  /// A filter method, answered by the FilterService; its eth_getLogs calls go through route_call.
  boost::asio::awaitable<CallResult> serve_filter_call(LoopContext& loop, ChainRuntime& chain, const jsonrpc::Call& call,
                                                       std::chrono::steady_clock::time_point deadline,
                                                       ReplyBudget& budget, std::string_view client);
  /// A request's (or WebSocket message's) reply budget, whose bytes count in the buffered total
  /// until the reply has been written: a slow client reading a large answer holds those bytes as
  /// surely as an upstream still sending. Released when the last owner (the written reply) goes.
  struct HeldReplies {
    std::atomic<uint64_t>& total;
    metrics::Gauge& gauge;
    ReplyBudget budget;
    ~HeldReplies() {
      total.fetch_sub(budget.held, std::memory_order_relaxed);
      gauge.dec(static_cast<double>(budget.held));
    }
  };
  std::shared_ptr<HeldReplies> hold_replies(uint64_t max_reply_bytes) {
    return std::make_shared<HeldReplies>(HeldReplies{buffered_, metrics_.buffered_bytes(), {max_reply_bytes}});
  }
  /// A cached `result` as the reply to `call`, its bytes charged like an upstream's.
  CallResult answer_from_cache(ChainRuntime& chain, const jsonrpc::Call& call, const std::string& result,
                               Clock::time_point started, ReplyBudget& budget);

  const GatewayConfig& config_;
  /// The request limits (a reload replaces them: gateway/reload.h); each request reads one snapshot.
  std::atomic<std::shared_ptr<const Limits>> limits_;
  std::vector<std::unique_ptr<ChainRuntime>>& chains_;
  GatewayMetrics& metrics_;
  std::vector<std::unique_ptr<LoopContext>> loops_;
  /// Upstream reply bytes held by every request in progress; calls are shed while it is over
  /// limits.max_buffered_bytes, so many clients asking for large replies at once are bounded.
  std::atomic<uint64_t> buffered_{0};
  ActiveClients active_clients_;
  std::atomic<bool> draining_{false};
  ResponseCache* cache_ = nullptr;
  ClientGate* gate_ = nullptr;
  FilterService* filters_ = nullptr;
};

}  // namespace nodeops::gateway
