#include "gateway/batcher.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

#include "core/jsonrpc.h"
#include "core/log.h"

namespace nodeops::gateway {

namespace asio = boost::asio;
using Error = http::ClientResponse::Error;

namespace {

// A parked coroutine's completion handler, type-erased and move-only. (Boost 1.81's
// any_completion_handler recurses without end when moved, so it cannot be used here.)
struct Resume {
  virtual ~Resume() = default;
  virtual void operator()() = 0;
};
template <typename Handler>
struct ResumeWith final : Resume {
  explicit ResumeWith(Handler&& h) : handler(std::move(h)) {}
  void operator()() override { std::move(handler)(); }
  Handler handler;
};

}  // namespace

struct BatchingClient::Waiter {
  uint64_t id;
  std::string body;
  Clock::time_point queued;
  Clock::time_point deadline;
  http::ReplyLimits limits;
  http::ClientResponse result;
  std::unique_ptr<Resume> resume;
  bool done = false;
};

BatchingClient::BatchingClient(asio::io_context& io, std::unique_ptr<UpstreamClient> inner,
                               const std::vector<std::unique_ptr<ChainRuntime>>& chains)
    : io_(io), inner_(std::move(inner)), lanes_(chains.size()) {}

BatchingClient::Lane& BatchingClient::lane_of(const Upstream& upstream) {
  auto& lanes = lanes_[upstream.chain_index()];
  if (upstream.slot() >= lanes.size()) lanes.resize(upstream.slot() + 1);
  auto& lane = lanes[upstream.slot()];
  if (!lane) {
    lane = std::make_unique<Lane>();
    // A slot is one upstream object for ever; while calls queue in its lane, their callers keep it alive.
    lane->upstream = const_cast<Upstream*>(&upstream);
    if (upstream.config().batch_wait.count() > 0) lane->wait_timer = std::make_unique<asio::steady_timer>(io_);
  }
  return *lane;
}

BatchingClient::~BatchingClient() = default;

asio::awaitable<http::ClientResponse> BatchingClient::post(const Upstream& upstream, std::string body, Duration timeout,
                                                           http::ReplyLimits limits) {
  co_return co_await inner_->post(upstream, std::move(body), timeout, limits);
}

asio::awaitable<http::ClientResponse> BatchingClient::post_batchable(const Upstream& upstream, uint64_t id,
                                                                     std::string body, Duration timeout,
                                                                     http::ReplyLimits limits) {
  auto now = Clock::now();
  if (!upstream.batches(now)) co_return co_await inner_->post(upstream, std::move(body), timeout, limits);
  auto& lane = lane_of(upstream);
  Waiter w{id, std::move(body), now, now + timeout, limits, {}, {}};
  // Queued inside the initiation, so the waiter is never seen without its way to resume.
  co_await asio::async_initiate<const asio::use_awaitable_t<>, void()>(
      [&](auto handler) {
        w.resume = std::make_unique<ResumeWith<decltype(handler)>>(std::move(handler));
        lane.queue.push_back(&w);
        lane.queued_bytes += w.body.size();
        schedule(lane);
      },
      asio::use_awaitable);
  co_return std::move(w.result);
}

// Whether a lane may start another exchange now: below the threshold, or with a full batch
// waiting (so throughput is never capped at threshold x max_calls per round trip to a far node).
bool BatchingClient::may_send(const Lane& lane) {
  const auto& cfg = lane.upstream->config();
  return lane.exchanges < cfg.batch_threshold || lane.queue.size() >= cfg.batch_max_calls ||
         lane.queued_bytes >= cfg.batch_max_bytes;
}

void BatchingClient::schedule(Lane& lane) {
  const auto& cfg = lane.upstream->config();
  if (!may_send(lane)) return;  // the next exchange to return flushes
  bool full = lane.queue.size() >= cfg.batch_max_calls || lane.queued_bytes >= cfg.batch_max_bytes;
  if (lane.wait_timer && !full) {
    if (lane.queue.size() == 1) {
      lane.wait_timer->expires_after(cfg.batch_wait);
      lane.wait_timer->async_wait([this, &lane](boost::system::error_code ec) {
        if (!ec) flush(lane);
      });
    }
    return;
  }
  if (lane.flush_posted) return;
  // At the end of this turn: calls that became ready in the same turn leave together.
  lane.flush_posted = true;
  asio::post(io_, [this, &lane] {
    lane.flush_posted = false;
    flush(lane);
  });
}

void BatchingClient::flush(Lane& lane) {
  const auto& cfg = lane.upstream->config();
  if (lane.wait_timer) lane.wait_timer->cancel();
  auto now = Clock::now();
  while (!lane.queue.empty() && may_send(lane)) {
    std::vector<Waiter*> batch;
    uint64_t bytes = 0;
    while (!lane.queue.empty() && batch.size() < cfg.batch_max_calls) {
      Waiter* w = lane.queue.front();
      if (!batch.empty() && bytes + w->body.size() > cfg.batch_max_bytes) break;
      lane.queue.pop_front();
      lane.queued_bytes -= w->body.size();
      if (w->deadline <= now) {
        // The exchanges ahead of it took all its time: the upstream is that slow.
        w->result.error = Error::timeout;
        w->result.message = "timed out queued for a busy upstream";
        complete(*w);
        continue;
      }
      bytes += w->body.size() + 1;
      batch.push_back(w);
    }
    if (batch.empty()) continue;
    ++lane.exchanges;
    asio::co_spawn(io_, exchange(lane, std::move(batch)), asio::detached);
  }
}

void BatchingClient::complete(Waiter& w) {
  w.done = true;
  // Resumed from the loop, not from inside the exchange that answered it.
  asio::post(io_, [resume = std::move(w.resume)] { (*resume)(); });
}

namespace {

Duration time_left(Clock::time_point deadline, Clock::time_point now) {
  return std::max(Duration(1), std::chrono::ceil<Duration>(deadline - now));
}

// Whether a reply to a batch says the node does not take batches, as opposed to failing now: a
// JSON-RPC answer that is not an array (one error object, the way providers refuse batches), or a
// client error status. Bytes that are not JSON at all are a broken answer, not a refusal.
bool refuses_batches(const http::ClientResponse& res, const jsonrpc::BatchReply& split) {
  if (res.status >= 400 && res.status < 500 && res.status != 408 && res.status != 429) return true;
  return res.status == 200 && !split.is_array && split.problem != "reply is not JSON" &&
         split.problem != "empty reply";
}

}  // namespace

asio::awaitable<void> BatchingClient::exchange(Lane& lane, std::vector<Waiter*> batch) {
  auto& up = *lane.upstream;
  auto& m = up.metrics;
  auto now = Clock::now();
  for (auto* w : batch) m.coalesce_wait().observe(std::chrono::duration<double>(now - w->queued).count());
  m.batch_calls().observe(static_cast<double>(batch.size()));
  try {
    if (batch.size() == 1) {
      auto* w = batch.front();
      w->result = co_await inner_->post(up, std::move(w->body), time_left(w->deadline, now), w->limits);
      complete(*w);
    } else {
      m.coalesced().inc(static_cast<double>(batch.size()));
      std::string body = "[";
      auto deadline = batch.front()->deadline;
      http::ReplyLimits limits = batch.front()->limits;
      limits.max_body = 0;
      bool bounded = true;
      for (auto* w : batch) {
        if (body.size() > 1) body += ',';
        body += w->body;
        deadline = std::min(deadline, w->deadline);
        bounded = bounded && w->limits.max_body > 0;
        limits.max_body += w->limits.max_body;
      }
      body += ']';
      if (!bounded) limits.max_body = 0;
      auto res = co_await inner_->post(up, std::move(body), time_left(deadline, now), limits);
      deliver(lane, batch, std::move(res));
    }
  } catch (const std::exception& e) {
    for (auto* w : batch) {
      if (w->done) continue;
      w->result = {};
      w->result.error = Error::io;
      w->result.message = e.what();
      complete(*w);
    }
  }
  --lane.exchanges;
  if (!lane.queue.empty()) flush(lane);
}

void BatchingClient::deliver(Lane& lane, const std::vector<Waiter*>& batch, http::ClientResponse res) {
  auto& up = *lane.upstream;
  auto* buffered = batch.front()->limits.buffered;
  auto release = [&](uint64_t n) {
    if (buffered && n) buffered->fetch_sub(n, std::memory_order_relaxed);
  };
  jsonrpc::BatchReply split;
  if (res.ok() && res.status == 200) split = jsonrpc::split_batch_reply(res.body);
  if (res.error == Error::too_large || (res.ok() && refuses_batches(res, split))) {
    // Too large together may be fine apart (each has its own budget); refused as a batch: alone.
    release(std::exchange(res.charged, 0));
    if (res.ok() && up.config().batching == Batching::automatic && up.refuse_batches(Clock::now())) {
      up.metrics.batching().set(0);
      log::warn("upstream refuses batches: sending its calls one by one",
                {{"upstream", up.name()}, {"status", res.status},
                 {"reason", split.problem.empty() ? "HTTP " + std::to_string(res.status) : split.problem}});
    }
    send_alone(up, batch);
    return;
  }
  if (res.ok() && res.status == 200 && !split.is_array) {
    // Not JSON at all: as broken as it would have been for each call alone.
    res.error = Error::protocol;
    res.message = split.problem;
  }
  if (!res.ok() || res.status != 200) {
    // The exchange failed as a whole (connect, timeout, 5xx, 429, garbage...): so did each call in it.
    release(std::exchange(res.charged, 0));
    for (auto* w : batch) {
      w->result.error = res.error;
      w->result.message = res.message;
      w->result.status = res.status;
      w->result.retry_after = res.retry_after;  // a provider's 429 backs off the upstream for each call
      complete(*w);
    }
    return;
  }
  if (up.batch_support.exchange(BatchSupport::yes, std::memory_order_relaxed) == BatchSupport::no) {
    up.metrics.batching().set(1);  // taken again after kBatchRefusalMemory
  }
  uint64_t given = 0;
  for (auto* w : batch) {
    auto it = std::find_if(split.items.begin(), split.items.end(), [&](const auto& item) { return item.first == w->id; });
    if (it == split.items.end()) {
      w->result.error = Error::protocol;
      w->result.message = "the upstream's batch reply has no answer for this call";
    } else if (w->limits.max_body > 0 && it->second.size() > w->limits.max_body) {
      w->result.error = Error::too_large;
      w->result.message = "reply larger than the request's reply budget";
    } else {
      w->result.status = res.status;
      w->result.body.assign(it->second);
      if (res.charged > 0) w->result.charged = it->second.size();
      given += w->result.charged;
    }
    complete(*w);
  }
  release(res.charged - std::min(res.charged, given));
}

void BatchingClient::send_alone(Upstream& up, const std::vector<Waiter*>& batch) {
  // One by one, each with its own budget; each resumes its caller as soon as it is answered.
  for (auto* w : batch) {
    w->done = true;  // the coroutine below answers it
    asio::co_spawn(
        io_,
        [this, &up, w]() -> asio::awaitable<void> {
          try {
            w->result = co_await inner_->post(up, std::move(w->body), time_left(w->deadline, Clock::now()), w->limits);
          } catch (const std::exception& e) {
            w->result = {};
            w->result.error = Error::io;
            w->result.message = e.what();
          }
          complete(*w);
        },
        asio::detached);
  }
}

}  // namespace nodeops::gateway
