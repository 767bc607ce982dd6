// route_call and handle() against a fake UpstreamClient: retry order, deadlines, archive fallback,
// batch limits, the circuit breaker, in-flight caps and the reply budget — no sockets.
#include "gateway/router.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include <algorithm>
#include <functional>
#include <thread>
#include <map>

#include "core/jsonrpc.h"

using namespace nodeops;
using namespace nodeops::gateway;
namespace asio = boost::asio;

namespace {

constexpr const char* kConfig = R"(
limits: { max_batch: 3, request_timeout: 2s, upstream_timeout: 1s, max_attempts: 3, max_reply_bytes: 1KiB }
chains:
  - name: eth
    chain_id: 1
    archive_after_blocks: 100
    passive_health: { consecutive_failures: 3, cooldown: 10s }
    upstreams:
      - { name: a, url: "http://127.0.0.1:1/" }
      - { name: b, url: "http://127.0.0.1:2/" }
      - { name: arch, url: "http://127.0.0.1:3/", role: archive, max_inflight: 1 }
)";

// What a fake upstream does with one call: answer with (status, body-with-our-id), fail, or sleep.
struct Behaviour {
  http::ClientResponse::Error error = http::ClientResponse::Error::none;
  int status = 200;
  std::string result = "\"0x1\"";       // the `result` raw JSON; empty to send `error` instead
  std::string error_object;             // raw JSON error object
  std::chrono::milliseconds delay{0};
  std::string retry_after;              // sent with the answer (a 429's Retry-After)
};

class FakeClient final : public UpstreamClient {
 public:
  explicit FakeClient(asio::io_context& io) : io_(io) {}
  std::map<std::string, Behaviour> behaviour;
  std::vector<std::string> calls;  // upstream names, in order

  asio::awaitable<http::ClientResponse> post(const Upstream& up, std::string body, Duration timeout,
                                             http::ReplyLimits limits) override {
    uint64_t max_reply = limits.max_body;
    calls.push_back(up.name());
    auto b = behaviour[up.name()];
    http::ClientResponse r;
    if (b.delay.count() > 0) {
      asio::steady_timer t(io_, std::min<Duration>(b.delay, timeout));
      co_await t.async_wait(asio::use_awaitable);
      if (b.delay > timeout) {
        r.error = http::ClientResponse::Error::timeout;
        r.message = "read: timed out";
        co_return r;
      }
    }
    if (b.error != http::ClientResponse::Error::none) {
      r.error = b.error;
      r.message = "fake failure";
      co_return r;
    }
    auto parsed = jsonrpc::parse_request(body);
    std::string id(parsed.calls.front().id);
    r.status = b.status;
    r.retry_after = b.retry_after;
    r.body = b.result.empty() ? jsonrpc::error_object_reply(id, b.error_object) : jsonrpc::result_reply(id, b.result);
    if (r.body.size() > max_reply) {
      r = {};
      r.error = http::ClientResponse::Error::too_large;
      r.message = "too large";
    }
    co_return r;
  }

 private:
  asio::io_context& io_;
};

struct RouterTest : ::testing::Test {
  explicit RouterTest(const char* text = kConfig) : config(parse_gateway_config(text, "test.yaml")) {
    auto client = std::make_unique<FakeClient>(io);
    fake = client.get();
    router.attach_loop(0, std::make_unique<LoopContext>(io, std::move(client), chains));
    set_heads({1000, 1000, 1000});
  }
  GatewayConfig config;
  GatewayMetrics metrics{config};
  std::vector<std::unique_ptr<ChainRuntime>> chains = make_chains(config, metrics);
  Router router{config, chains, metrics, 1};
  asio::io_context io;
  FakeClient* fake = nullptr;

