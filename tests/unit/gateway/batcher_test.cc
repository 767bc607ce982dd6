// BatchingClient against a scripted upstream: when calls travel alone and when together, and that
// every caller gets exactly its own reply (or its own failure) whatever the batch answer looks like.
#include "gateway/batcher.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include <functional>

#include "core/jsonrpc.h"
#include "gateway/metrics.h"

using namespace nodeops;
using namespace nodeops::gateway;
namespace asio = boost::asio;
using Error = http::ClientResponse::Error;

namespace {

constexpr const char* kConfig = R"(
chains:
  - name: eth
    chain_id: 1
    upstreams:
      - { name: a, url: "http://127.0.0.1:1/", batch_threshold: 1, batch_max_calls: 4 }
      - { name: b, url: "http://127.0.0.1:2/", batching: "on", batch_threshold: 1 }
)";

// An upstream that takes `delay` (5 ms) per exchange and answers with `answer(body)`; records every body.
class ScriptedUpstream final : public UpstreamClient {
 public:
  explicit ScriptedUpstream(asio::io_context& io) : io_(io) {}
  std::function<http::ClientResponse(const std::string&)> answer = honest;
  std::vector<std::string> bodies;
  std::chrono::milliseconds delay{5};

  asio::awaitable<http::ClientResponse> post(const Upstream&, std::string body, Duration,
                                             http::ReplyLimits limits) override {
    bodies.push_back(body);
    asio::steady_timer t(io_, delay);
    co_await t.async_wait(asio::use_awaitable);
    auto r = answer(body);
    if (r.ok() && limits.buffered) {
      r.charged = r.body.size();
      limits.buffered->fetch_add(r.charged);
    }
    co_return r;
  }

  // Each call's result is its own method name, so a reply given to the wrong caller shows.
  static std::string reply_to(std::string_view call) {
    auto parsed = jsonrpc::parse_request(call);
    const auto& c = parsed.calls.front();
    return jsonrpc::result_reply(c.id, json_string(c.method));
  }
  static std::string json_string(std::string_view s) { return "\"" + std::string(s) + "\""; }
  static http::ClientResponse honest(const std::string& body) {
    http::ClientResponse r;
    r.status = 200;
    auto parsed = jsonrpc::parse_request(body);
    if (!parsed.batch) {
      r.body = reply_to(body);
      return r;
    }
    // Answered in reverse order: a batch reply's order is not the request's.
    r.body = "[";
    for (size_t i = parsed.calls.size(); i-- > 0;) {
      const auto& c = parsed.calls[i];
      if (r.body.size() > 1) r.body += ",";
      r.body += jsonrpc::result_reply(c.id, json_string(c.method));
    }
    r.body += "]";
    return r;
  }

 private:
  asio::io_context& io_;
};

struct BatcherTest : ::testing::Test {
  GatewayConfig config = parse_gateway_config(kConfig, "test.yaml");
  GatewayMetrics metrics{config};
  std::vector<std::unique_ptr<ChainRuntime>> chains = make_chains(config, metrics);
  asio::io_context io;
  ScriptedUpstream* upstream = nullptr;
  std::unique_ptr<BatchingClient> client;
  std::atomic<uint64_t> buffered{0};

  BatcherTest() {
    auto inner = std::make_unique<ScriptedUpstream>(io);
    upstream = inner.get();
    client = std::make_unique<BatchingClient>(io, std::move(inner), chains);
  }

  Upstream& up(size_t i = 0) { return chains[0]->upstream(i); }

  // Sends calls with ids first_id.. in one event-loop turn (each named m<id>), returns the answers.
  std::vector<http::ClientResponse> send(size_t n, uint64_t first_id = 1, size_t upstream_index = 0,
                                         uint64_t max_body = 1 << 20, Duration timeout = Duration(1000)) {
    std::vector<http::ClientResponse> out(n);
    for (size_t i = 0; i < n; ++i) {
      uint64_t id = first_id + i;
      asio::co_spawn(
          io,
          [&, i, id]() -> asio::awaitable<void> {
            auto body = jsonrpc::upstream_request(id, "m" + std::to_string(id), "[]");
            out[i] = co_await client->post_batchable(up(upstream_index), id, body, timeout,
                                                      {max_body, &buffered, 1ull << 30});
          },
          asio::detached);
    }
    io.run();
    io.restart();
    return out;
  }
};

