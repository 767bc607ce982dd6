// Micro benchmarks of what the gateway does for every request besides I/O: parse the client's
// JSON-RPC body, build the upstream request, check the upstream's reply and wrap its `result` for the
// client, and update metrics. Run: build/bench/bench/micro/micro_bench (see bench/README.md).
#include <benchmark/benchmark.h>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "chains/cache_rules.h"
#include "core/http_message.h"
#include "core/jsonrpc.h"
#include "core/metrics.h"
#include "gateway/cache.h"

namespace {

using namespace nodeops;

const std::string kSingle = R"({"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"})";

std::string batch_of(int n) {
  std::string body = "[";
  for (int i = 0; i < n; ++i) {
    if (i) body += ",";
    body += R"({"jsonrpc":"2.0","id":)" + std::to_string(i) +
            R"(,"method":"eth_getBalance","params":["0x00000000219ab540356cbb839cbe05303d7705fa","latest"]})";
  }
  return body + "]";
}

// An upstream reply whose `result` is about `bytes` long: an array of 32-byte hex strings, like
// eth_getLogs topics or a block's transaction hashes.
std::string reply_with_result(uint64_t id, size_t bytes) {
  std::string result = "[";
  while (result.size() < bytes) {
    if (result.size() > 1) result += ",";
    result += "\"0x" + std::string(64, 'a') + "\"";
  }
  result += "]";
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"result":)" + result + "}";
}

void BM_ParseRequestSingle(benchmark::State& state) {
  for (auto _ : state) {
    auto parsed = jsonrpc::parse_request(kSingle);
    benchmark::DoNotOptimize(parsed);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kSingle.size()));
}
BENCHMARK(BM_ParseRequestSingle);

