// The JSON-RPC data path: parse a client's request once, route each call (of a batch, each on its
// own) to an upstream, retry on another one when an attempt fails, and answer with the upstream's
// raw `result`/`error` bytes under the client's own ids. docs/gateway.md says what is retried.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <memory>
#include <random>
#include <vector>

#include "core/http.h"
#include "core/jsonrpc.h"
#include "gateway/active_clients.h"
#include "gateway/chain_runtime.h"
#include "gateway/config.h"
#include "gateway/health.h"
#include "gateway/metrics.h"
#include "gateway/selector.h"

namespace nodeops::gateway {

/// @brief What one event loop keeps for itself: connection pools and load per upstream.
/// Only ever touched from its own thread.
struct LoopState {
  boost::asio::io_context* io = nullptr;
  std::vector<std::vector<std::unique_ptr<http::ClientPool>>> pools;  // [chain][upstream]
  std::vector<std::vector<UpstreamLoad>> load;                         // [chain][upstream]
  Rng rng{std::random_device{}()};
  uint64_t next_id = 1;
};

class Router {
 public:
  Router(const GatewayConfig& config, std::vector<std::unique_ptr<ChainRuntime>>& chains, GatewayMetrics& metrics);

  /// Builds the per-loop state for `io`; call on each loop's thread before serving.
  void attach_loop(boost::asio::io_context& io);
  /// The traffic port: POST /<chain> (or / with one chain), GET /healthz and /readyz.
  boost::asio::awaitable<http::Response> handle(http::Request& request);
  /// 200 when every chain has a healthy upstream.
  http::Response readiness() const;
  /// Body of the errors the HTTP server answers itself (413, 408, 400), as JSON-RPC errors.
  static http::Response transport_error(int status, std::string_view message);
  ActiveClients& active_clients() { return active_clients_; }
  /// From SIGTERM on, /readyz answers 503 so load balancers stop sending while in-flight calls finish.
  void set_draining() { draining_.store(true); }
  bool draining() const { return draining_.load(); }

 private:
  boost::asio::awaitable<std::string> route_call(LoopState& loop, ChainRuntime& chain, const jsonrpc::Call& call,
                                                 std::chrono::steady_clock::time_point deadline);

  const GatewayConfig& config_;
  std::vector<std::unique_ptr<ChainRuntime>>& chains_;
  GatewayMetrics& metrics_;
  ActiveClients active_clients_;
  std::atomic<bool> draining_{false};
};

}  // namespace nodeops::gateway
