// The response cache: the S3-FIFO store (bytes bound, scan resistance, TTL) and the router's cached
// path against a fake upstream (hits under the client's id, finality, reorgs by head hash, what is
// never kept, bypass, batches, coalescing) — no sockets.
#include "gateway/cache.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include <thread>

#include "core/jsonrpc.h"
#include "gateway/router.h"

using namespace nodeops;
using namespace nodeops::gateway;
namespace asio = boost::asio;

namespace {

CacheValue value(size_t n, char c = 'x') { return std::make_shared<const std::string>(n, c); }
const auto t0 = CacheClock::now();

TEST(S3FifoStore, StaysWithinItsBytes) {
  S3FifoStore store(10000);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(store.insert("k" + std::to_string(i), value(100), std::nullopt));
    ASSERT_LE(store.bytes(), 10000u);
  }
  EXPECT_GT(store.evictions(), 900u);
  EXPECT_GT(store.entries(), 0u);
  EXPECT_FALSE(store.insert("huge", value(20000), std::nullopt));  // larger than the whole store
}

TEST(S3FifoStore, ReplacesAndFinds) {
  S3FifoStore store(10000);
  store.insert("a", value(10, 'a'), std::nullopt);
  store.insert("a", value(20, 'b'), std::nullopt);
  auto v = store.find("a", t0);
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, std::string(20, 'b'));
  EXPECT_EQ(store.entries(), 1u);
  EXPECT_EQ(store.bytes(), 1 + 20 + S3FifoStore::kEntryOverhead);
  EXPECT_FALSE(store.find("b", t0));
}

TEST(S3FifoStore, ExpiredEntriesAreGone) {
  S3FifoStore store(10000);
  store.insert("a", value(10), t0 + std::chrono::seconds(2));
  EXPECT_TRUE(store.find("a", t0 + std::chrono::seconds(1)));
  EXPECT_FALSE(store.find("a", t0 + std::chrono::seconds(2)));
  EXPECT_EQ(store.entries(), 0u);
  EXPECT_EQ(store.bytes(), 0u);
}

// The property LRU lacks: a long scan of keys read once does not flush the keys read often.
TEST(S3FifoStore, ScanDoesNotFlushTheHotSet) {
  const uint64_t entry = 100 + S3FifoStore::kEntryOverhead + 3;
  S3FifoStore store(100 * entry);  // room for 100 entries
  auto hot = [](int i) { return "h" + std::to_string(i + 10); };
  for (int i = 0; i < 50; ++i) store.insert(hot(i), value(100), std::nullopt);
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(store.find(hot(i), t0)) << i;
  }
  // A scan ten times the cache's size, each key read once.
  for (int i = 0; i < 1000; ++i) store.insert("s" + std::to_string(i + 1000), value(100), std::nullopt);
  int survived = 0;
  for (int i = 0; i < 50; ++i) survived += store.find(hot(i), t0) != nullptr;
  EXPECT_EQ(survived, 50);
  EXPECT_LE(store.bytes(), 100 * entry);
}

TEST(S3FifoStore, AKeyBackFromTheGhostListGoesToMain) {
  const uint64_t entry = 100 + S3FifoStore::kEntryOverhead + 2;
  S3FifoStore store(20 * entry);
  store.insert("g0", value(100), std::nullopt);
  for (int i = 0; i < 30; ++i) store.insert("s" + std::to_string(i + 10), value(100), std::nullopt);
  ASSERT_FALSE(store.find("g0", t0));  // evicted from the small queue, remembered as a ghost
  store.insert("g0", value(100), std::nullopt);  // back: straight to main
  for (int i = 0; i < 30; ++i) store.insert("t" + std::to_string(i + 10), value(100), std::nullopt);
  EXPECT_TRUE(store.find("g0", t0));
}

TEST(ResponseCache, EntryLimitAndShards) {
  ResponseCache cache({1 << 20, 1000, 16});
  EXPECT_FALSE(cache.insert("k", value(1000), std::nullopt));
  EXPECT_TRUE(cache.insert("k", value(900), std::nullopt));
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_TRUE(cache.find("k", t0));
}

// --- the router's cached path -------------------------------------------------------------