  void set_heads(std::vector<uint64_t> heads, std::vector<bool> healthy = {true, true, true}) {
    auto h = std::make_shared<ChainHealth>();
    h->probed = true;
    for (size_t i = 0; i < heads.size(); ++i) {
      UpstreamHealth u;
      u.healthy = healthy[i];
      u.state = healthy[i] ? UpstreamState::healthy : UpstreamState::down;
      u.head = heads[i];
      h->upstreams.push_back(u);
      if (healthy[i]) ++h->healthy;
      h->best_head = std::max(h->best_head, heads[i]);
    }
    chains[0]->health.publish(h);
  }

  // Routes one call (or a whole request body through handle()) and returns the reply.
  std::string call(std::string body) {
    std::string out;
    int status = 0;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          http::Request req;
          req.method = "POST";
          req.target = "/eth";
          req.content_type = "application/json";
          req.body = body;
          auto r = co_await router.handle(req);
          out = r.body;
          status = r.status;
        },
        asio::detached);
    io.run();
    io.restart();
    last_status = status;
    return out;
  }
  int last_status = 0;
  std::string single(std::string_view method, std::string_view params = "[]") {
    return call(fmt::format(R"({{"jsonrpc":"2.0","id":7,"method":"{}","params":{}}})", method, params));
  }
};

}  // namespace

TEST_F(RouterTest, AnswersWithTheUpstreamResultUnderTheClientsId) {
  for (auto n : {"a", "b", "arch"}) fake->behaviour[n].result = R"({"x":[1, 2]})";
  EXPECT_EQ(single("eth_feeHistory"), R"({"jsonrpc":"2.0","id":7,"result":{"x":[1, 2]}})");
  EXPECT_EQ(fake->calls.size(), 1u);
}

TEST_F(RouterTest, RetriesOnAnotherUpstreamAfterAFailureAndNeverTheSameOneTwice) {
  for (auto n : {"a", "b", "arch"}) fake->behaviour[n].error = http::ClientResponse::Error::connect;
  fake->behaviour["b"] = Behaviour{};
  auto reply = single("eth_blockNumber");
  EXPECT_NE(reply.find("\"result\":\"0x1\""), std::string::npos) << reply;
  ASSERT_FALSE(fake->calls.empty());
  EXPECT_EQ(fake->calls.back(), "b");
  std::set<std::string> distinct(fake->calls.begin(), fake->calls.end());
  EXPECT_EQ(distinct.size(), fake->calls.size());
}

TEST_F(RouterTest, AllAttemptsFailedSaysWhyWithTheLastProblem) {
  for (auto n : {"a", "b", "arch"}) fake->behaviour[n].status = 502;
  auto reply = single("eth_blockNumber");
  EXPECT_NE(reply.find("-32011"), std::string::npos) << reply;
  EXPECT_NE(reply.find("HTTP 502"), std::string::npos) << reply;
  EXPECT_EQ(fake->calls.size(), 3u);
}