void BM_ParseRequestBatch100(benchmark::State& state) {
  const std::string body = batch_of(100);
  for (auto _ : state) {
    auto parsed = jsonrpc::parse_request(body);
    if (parsed.calls.size() != 100) state.SkipWithError("batch not parsed");
    benchmark::DoNotOptimize(parsed);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.SetItemsProcessed(state.iterations() * 100);
}
BENCHMARK(BM_ParseRequestBatch100);

void BM_UpstreamRequest(benchmark::State& state) {
  auto parsed = jsonrpc::parse_request(kSingle);
  const auto& call = parsed.calls.front();
  uint64_t id = 0;
  for (auto _ : state) {
    auto body = jsonrpc::upstream_request(++id, call.method, call.params);
    benchmark::DoNotOptimize(body);
  }
}
BENCHMARK(BM_UpstreamRequest);

// The reply the gateway checks and forwards: small (eth_blockNumber) and with a 100 KB result.
void BM_ParseUpstreamReply(benchmark::State& state) {
  const auto size = static_cast<size_t>(state.range(0));
  const std::string body = size == 0 ? R"({"jsonrpc":"2.0","id":7,"result":"0x1b4"})" : reply_with_result(7, size);
  for (auto _ : state) {
    auto reply = jsonrpc::parse_upstream_reply(body, 7);
    if (reply.kind != jsonrpc::UpstreamReply::Kind::result) state.SkipWithError("reply not accepted");
    benchmark::DoNotOptimize(reply);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ParseUpstreamReply)->Arg(0)->Arg(100 * 1024);

// Check the reply and wrap its raw result in the client's reply: the whole per-reply CPU path.
void BM_ForwardReply(benchmark::State& state) {
  const std::string body = reply_with_result(7, static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    auto reply = jsonrpc::parse_upstream_reply(body, 7);
    auto out = jsonrpc::result_reply("1", reply.payload);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ForwardReply)->Arg(100 * 1024);

// Metrics hot path. Threads(2) shows what sharing one series between two event loops costs.
metrics::Registry& registry() {
  static metrics::Registry r;
  return r;
}

void BM_CounterInc(benchmark::State& state) {
  static auto& c = registry().counter("bench_counter_total", "bench", {"k"}).labels({"v"});
  for (auto _ : state) c.inc();
}
BENCHMARK(BM_CounterInc)->Threads(1)->Threads(2);

void BM_HistogramObserve(benchmark::State& state) {
  static auto& h = registry().histogram("bench_seconds", "bench", {"k"}).labels({"v"});
  double v = 0.0005;
  for (auto _ : state) {
    h.observe(v);
    v = v < 5 ? v * 1.7 : 0.0005;  // walk the buckets instead of hitting one
  }
}
BENCHMARK(BM_HistogramObserve)->Threads(1)->Threads(2);

// What the router does when a series is not cached: a labels() lookup under the family's mutex.
void BM_CounterLabelsLookup(benchmark::State& state) {
  static auto& family = registry().counter("bench_lookup_total", "bench", {"chain", "method", "outcome"});
  for (auto _ : state) family.labels({"ethereum", "eth_blockNumber", "ok"}).inc();
}
BENCHMARK(BM_CounterLabelsLookup);

// The response cache's hit path as the router runs it: canonical key of the call, a sharded lookup,
// the reply under the client's id. Threads(2): two event loops sharing the cache (one shard lock
// per lookup). Entries: 10 000 receipts of about 600 bytes.
gateway::ResponseCache& bench_cache() {
  static auto* cache = [] {
    auto* c = new gateway::ResponseCache({64u << 20, 1u << 20, 16});
    std::string receipt = R"({"blockHash":"0x)" + std::string(64, 'a') + R"(","blockNumber":"0x10","logs":[],)" +
                          R"("status":"0x1","transactionHash":"0x)" + std::string(64, 'b') + R"(","gasUsed":"0x5208",)" +
                          R"("logsBloom":"0x)" + std::string(400, '0') + R"("})";
    for (int i = 0; i < 10000; ++i) {
      auto plan = chains::evm::plan_cache("eth_getTransactionReceipt", "[\"0x" + std::to_string(1000000 + i) + "\"]");
      c->insert("ethereum\n" + plan.key, std::make_shared<const std::string>(receipt), std::nullopt);
    }
    return c;
  }();
  return *cache;
}

void BM_CacheHit(benchmark::State& state) {
  auto& cache = bench_cache();
  int i = static_cast<int>(state.thread_index()) * 997;
  for (auto _ : state) {
    std::string params = "[\"0x" + std::to_string(1000000 + i % 10000) + "\"]";
    auto plan = chains::evm::plan_cache("eth_getTransactionReceipt", params);
    auto hit = cache.find("ethereum\n" + plan.key, std::chrono::steady_clock::now());
    auto reply = jsonrpc::result_reply("7", *hit);
    benchmark::DoNotOptimize(reply);
    ++i;
  }
}
BENCHMARK(BM_CacheHit)->Threads(1)->Threads(2);

// The HTTP/1.1 request a client sends for one call, read by our reader and by Boost.Beast's parser
// (the one the gateway used before; tests/fuzz/http_differential_fuzz.cc checks they agree).
const std::string kHttpRequest =
    "POST /ethereum HTTP/1.1\r\nHost: gateway:8545\r\nUser-Agent: ethers/6.13\r\nAccept: */*\r\n"
    "Content-Type: application/json\r\nContent-Length: " + std::to_string(kSingle.size()) + "\r\n\r\n" + kSingle;

void BM_HttpReaderOurs(benchmark::State& state) {
  http::MessageReader reader(http::MessageReader::Kind::request, 1 << 20);
  for (auto _ : state) {
    auto [data, size] = reader.space(kHttpRequest.size());
    std::memcpy(data, kHttpRequest.data(), kHttpRequest.size());
    reader.commit(kHttpRequest.size());
    benchmark::DoNotOptimize(reader.parse());
    benchmark::DoNotOptimize(reader.body().size());
    reader.next();
  }
}
BENCHMARK(BM_HttpReaderOurs);

void BM_HttpReaderBeast(benchmark::State& state) {
  namespace bhttp = boost::beast::http;
  for (auto _ : state) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.eager(true);
    boost::beast::error_code ec;
    parser.put(boost::asio::buffer(kHttpRequest), ec);
    benchmark::DoNotOptimize(parser.get().body().size());
  }
}
BENCHMARK(BM_HttpReaderBeast);

}  // namespace

BENCHMARK_MAIN();