constexpr const char* kConfig = R"(
limits: { request_timeout: 2s, upstream_timeout: 1s, max_attempts: 2 }
cache: { enabled: true, max_bytes: 1MiB, max_entry_bytes: 64KiB, unfinal_ttl: 1h }
chains:
  - name: eth
    chain_id: 1
    upstreams:
      - { name: a, url: "http://127.0.0.1:1/" }
)";

// Answers each method from a table (the result raw JSON, or an error when absent); counts calls.
class TableClient final : public UpstreamClient {
 public:
  explicit TableClient(asio::io_context& io) : io_(io) {}
  std::map<std::string, std::string> results;  // method -> result raw JSON
  int calls = 0;
  std::chrono::milliseconds delay{0};

  asio::awaitable<http::ClientResponse> post(const Upstream&, std::string body, Duration, http::ReplyLimits) override {
    ++calls;
    if (delay.count() > 0) {
      asio::steady_timer t(io_, delay);
      co_await t.async_wait(asio::use_awaitable);
    }
    auto parsed = jsonrpc::parse_request(body);
    const auto& call = parsed.calls.front();
    http::ClientResponse r;
    r.status = 200;
    auto it = results.find(call.method);
    r.body = it == results.end()
                 ? jsonrpc::error_object_reply(call.id, R"({"code":-32000,"message":"boom"})")
                 : jsonrpc::result_reply(call.id, it->second);
    co_return r;
  }

 private:
  asio::io_context& io_;
};

struct CachedRouterTest : ::testing::Test {
  GatewayConfig config = parse_gateway_config(kConfig, "test.yaml");
  GatewayMetrics metrics{config};
  std::vector<std::unique_ptr<ChainRuntime>> chains = make_chains(config, metrics);
  Router router{config, chains, metrics, 1};
  ResponseCache cache{{config.cache.max_bytes, config.cache.max_entry_bytes}};
  asio::io_context io;
  TableClient* upstream = nullptr;

  CachedRouterTest() {
    auto client = std::make_unique<TableClient>(io);
    upstream = client.get();
    router.attach_loop(0, std::make_unique<LoopContext>(io, std::move(client), chains));
    router.use_cache(&cache);
    set_chain(1000, 900, "0xhead1");
  }

  void set_chain(uint64_t head, std::optional<uint64_t> finalized, std::string head_key) {
    auto h = std::make_shared<ChainHealth>();
    h->probed = true;
    h->best_head = head;
    h->healthy = 1;
    h->finalized = finalized;
    h->head_key = std::move(head_key);
    UpstreamHealth u;
    u.healthy = true;
    u.state = UpstreamState::healthy;
    u.head = head;
    h->upstreams.push_back(u);
    chains[0]->health.publish(h);
  }

  struct Answer {
    std::string body, x_cache;
  };
  // Runs `bodies` as concurrent requests; answers in the same order.
  std::vector<Answer> run(std::vector<std::string> bodies, std::string cache_control = "") {
    std::vector<Answer> out(bodies.size());
    for (size_t i = 0; i < bodies.size(); ++i) {
      asio::co_spawn(
          io,
          [&, i]() -> asio::awaitable<void> {
            http::Request req;
            req.method = "POST";
            req.target = "/eth";
            req.content_type = "application/json";
            req.cache_control = cache_control;
            req.body = bodies[i];
            auto r = co_await router.handle(req);
            out[i].body = r.body;
            for (auto& [k, v] : r.headers) {
              if (k == "X-Cache") out[i].x_cache = v;
            }
          },
          asio::detached);
    }
    io.run();
    io.restart();
    return out;
  }
  Answer one(std::string_view id, std::string_view method, std::string_view params, std::string cache_control = "") {
    return run({fmt::format(R"({{"jsonrpc":"2.0","id":{},"method":"{}","params":{}}})", id, method, params)},
               cache_control)
        .front();
  }
  double counted(CacheResult r) { return chains[0]->cache.total(r); }
};

TEST_F(CachedRouterTest, AHitIsTheUpstreamsResultUnderTheClientsId) {
  upstream->results["eth_getBlockByNumber"] = R"({"number":"0x10","hash":"0xab"})";
  auto first = one("1", "eth_getBlockByNumber", R"(["0x10",false])");
  EXPECT_EQ(first.x_cache, "MISS");
  // Another id, another spelling of the same call: a hit, byte for byte the upstream's result.
  auto second = one("\"abc\"", "eth_getBlockByNumber", R"([ "0x010", false ])");
  EXPECT_EQ(second.x_cache, "HIT");
  EXPECT_EQ(second.body, R"({"jsonrpc":"2.0","id":"abc","result":{"number":"0x10","hash":"0xab"}})");
  EXPECT_EQ(upstream->calls, 1);
  EXPECT_EQ(counted(CacheResult::hit), 1);
  EXPECT_EQ(counted(CacheResult::miss), 1);
}