TEST_F(RouterTest, TheRequestDeadlineEndsTheCallWithATimeoutError) {
  for (auto n : {"a", "b", "arch"}) fake->behaviour[n].delay = std::chrono::milliseconds(1500);
  auto t0 = std::chrono::steady_clock::now();
  auto reply = single("eth_blockNumber");
  EXPECT_NE(reply.find("-32012"), std::string::npos) << reply;
  // Two attempts fit in the 2 s deadline (1 s upstream timeout each), never a third.
  EXPECT_LE(fake->calls.size(), 2u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

TEST_F(RouterTest, StateUnavailableGoesToTheArchiveNext) {
  fake->behaviour["a"].result = fake->behaviour["b"].result = "";
  fake->behaviour["a"].error_object = fake->behaviour["b"].error_object =
      R"({"code":-32000,"message":"missing trie node abc"})";
  fake->behaviour["arch"].result = "\"0xa1c\"";
  auto reply = single("eth_getBalance", R"(["0x00000000000000000000000000000000000000aa","latest"])");
  EXPECT_NE(reply.find("0xa1c"), std::string::npos) << reply;
  EXPECT_EQ(fake->calls.back(), "arch");
  // At most one full node is asked (any may be picked first, the archive too), then the archive.
  EXPECT_EQ(fake->calls.size(), fake->calls.front() == "arch" ? 1u : 2u);
}

TEST_F(RouterTest, OldStateGoesStraightToTheArchive) {
  auto reply = single("eth_getBalance", R"(["0x00000000000000000000000000000000000000aa","0x10"])");
  ASSERT_EQ(fake->calls.size(), 1u);
  EXPECT_EQ(fake->calls.front(), "arch");
}

TEST_F(RouterTest, ABatchOverMaxBatchIsRefusedBeforeAnyUpstreamCall) {
  std::string call_json = R"({"jsonrpc":"2.0","id":1,"method":"eth_chainId"})";
  auto reply = call("[" + call_json + "," + call_json + "," + call_json + "," + call_json + "]");
  EXPECT_NE(reply.find("-32013"), std::string::npos) << reply;
  EXPECT_TRUE(fake->calls.empty());
  // At the limit it is served, call by call.
  reply = call("[" + call_json + "," + call_json + "," + call_json + "]");
  EXPECT_EQ(fake->calls.size(), 3u);
}

TEST_F(RouterTest, NoHealthyUpstreamIsAFastClearError) {
  set_heads({1000, 1000, 1000}, {false, false, false});
  auto reply = single("eth_blockNumber");
  EXPECT_NE(reply.find("-32010"), std::string::npos) << reply;
  EXPECT_TRUE(fake->calls.empty());
}

TEST_F(RouterTest, ConsecutiveFailuresOpenTheBreakerAndTheUpstreamIsSkipped) {
  set_heads({1000, 1000, 1000}, {true, true, false});
  fake->behaviour["a"].error = http::ClientResponse::Error::connect;
  // Three calls that try "a" fail over to "b"; "a" fails three times in a row and opens.
  while (chains[0]->upstream(0).breaker.phase(Clock::now()) != CircuitBreaker::Phase::open) {
    EXPECT_NE(single("eth_blockNumber").find("\"result\""), std::string::npos);
  }
  auto tried_a = std::count(fake->calls.begin(), fake->calls.end(), "a");
  EXPECT_EQ(tried_a, 3);
  // Open: not even tried.
  for (int i = 0; i < 20; ++i) single("eth_blockNumber");
  EXPECT_EQ(std::count(fake->calls.begin(), fake->calls.end(), "a"), tried_a);
}

TEST_F(RouterTest, WhenEveryBreakerIsOpenTheChainStillRoutesInPanicMode) {
  set_heads({1000, 1000, 1000}, {true, false, false});
  fake->behaviour["a"].error = http::ClientResponse::Error::connect;
  for (int i = 0; i < 3; ++i) single("eth_blockNumber");
  ASSERT_EQ(chains[0]->upstream(0).breaker.phase(Clock::now()), CircuitBreaker::Phase::open);
  // The only upstream the probes call healthy: it is still asked (a client-made overload must
  // not take the chain down), and the client gets its real failure, not "no healthy upstream".
  fake->behaviour["a"] = Behaviour{};
  auto reply = single("eth_blockNumber");
  EXPECT_NE(reply.find("\"result\":\"0x1\""), std::string::npos) << reply;
  EXPECT_EQ(fake->calls.size(), 4u);
}

TEST_F(RouterTest, AJsonRpcErrorAnswerIsNotAFailureOfTheUpstream) {
  set_heads({1000, 1000, 1000}, {true, false, false});
  fake->behaviour["a"].result = "";
  fake->behaviour["a"].error_object = R"({"code":3,"message":"execution reverted"})";
  for (int i = 0; i < 5; ++i) EXPECT_NE(single("eth_call", R"([{}, "latest"])").find("execution reverted"), std::string::npos);
  EXPECT_EQ(chains[0]->upstream(0).breaker.phase(Clock::now()), CircuitBreaker::Phase::closed);
}

TEST_F(RouterTest, EveryUpstreamAtItsInFlightCapIsShedWith503) {
  set_heads({1000, 1000, 1000}, {false, false, true});
  chains[0]->upstream(2).in_flight = 1;  // max_inflight: 1, already taken
  auto reply = single("eth_blockNumber");
  EXPECT_EQ(last_status, 503);
  EXPECT_NE(reply.find("-32005"), std::string::npos) << reply;
  EXPECT_TRUE(fake->calls.empty());
  chains[0]->upstream(2).in_flight = 0;
}

TEST_F(RouterTest, RepliesOverTheRequestBudgetAreRefusedWithoutBlamingTheUpstream) {
  std::string big = "\"" + std::string(600, 'a') + "\"";
  for (auto n : {"a", "b", "arch"}) fake->behaviour[n].result = big;
  std::string c = R"({"jsonrpc":"2.0","id":1,"method":"eth_feeHistory"})";
  auto reply = call("[" + c + "," + c + "]");
  // 1 KiB for the whole request: the first reply fits, the second does not.
  EXPECT_NE(reply.find(big), std::string::npos);
  EXPECT_NE(reply.find("-32014"), std::string::npos) << reply;
  for (auto& up : chains[0]->upstreams()->upstreams) EXPECT_EQ(up->metrics.failures(), 0) << up->name();
}

TEST_F(RouterTest, AResultOfTheWrongShapeIsALieAndIsAnsweredByAnotherUpstream) {
  set_heads({1000, 1000, 1000}, {true, true, false});
  fake->behaviour["a"].result = "{}";
  fake->behaviour["b"].result = "\"0x2a\"";
  for (int i = 0; i < 4; ++i) EXPECT_NE(single("eth_getBalance", R"(["0x00000000000000000000000000000000000000aa","latest"])").find("\"0x2a\""), std::string::npos);
  EXPECT_EQ(chains[0]->upstream(1).metrics.failures(), 0);
}

TEST_F(RouterTest, DeniedMethodsNeverReachAnUpstream) {
  for (auto m : {"anvil_setBalance", "evm_mine", "eth_sendTransaction", "eth_signTypedData_v4", "debug_traceCall"}) {
    auto reply = single(m);
    EXPECT_NE(reply.find("-32601"), std::string::npos) << m << ": " << reply;
  }
  EXPECT_TRUE(fake->calls.empty());
}

TEST(CircuitBreaker, HalfOpenLetsOneTrialThroughAndItsSuccessCloses) {
  PassiveHealth ph;
  ph.consecutive_failures = 2;
  ph.cooldown = Duration(100);
  CircuitBreaker b(ph);
  auto t = Clock::now();
  b.on_failure(t);
  EXPECT_EQ(b.phase(t), CircuitBreaker::Phase::closed);
  b.on_failure(t);
  EXPECT_EQ(b.phase(t), CircuitBreaker::Phase::open);
  EXPECT_FALSE(b.try_acquire(t + Duration(50)));
  auto later = t + Duration(150);
  EXPECT_EQ(b.phase(later), CircuitBreaker::Phase::half_open);
  EXPECT_TRUE(b.try_acquire(later));
  EXPECT_FALSE(b.try_acquire(later));  // one trial at a time
  b.on_success();
  EXPECT_EQ(b.phase(later), CircuitBreaker::Phase::closed);
  EXPECT_EQ(b.closes(), 1u);
}

TEST(CircuitBreaker, AFailedTrialOpensItAgainForLonger) {
  PassiveHealth ph;
  ph.consecutive_failures = 1;
  ph.cooldown = Duration(100);
  CircuitBreaker b(ph);
  auto t = Clock::now();
  b.on_failure(t);  // open until t+100
  auto trial = t + Duration(100);
  ASSERT_TRUE(b.try_acquire(trial));
  b.on_failure(trial);  // open until trial+200
  EXPECT_EQ(b.phase(trial + Duration(150)), CircuitBreaker::Phase::open);
  EXPECT_EQ(b.phase(trial + Duration(201)), CircuitBreaker::Phase::half_open);
}

TEST(CircuitBreaker, TripFromTheFailureWindowSaysFailingCalls) {
  CircuitBreaker b(PassiveHealth{});
  b.trip(Clock::now(), UpstreamState::failing_calls);
  EXPECT_EQ(b.phase(Clock::now()), CircuitBreaker::Phase::open);
  EXPECT_EQ(b.reason(), UpstreamState::failing_calls);
}

TEST_F(RouterTest, ARetryIsCountedOnlyWhenItHappens) {
  set_heads({1000, 1000, 1000}, {true, false, false});
  fake->behaviour["a"].status = 502;
  auto text = [&] { return metrics.registry().expose(); };
  single("eth_blockNumber");  // one upstream: it fails, and there is nobody to retry on
  EXPECT_NE(text().find("nodeops_gateway_retries_total{chain=\"eth\",reason=\"http_status\"} 0"), std::string::npos);
  set_heads({1000, 1000, 1000}, {true, true, false});
  fake->behaviour["b"] = Behaviour{};
  while (fake->calls.size() < 3 || fake->calls.back() != "b" || fake->calls[fake->calls.size() - 2] != "a") {
    single("eth_blockNumber");
    if (chains[0]->upstream(0).breaker.phase(Clock::now()) != CircuitBreaker::Phase::closed) break;
  }
  auto retries = text();
  EXPECT_EQ(retries.find("nodeops_gateway_retries_total{chain=\"eth\",reason=\"http_status\"} 0"), std::string::npos);
}

namespace {
// Two own nodes and a provider as fallback: archive, 3 units per second, eth_getLogs costs 2.
constexpr const char* kTierConfig = R"(
limits: { request_timeout: 2s, upstream_timeout: 1s, max_attempts: 3 }
chains:
  - name: eth
    chain_id: 1
    archive_after_blocks: 100
    passive_health: { consecutive_failures: 3, cooldown: 10s }
    upstreams:
      - { name: a, url: "http://127.0.0.1:1/" }
      - { name: b, url: "http://127.0.0.1:2/" }
      - { name: prov, url: "https://provider.example/v2/key", role: archive, tier: fallback, max_rps: 3,
          method_weights: { eth_getLogs: 2 } }
)";
struct TierRouterTest : RouterTest {
  TierRouterTest() : RouterTest(kTierConfig) {}
  size_t calls_to(const std::string& name) const { return std::count(fake->calls.begin(), fake->calls.end(), name); }
  std::string exposed() { return metrics.registry().expose(); }
};
}  // namespace

TEST_F(TierRouterTest, TheFallbackTakesNoCallWhilePrimariesServe) {
  for (int i = 0; i < 30; ++i) EXPECT_NE(single("eth_blockNumber").find("\"result\""), std::string::npos);
  EXPECT_EQ(calls_to("prov"), 0u);
  EXPECT_NE(exposed().find("nodeops_gateway_tier_requests_total{chain=\"eth\",tier=\"primary\"} 30"), std::string::npos);
  EXPECT_NE(exposed().find("nodeops_gateway_tier_requests_total{chain=\"eth\",tier=\"fallback\"} 0"), std::string::npos);
}

TEST_F(TierRouterTest, FailingPrimariesAreRetriedOnTheFallbackSoTheClientSeesNoError) {
  fake->behaviour["a"].error = http::ClientResponse::Error::connect;
  fake->behaviour["b"].status = 502;
  auto reply = single("eth_blockNumber");
  EXPECT_NE(reply.find("\"result\":\"0x1\""), std::string::npos) << reply;
  ASSERT_EQ(fake->calls.size(), 3u);
  EXPECT_EQ(fake->calls.back(), "prov");
}

TEST_F(TierRouterTest, OldStateNoPrimaryHoldsGoesToTheArchiveFallback) {
  single("eth_getBalance", R"(["0x0000000000000000000000000000000000000001", "0x10"])");
  ASSERT_EQ(fake->calls.size(), 1u);
  EXPECT_EQ(fake->calls[0], "prov");
}

TEST_F(TierRouterTest, A429BacksTheUpstreamOffWithoutTrippingItsBreaker) {
  set_heads({1000, 1000, 1000}, {false, false, true});
  auto& prov = chains[0]->upstream(2);
  fake->behaviour["prov"].status = 429;
  fake->behaviour["prov"].retry_after = "30";
  auto reply = single("eth_blockNumber");
  EXPECT_NE(reply.find("HTTP 429"), std::string::npos) << reply;
  EXPECT_EQ(calls_to("prov"), 1u);
  // Backed off: the next calls do not reach it at all, and are shed (it is the only one left).
  for (int i = 0; i < 5; ++i) {
    single("eth_blockNumber");
    EXPECT_EQ(last_status, 503);
  }
  EXPECT_EQ(calls_to("prov"), 1u);
  EXPECT_GT(prov.backoff.seconds_left(Clock::now()), 25);
  EXPECT_EQ(prov.breaker.phase(Clock::now()), CircuitBreaker::Phase::closed);
  EXPECT_EQ(prov.breaker.consecutive_failures(), 0u);
  EXPECT_EQ(prov.metrics.failures(), 0);
  EXPECT_EQ(prov.metrics.rate_limited().value(), 1);
  auto text = exposed();
  EXPECT_NE(text.find("nodeops_gateway_upstream_throttled_total{chain=\"eth\",upstream=\"prov\",reason=\"backoff\"} 5"),
            std::string::npos);
  // The primaries come back: they serve, whatever the provider does.
  set_heads({1000, 1000, 1000});
  EXPECT_NE(single("eth_blockNumber").find("\"result\""), std::string::npos);
}

TEST_F(TierRouterTest, ASpentBudgetSendsTheCallElsewhereOrShedsIt) {
  set_heads({1000, 1000, 1000}, {false, false, true});
  // 3 units per second, bursting to one second's worth: eth_getLogs costs 2, eth_blockNumber 1.
  EXPECT_NE(single("eth_getLogs", R"([{"fromBlock":"0x3e7"}])").find("\"result\""), std::string::npos);
  EXPECT_NE(single("eth_blockNumber").find("\"result\""), std::string::npos);
  auto reply = single("eth_blockNumber");
  EXPECT_EQ(last_status, 503) << reply;
  EXPECT_NE(reply.find("request budget"), std::string::npos) << reply;
  EXPECT_EQ(calls_to("prov"), 2u);
  EXPECT_NE(exposed().find("nodeops_gateway_upstream_throttled_total{chain=\"eth\",upstream=\"prov\",reason=\"budget\"} 1"),
            std::string::npos);
  // With a primary back, the call goes there instead.
  set_heads({1000, 1000, 1000}, {true, false, true});
  EXPECT_NE(single("eth_blockNumber").find("\"result\""), std::string::npos);
  EXPECT_EQ(fake->calls.back(), "a");
}

TEST(RequestBudget, SpendsAtMostItsRateAcrossThreads) {
  RequestBudget budget(1000);
  auto now = Clock::now();
  std::atomic<int> spent{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) spent += budget.try_spend(now, 1) ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(spent.load(), 1000);  // one second's burst at one instant, not one call more
  EXPECT_FALSE(budget.try_spend(now, 1));
  EXPECT_TRUE(budget.try_spend(now + std::chrono::milliseconds(2), 1));  // refills at 1 per ms
  EXPECT_TRUE(RequestBudget(0).try_spend(now, 1e9));                      // no budget: unlimited
  RequestBudget small(1);
  EXPECT_TRUE(small.try_spend(now, 75));  // a call heavier than a second's worth still goes, alone
  EXPECT_FALSE(small.try_spend(now, 1));
}

TEST(RateLimitBackoff, ReadsRetryAfterAsSecondsOrADateWithinBounds) {
  auto now = std::chrono::system_clock::from_time_t(1445412480);  // Wed, 21 Oct 2015 07:28:00 GMT
  EXPECT_EQ(RateLimitBackoff::backoff_for("3", now), Duration(3000));
  EXPECT_EQ(RateLimitBackoff::backoff_for("", now), RateLimitBackoff::kDefault);
  EXPECT_EQ(RateLimitBackoff::backoff_for("soon", now), RateLimitBackoff::kDefault);
  EXPECT_EQ(RateLimitBackoff::backoff_for("0", now), Duration(1000));
  EXPECT_EQ(RateLimitBackoff::backoff_for("86400", now), RateLimitBackoff::kMax);
  EXPECT_EQ(RateLimitBackoff::backoff_for("Wed, 21 Oct 2015 07:28:10 GMT", now), Duration(10000));
}

// --- serve_message: the WebSocket entry (gateway/router_ws.cc) -------------------------------------

namespace {
http::WebSocketMessage message(RouterTest& t, std::string text) {
  http::WebSocketMessage out;
  Admission admission;
  admission.client = "10.0.0.7";
  asio::co_spawn(
      t.io,
      [&]() -> asio::awaitable<void> { out = co_await t.router.serve_message(0, *t.chains[0], admission, text); },
      asio::detached);
  t.io.run();
  t.io.restart();
  return out;
}
}  // namespace

TEST_F(RouterTest, AMessageIsRoutedLikeAPostBodyBatchesInOrderWithoutNotifications) {
  auto reply = message(*this, R"([{"jsonrpc":"2.0","id":"x","method":"eth_chainId"},)"
                              R"({"jsonrpc":"2.0","method":"eth_chainId"},)"
                              R"({"jsonrpc":"2.0","id":2,"method":"admin_peers"}])");
  EXPECT_EQ(reply.text.find(R"([{"jsonrpc":"2.0","id":"x","result":"0x1"},{"jsonrpc":"2.0","id":2,"error":{"code":-32601)"),
            0u)
      << reply.text;
  EXPECT_EQ(fake->calls.size(), 2u) << "the notification is routed too, only its answer is not sent";
  EXPECT_TRUE(message(*this, R"({"jsonrpc":"2.0","method":"eth_chainId"})").text.empty());
  EXPECT_NE(message(*this, "[]").text.find("-32600"), std::string::npos);
}

// The WebSocket session serves a subscription call sent alone (gateway/subscriptions.h); one that
// reaches the router (in a batch) is answered, never sent to a node.
TEST_F(RouterTest, SubscriptionCallsReachingTheRouterAreAnsweredNotRouted) {
  auto reply = message(*this, R"([{"jsonrpc":"2.0","id":5,"method":"eth_subscribe","params":["newHeads"]}])");
  EXPECT_NE(reply.text.find(R"("id":5,"error":{"code":-32601,"message":"subscription calls are served as a WebSocket)"),
            std::string::npos)
      << reply.text;
  EXPECT_TRUE(fake->calls.empty());
}

TEST_F(RouterTest, WhileDrainingAMessageIsAnsweredWithoutStartingCalls) {
  router.set_draining();
  auto reply = message(*this, R"([{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},)"
                              R"({"jsonrpc":"2.0","id":2,"method":"eth_blockNumber"}])");
  EXPECT_EQ(reply.text.find(R"([{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"the gateway is shutting)"), 0u)
      << reply.text;
  EXPECT_NE(reply.text.find(R"("id":2,"error":{"code":-32005)"), std::string::npos) << reply.text;
  EXPECT_TRUE(fake->calls.empty());
}
