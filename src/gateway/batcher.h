// Adaptive upstream batching (docs/gateway.md, "Upstream batching"). A node answers ten calls sent
// as one JSON-RPC batch for little more than one call costs it: the HTTP exchange, not the call, is
// what a node spends most on. So while an upstream already has `batch_threshold` exchanges in
// flight from this loop, further light calls to it queue, and whatever has queued when one of
// those returns travels as one batch (or at once, when a full batch has queued), split back to
// each caller by id. Below the threshold a call is sent at once (with the calls that became ready
// in the same event-loop turn): an idle upstream adds no wait, and batching takes effect exactly
// when the node's per-exchange cost limits throughput.
//
// Every caller gets its own reply object, or the failure the exchange had, so the router retries
// per call. An upstream that answers a batch as anything but a batch gets those calls again one by
// one, and (batching: auto) no more batches.
//
// Threads: one per traffic loop, owned by its LoopContext; no locks.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <memory>
#include <vector>

#include "gateway/chain_runtime.h"
#include "gateway/loop_context.h"

namespace nodeops::gateway {

class BatchingClient final : public UpstreamClient {
 public:
  BatchingClient(boost::asio::io_context& io, std::unique_ptr<UpstreamClient> inner,
                 const std::vector<std::unique_ptr<ChainRuntime>>& chains);
  ~BatchingClient() override;

  boost::asio::awaitable<http::ClientResponse> post(const Upstream& upstream, std::string body, Duration timeout,
                                                    http::ReplyLimits limits) override;
  boost::asio::awaitable<http::ClientResponse> post_batchable(const Upstream& upstream, uint64_t id, std::string body,
                                                              Duration timeout, http::ReplyLimits limits) override;

 private:
  struct Waiter;
  /// The calls queued for one upstream on this loop, and its exchanges in flight.
  struct Lane {
    Upstream* upstream = nullptr;
    std::deque<Waiter*> queue;
    uint64_t queued_bytes = 0;
    uint32_t exchanges = 0;
    bool flush_posted = false;
    std::unique_ptr<boost::asio::steady_timer> wait_timer;  // batch_wait > 0 only
  };

  static bool may_send(const Lane& lane);
  /// Arranges for the lane to be flushed: at the end of this turn, or after batch_wait.
  void schedule(Lane& lane);
  /// Sends what has queued, as many exchanges as the threshold allows.
  void flush(Lane& lane);
  boost::asio::awaitable<void> exchange(Lane& lane, std::vector<Waiter*> batch);
  /// Hands each call of a batch its reply object (or the exchange's failure).
  void deliver(Lane& lane, const std::vector<Waiter*>& batch, http::ClientResponse res);
  /// Calls of a batch the upstream refused as a batch, sent again one by one.
  void send_alone(Upstream& upstream, const std::vector<Waiter*>& batch);
  void complete(Waiter& w);

  boost::asio::io_context& io_;
  std::unique_ptr<UpstreamClient> inner_;
  /// The upstream's lane on this loop, made at its first call (a reload adds upstreams). Lanes stay
  /// where they are: exchanges in flight hold references to them.
  Lane& lane_of(const Upstream& upstream);
  std::vector<std::vector<std::unique_ptr<Lane>>> lanes_;  // [chain][upstream slot]
};

}  // namespace nodeops::gateway