TEST_F(CachedRouterTest, FinalAnswersOutliveAHeadChangeUnfinalOnesDoNot) {
  upstream->results["eth_getBalance"] = R"("0x5")";
  one("1", "eth_getBalance", R"(["0xab","0x384"])");  // 900: final
  one("1", "eth_getBalance", R"(["0xab","0x385"])");  // 901: not yet
  one("1", "eth_getBalance", R"(["0xab","latest"])");
  EXPECT_EQ(upstream->calls, 3);
  EXPECT_EQ(one("1", "eth_getBalance", R"(["0xab","0x385"])").x_cache, "HIT");
  EXPECT_EQ(one("1", "eth_getBalance", R"(["0xab","latest"])").x_cache, "HIT");
  // A reorg (or a new block) as the probes see it: another head hash.
  set_chain(1000, 900, "0xhead2");
  EXPECT_EQ(one("1", "eth_getBalance", R"(["0xab","0x384"])").x_cache, "HIT");
  EXPECT_EQ(one("1", "eth_getBalance", R"(["0xab","0x385"])").x_cache, "MISS");
  EXPECT_EQ(one("1", "eth_getBalance", R"(["0xab","latest"])").x_cache, "MISS");
  EXPECT_EQ(upstream->calls, 5);
}

TEST_F(CachedRouterTest, NothingUnfinalIsKeptWithoutHeadHashes) {
  set_chain(1000, std::nullopt, "");
  upstream->results["eth_getBalance"] = R"("0x5")";
  upstream->results["eth_chainId"] = R"("0x1")";
  one("1", "eth_getBalance", R"(["0xab","0x1"])");
  EXPECT_EQ(one("1", "eth_getBalance", R"(["0xab","0x1"])").x_cache, "MISS");  // finality unknown
  one("1", "eth_chainId", "[]");
  EXPECT_EQ(one("1", "eth_chainId", "[]").x_cache, "HIT");  // cannot change
}

TEST_F(CachedRouterTest, ErrorsNullsAndWritesAreNeverKept) {
  one("1", "eth_getBalance", R"(["0xab","0x1"])");  // the table has no answer: an error
  EXPECT_EQ(one("1", "eth_getBalance", R"(["0xab","0x1"])").x_cache, "MISS");
  upstream->results["eth_getTransactionByHash"] = "null";
  one("1", "eth_getTransactionByHash", R"(["0xaa"])");
  EXPECT_EQ(one("1", "eth_getTransactionByHash", R"(["0xaa"])").x_cache, "MISS");
  upstream->results["eth_sendRawTransaction"] = R"("0x12")";
  one("1", "eth_sendRawTransaction", R"(["0x00"])");
  one("1", "eth_sendRawTransaction", R"(["0x00"])");
  EXPECT_EQ(upstream->calls, 6);
  EXPECT_EQ(cache.entries(), 0u);
}

TEST_F(CachedRouterTest, NoCacheBypasses) {
  upstream->results["eth_getBalance"] = R"("0x5")";
  one("1", "eth_getBalance", R"(["0xab","0x1"])");
  auto r = one("1", "eth_getBalance", R"(["0xab","0x1"])", "no-cache");
  EXPECT_EQ(r.x_cache, "BYPASS");
  EXPECT_EQ(upstream->calls, 2);
  EXPECT_EQ(counted(CacheResult::bypass), 1);
  EXPECT_EQ(one("1", "eth_getBalance", R"(["0xab","0x1"])", "max-age=0").x_cache, "HIT");
}

