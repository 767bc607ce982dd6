// What one traffic loop keeps for itself, passed explicitly to the data path (no thread_local):
// the way it reaches upstreams, its load figures per upstream, its random source and ids.
// Lifecycle: one per traffic loop, built before the loop serves; touched only from its thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/http.h"
#include "core/redis.h"
#include "core/ws_client.h"
#include "gateway/chain_runtime.h"
#include "gateway/selector.h"

namespace nodeops::gateway {

/// @brief The seam between routing and the network: sends one JSON-RPC body to one upstream.
/// Production keeps a keep-alive pool per upstream on its loop; unit tests put a fake here.
class UpstreamClient {
 public:
  virtual ~UpstreamClient() = default;
  /// POSTs `body` to the upstream's URL within `timeout`, its answer bounded by `limits`.
  virtual boost::asio::awaitable<http::ClientResponse> post(const Upstream& upstream, std::string body,
                                                            Duration timeout, http::ReplyLimits limits) = 0;
  /// The same for a light call that may share a JSON-RPC batch with others (gateway/batcher.h):
  /// `id` is the upstream id inside `body`, and the answer is this call's own reply object. By
  /// default it is sent alone.
  virtual boost::asio::awaitable<http::ClientResponse> post_batchable(const Upstream& upstream, uint64_t id,
                                                                      std::string body, Duration timeout,
                                                                      http::ReplyLimits limits) {
    (void)id;
    co_return co_await post(upstream, std::move(body), timeout, limits);
  }
};

/// @brief One http::ClientPool per upstream of every chain (an http::WsRpcClient for a ws or wss
/// upstream), on one event loop, made at its first call (a reload adds upstreams). The pool of an
/// upstream a reload removed is closed at the next call after its removal; a call still in flight
/// on it keeps its connection to the end.
class PooledUpstreamClient final : public UpstreamClient {
 public:
  PooledUpstreamClient(boost::asio::io_context& io, const std::vector<std::unique_ptr<ChainRuntime>>& chains,
                       uint64_t max_reply);
  boost::asio::awaitable<http::ClientResponse> post(const Upstream& upstream, std::string body, Duration timeout,
                                                    http::ReplyLimits limits) override;

 private:
  /// How this loop reaches one upstream: one of the two.
  struct Route {
    std::unique_ptr<http::ClientPool> pool;
    std::unique_ptr<http::WsRpcClient> socket;
  };
  Route& route_of(const Upstream& upstream);
  boost::asio::io_context& io_;
  const std::vector<std::unique_ptr<ChainRuntime>>& chains_;
  uint64_t max_reply_;
  std::vector<std::vector<Route>> routes_;  // [chain][upstream slot]
  std::vector<uint64_t> generation_;  // [chain]: the set generation the pools were last pruned for
};

struct LoopContext {
  LoopContext(boost::asio::io_context& io, std::unique_ptr<UpstreamClient> client,
              const std::vector<std::unique_ptr<ChainRuntime>>& chains);

  boost::asio::io_context& io;
  std::unique_ptr<UpstreamClient> client;
  std::unique_ptr<redis::Client> redis;  // the cache's shared tier, when configured
  std::vector<std::vector<UpstreamLoad>> load;  // [chain][upstream slot], this loop's view
  /// This loop's load figures for one upstream (grown when a reload added upstreams).
  UpstreamLoad& load_of(const Upstream& upstream) {
    auto& chain = load[upstream.chain_index()];
    if (upstream.slot() >= chain.size()) chain.resize(upstream.slot() + 1);
    return chain[upstream.slot()];
  }
  Rng rng{std::random_device{}()};
  uint64_t next_id = 1;
};

}  // namespace nodeops::gateway