void expect_own_reply(const http::ClientResponse& r, uint64_t id) {
  ASSERT_TRUE(r.ok()) << r.message;
  auto reply = jsonrpc::parse_upstream_reply(r.body, id);
  ASSERT_EQ(reply.kind, jsonrpc::UpstreamReply::Kind::result) << r.body;
  EXPECT_EQ(reply.payload, "\"m" + std::to_string(id) + "\"");
}

TEST_F(BatcherTest, AnIdleUpstreamGetsACallAloneAndUnchanged) {
  auto r = send(1, 7);
  expect_own_reply(r[0], 7);
  ASSERT_EQ(upstream->bodies.size(), 1u);
  EXPECT_EQ(upstream->bodies[0], jsonrpc::upstream_request(7, "m7", "[]"));
}

TEST_F(BatcherTest, CallsReadyInOneTurnTravelTogetherAndEachGetsItsOwnReply) {
  auto r = send(3, 1);
  for (size_t i = 0; i < r.size(); ++i) expect_own_reply(r[i], 1 + i);
  ASSERT_EQ(upstream->bodies.size(), 1u);
  EXPECT_EQ(upstream->bodies[0].front(), '[');
  EXPECT_EQ(up().metrics.coalesced().value(), 3);
  EXPECT_EQ(up().batch_support.load(), BatchSupport::yes);
  // Every byte charged to the shared budget is held by exactly one caller.
  uint64_t held = 0;
  for (auto& x : r) held += x.charged;
  EXPECT_EQ(buffered.load(), held);
}

TEST_F(BatcherTest, BatchesRespectMaxCallsAndTheThreshold) {
  // 10 calls, threshold 1, at most 4 per batch: exchanges of 4, 4, 2 one after the other.
  auto r = send(10, 1);
  for (size_t i = 0; i < r.size(); ++i) expect_own_reply(r[i], 1 + i);
  ASSERT_EQ(upstream->bodies.size(), 3u);
  for (auto& b : upstream->bodies) EXPECT_LE(jsonrpc::parse_request(b).calls.size(), 4u);
}

TEST_F(BatcherTest, ACallMissingFromTheBatchReplyFailsAloneAsAProtocolError) {
  upstream->answer = [](const std::string& body) {
    auto r = ScriptedUpstream::honest(body);
    if (body.front() == '[') {
      auto parsed = jsonrpc::parse_request(body);
      r.body = "[" + jsonrpc::result_reply(parsed.calls[0].id, "\"m1\"") + "]";
    }
    return r;
  };
  auto r = send(3, 1);
  expect_own_reply(r[0], 1);
  for (size_t i = 1; i < 3; ++i) {
    EXPECT_EQ(r[i].error, Error::protocol);
    EXPECT_NE(r[i].message.find("no answer for this call"), std::string::npos);
  }
  EXPECT_EQ(buffered.load(), r[0].charged);
}

TEST_F(BatcherTest, AnUpstreamThatRefusesBatchesGetsTheCallsAloneAndNoMoreBatches) {
  upstream->answer = [](const std::string& body) {
    if (body.front() != '[') return ScriptedUpstream::honest(body);
    http::ClientResponse r;
    r.status = 200;
    r.body = R"({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batch requests are not allowed"}})";
    return r;
  };
  auto r = send(3, 1);
  for (size_t i = 0; i < r.size(); ++i) expect_own_reply(r[i], 1 + i);
  EXPECT_EQ(upstream->bodies.size(), 4u);  // the batch, then each call alone
  EXPECT_EQ(up().batch_support.load(), BatchSupport::no);
  EXPECT_FALSE(up().batches(Clock::now()));
  EXPECT_TRUE(up().batches(Clock::now() + Upstream::kBatchRefusalMemory + std::chrono::seconds(1)));
  EXPECT_EQ(up().metrics.batching().value(), 0);
  EXPECT_EQ(buffered.load(), r[0].charged + r[1].charged + r[2].charged);
  // From now on its calls go alone even when they queue up.
  upstream->bodies.clear();
  send(3, 10);
  EXPECT_EQ(upstream->bodies.size(), 3u);
}