TEST_F(CachedRouterTest, BatchesMixHitsAndMisses) {
  upstream->results["eth_getBalance"] = R"("0x5")";
  upstream->results["eth_getCode"] = R"("0x60")";
  one("1", "eth_getBalance", R"(["0xab","0x1"])");
  auto batch = run({R"([{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0xab","0x1"]},)"
                    R"({"jsonrpc":"2.0","id":2,"method":"eth_getCode","params":["0xab","0x1"]}])"})
                   .front();
  EXPECT_EQ(batch.x_cache, "MISS");
  EXPECT_EQ(batch.body, R"([{"jsonrpc":"2.0","id":1,"result":"0x5"},{"jsonrpc":"2.0","id":2,"result":"0x60"}])");
  EXPECT_EQ(upstream->calls, 2);
  batch = run({R"([{"jsonrpc":"2.0","id":3,"method":"eth_getBalance","params":["0xab","0x1"]},)"
               R"({"jsonrpc":"2.0","id":4,"method":"eth_getCode","params":["0xab","0x1"]}])"})
              .front();
  EXPECT_EQ(batch.x_cache, "HIT");
  EXPECT_EQ(upstream->calls, 2);
}

TEST(CachedRouterSolana, FinalizedBlocksAreKeptOtherCommitmentsAreNot) {
  auto config = parse_gateway_config(R"(
cache: { enabled: true, max_bytes: 1MiB, max_entry_bytes: 64KiB }
chains:
  - name: sol
    type: solana
    upstreams:
      - { name: a, url: "http://127.0.0.1:1/" }
)", "test.yaml");
  GatewayMetrics metrics{config};
  auto chains = make_chains(config, metrics);
  Router router{config, chains, metrics, 1};
  ResponseCache cache{{config.cache.max_bytes, config.cache.max_entry_bytes}};
  router.use_cache(&cache);
  asio::io_context io;
  auto client = std::make_unique<TableClient>(io);
  auto* upstream = client.get();
  upstream->results["getBlock"] = R"({"blockhash":"Hx","parentSlot":9})";
  router.attach_loop(0, std::make_unique<LoopContext>(io, std::move(client), chains));
  auto h = std::make_shared<ChainHealth>();
  h->probed = true;
  h->best_head = 100;
  h->healthy = 1;
  UpstreamHealth u;
  u.healthy = true;
  u.state = UpstreamState::healthy;
  u.head = 100;
  h->upstreams.push_back(u);
  chains[0]->health.publish(h);
  auto ask = [&](std::string params) {
    std::string out;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          http::Request req;
          req.method = "POST";
          req.target = "/sol";
          req.content_type = "application/json";
          req.body = R"({"jsonrpc":"2.0","id":3,"method":"getBlock","params":)" + params + "}";
          auto r = co_await router.handle(req);
          for (auto& [k, v] : r.headers) {
            if (k == "X-Cache") out = v;
          }
        },
        asio::detached);
    io.run();
    io.restart();
    return out;
  };
  EXPECT_EQ(ask("[10]"), "MISS");
  EXPECT_EQ(ask(R"([10, {"commitment":"finalized"}])"), "MISS");  // another key, same answer
  EXPECT_EQ(ask("[10]"), "HIT");
  EXPECT_EQ(ask(R"([10, {"commitment":"confirmed"}])"), "MISS");
  EXPECT_EQ(ask(R"([10, {"commitment":"confirmed"}])"), "MISS");
  EXPECT_EQ(upstream->calls, 4);
}

TEST_F(CachedRouterTest, IdenticalCallsInFlightShareOneUpstreamRequest) {
  upstream->results["eth_getLogs"] = R"([{"logIndex":"0x0"}])";
  upstream->delay = std::chrono::milliseconds(50);
  std::vector<std::string> bodies;
  for (int i = 0; i < 5; ++i) {
    bodies.push_back(fmt::format(
        R"({{"jsonrpc":"2.0","id":{},"method":"eth_getLogs","params":[{{"fromBlock":"0x1","toBlock":"0x2"}}]}})", i));
  }
  auto answers = run(bodies);
  EXPECT_EQ(upstream->calls, 1);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(answers[i].body, fmt::format(R"({{"jsonrpc":"2.0","id":{},"result":[{{"logIndex":"0x0"}}]}})", i));
  }
  EXPECT_EQ(chains[0]->cache.coalesced->value(), 4);
}

TEST_F(CachedRouterTest, WaitersOfAFailedCallAskOnTheirOwn) {
  upstream->delay = std::chrono::milliseconds(20);
  auto answers = run({R"({"jsonrpc":"2.0","id":1,"method":"eth_getCode","params":["0xab","0x1"]})",
                      R"({"jsonrpc":"2.0","id":2,"method":"eth_getCode","params":["0xab","0x1"]})"});
  EXPECT_EQ(upstream->calls, 2);  // the leader's error is not shared: each call gets its own
  EXPECT_NE(answers[1].body.find("\"id\":2,\"error\""), std::string::npos) << answers[1].body;
}

}  // namespace

namespace {

// The leader's upstream answers only when the test lets it, so the order of events is fixed.
class GatedClient final : public UpstreamClient {
 public:
  explicit GatedClient(asio::io_context& io) : gate(std::make_shared<asio::steady_timer>(io, std::chrono::hours(1))) {}
  std::shared_ptr<asio::steady_timer> gate;
  std::atomic<int> calls{0};

  asio::awaitable<http::ClientResponse> post(const Upstream&, std::string body, Duration, http::ReplyLimits) override {
    ++calls;
    co_await gate->async_wait(asio::as_tuple(asio::use_awaitable));
    auto parsed = jsonrpc::parse_request(body);
    http::ClientResponse r;
    r.status = 200;
    r.body = jsonrpc::result_reply(parsed.calls.front().id, R"({"number":"0x5"})");
    co_return r;
  }
};

// Two traffic loops on two threads: the call on loop 1 waits for the identical one in flight on
// loop 0 and is woken on its own loop with the same answer.
TEST(CachedRouterLoops, ACallOnAnotherLoopSharesTheFlight) {
  auto config = parse_gateway_config(kConfig, "test.yaml");
  GatewayMetrics metrics{config};
  auto chains = make_chains(config, metrics);
  Router router{config, chains, metrics, 2};
  ResponseCache cache{{config.cache.max_bytes, config.cache.max_entry_bytes}};
  router.use_cache(&cache);
  auto h = std::make_shared<ChainHealth>();
  h->probed = true;
  h->best_head = 10;
  h->healthy = 1;
  h->finalized = 8;
  h->head_key = "0xhead";
  UpstreamHealth u;
  u.healthy = true;
  u.state = UpstreamState::healthy;
  u.head = 10;
  h->upstreams.push_back(u);
  chains[0]->health.publish(h);

  asio::io_context io0, io1;
  auto c0 = std::make_unique<GatedClient>(io0);
  auto c1 = std::make_unique<GatedClient>(io1);
  auto* leader = c0.get();
  auto* other = c1.get();
  router.attach_loop(0, std::make_unique<LoopContext>(io0, std::move(c0), chains));
  router.attach_loop(1, std::make_unique<LoopContext>(io1, std::move(c1), chains));

  std::string replies[2];
  auto ask = [&](size_t loop, asio::io_context& io, std::string id) {
    asio::co_spawn(
        io,
        [&, loop, id]() -> asio::awaitable<void> {
          http::Request req;
          req.method = "POST";
          req.target = "/eth";
          req.content_type = "application/json";
          req.loop = loop;
          req.body = R"({"jsonrpc":"2.0","id":)" + id + R"(,"method":"eth_getBlockByNumber","params":["0x5",false]})";
          replies[loop] = (co_await router.handle(req)).body;
        },
        asio::detached);
  };
  auto guard0 = asio::make_work_guard(io0);
  auto guard1 = asio::make_work_guard(io1);
  std::thread loop0([&] { io0.run(); });
  std::thread loop1([&] { io1.run(); });
  ask(0, io0, "1");
  while (leader->calls.load() == 0) std::this_thread::yield();
  ask(1, io1, "2");
  // Flights are keyed by the head the call is read at (the answer may still turn out unfinal).
  const std::string key = "eth\neth_getBlockByNumber(\"0x5\",false)@0xhead";
  while (cache.flights().waiting(key) == 0) std::this_thread::yield();
  asio::post(io0, [leader] { leader->gate->cancel(); });
  guard0.reset();
  guard1.reset();
  loop0.join();
  loop1.join();
  EXPECT_EQ(leader->calls.load(), 1);
  EXPECT_EQ(other->calls.load(), 0);
  EXPECT_EQ(replies[0], R"({"jsonrpc":"2.0","id":1,"result":{"number":"0x5"}})");
  EXPECT_EQ(replies[1], R"({"jsonrpc":"2.0","id":2,"result":{"number":"0x5"}})");
  EXPECT_EQ(chains[0]->cache.coalesced->value(), 1);
  // The loops' clients hold timers of io0 and io1, which go before the router does.
  router.attach_loop(0, nullptr);
  router.attach_loop(1, nullptr);
}

}  // namespace