TEST_F(BatcherTest, BatchingOnKeepsTryingAfterARefusal) {
  upstream->answer = [](const std::string& body) {
    if (body.front() != '[') return ScriptedUpstream::honest(body);
    http::ClientResponse r;
    r.status = 400;
    r.body = "bad request";
    return r;
  };
  auto r = send(2, 1, 1);
  for (size_t i = 0; i < r.size(); ++i) expect_own_reply(r[i], 1 + i);
  EXPECT_TRUE(up(1).batches(Clock::now()));
}

TEST_F(BatcherTest, AnExchangeThatFailsAsAWholeFailsEveryCallInIt) {
  upstream->answer = [](const std::string&) {
    http::ClientResponse r;
    r.status = 503;
    r.body = "busy";
    return r;
  };
  auto r = send(3, 1);
  for (auto& x : r) {
    EXPECT_TRUE(x.ok());
    EXPECT_EQ(x.status, 503);
    EXPECT_EQ(x.charged, 0u);
  }
  EXPECT_EQ(up().batch_support.load(), BatchSupport::unknown);  // a failure says nothing about batches
  upstream->answer = [](const std::string&) {
    http::ClientResponse refused;
    refused.error = Error::connect;
    refused.message = "refused";
    return refused;
  };
  for (auto& x : send(2, 5)) EXPECT_EQ(x.error, Error::connect);
}

TEST_F(BatcherTest, GarbageForABatchFailsEachCallAndIsNoRefusal) {
  upstream->answer = [](const std::string&) {
    http::ClientResponse r;
    r.status = 200;
    r.body = "<html>502 Bad Gateway</html>";
    return r;
  };
  for (auto& x : send(3, 1)) {
    EXPECT_EQ(x.error, Error::protocol);
    EXPECT_EQ(x.message, "reply is not JSON");
  }
  EXPECT_EQ(upstream->bodies.size(), 1u);  // not sent again one by one
  EXPECT_NE(up().batch_support.load(), BatchSupport::no);
  EXPECT_EQ(buffered.load(), 0u);
}

TEST_F(BatcherTest, AReplyOverItsCallersBudgetFailsOnlyThatCall) {
  upstream->answer = [](const std::string& body) {
    auto r = ScriptedUpstream::honest(body);
    // m2's result is made large.
    auto at = r.body.find("\"m2\"");
    if (at != std::string::npos) r.body.replace(at, 4, "\"m2" + std::string(200, 'x') + "\"");
    return r;
  };
  auto r = send(3, 1, 0, 100);
  expect_own_reply(r[0], 1);
  EXPECT_EQ(r[1].error, Error::too_large);
  expect_own_reply(r[2], 3);
  EXPECT_EQ(buffered.load(), r[0].charged + r[2].charged);
}

TEST_F(BatcherTest, ACallWhoseTimeRanOutInTheQueueIsNotSent) {
  // The first call holds the only exchange for 500 ms; the second has 1 ms to live. (The hold is
  // long so that a busy machine cannot end the exchange before the second call has queued.)
  upstream->delay = std::chrono::milliseconds(500);
  std::vector<http::ClientResponse> out(2);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        out[0] = co_await client->post_batchable(up(), 1, jsonrpc::upstream_request(1, "m1", "[]"), Duration(1000), {});
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // Queued after the first has left: it waits for that exchange.
        asio::steady_timer t(io, std::chrono::milliseconds(1));
        co_await t.async_wait(asio::use_awaitable);
        out[1] = co_await client->post_batchable(up(), 2, jsonrpc::upstream_request(2, "m2", "[]"), Duration(1), {});
      },
      asio::detached);
  io.run();
  expect_own_reply(out[0], 1);
  EXPECT_EQ(out[1].error, Error::timeout);
  EXPECT_EQ(upstream->bodies.size(), 1u);
}

TEST_F(BatcherTest, BatchingOffSendsEveryCallAlone) {
  auto cfg = parse_gateway_config(R"(
chains:
  - name: eth
    chain_id: 1
    upstreams: [{ name: a, url: "http://127.0.0.1:1/", batching: "off" }]
)",
                                  "off.yaml");
  GatewayMetrics m{cfg};
  auto off = make_chains(cfg, m);
  EXPECT_FALSE(off[0]->upstream(0).batches(Clock::now()));
  EXPECT_EQ(off[0]->upstream(0).metrics.batching().value(), 0);
}

}  // namespace
