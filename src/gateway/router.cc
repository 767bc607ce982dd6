#include "gateway/router.h"

#include <boost/asio.hpp>
#include <fmt/format.h>

#include <algorithm>

#include "chains/evm.h"
#include "core/concurrent.h"
#include "core/jsonrpc.h"
#include "core/keccak.h"
#include "core/log.h"

namespace nodeops::gateway {
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

thread_local LoopState* t_loop = nullptr;

http::Response json_response(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

bool is_json_content_type(std::string_view ct) {
  auto semi = ct.find(';');
  auto base = ct.substr(0, semi);
  while (!base.empty() && base.back() == ' ') base.remove_suffix(1);
  constexpr std::string_view json = "application/json";
  return std::equal(base.begin(), base.end(), json.begin(), json.end(), [](char a, char b) {
    return (a >= 'A' && a <= 'Z' ? static_cast<char>(a - 'A' + 'a') : a) == b;
  });
}

// The transaction hash for eth_sendRawTransaction's params ["0x<raw>"], or "" when unreadable.
std::string raw_transaction_hash(std::string_view params) {
  auto open = params.find('"');
  auto close = params.find('"', open + 1);
  if (open == std::string_view::npos || close == std::string_view::npos) return {};
  auto bytes = decode_hex(params.substr(open + 1, close - open - 1));
  if (!bytes || bytes->empty()) return {};
  auto h = keccak256(std::span(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()));
  return "\"" + encode_hex(h) + "\"";
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Router::Router(const GatewayConfig& config, std::vector<std::unique_ptr<ChainRuntime>>& chains, GatewayMetrics& metrics)
    : config_(config), chains_(chains), metrics_(metrics) {}

void Router::attach_loop(asio::io_context& io) {
  auto* state = new LoopState();  // lives as long as the thread's loop: the process
  state->io = &io;
  for (size_t c = 0; c < config_.chains.size(); ++c) {
    const auto& chain = config_.chains[c];
    state->pools.emplace_back();
    state->load.emplace_back(chain.upstreams.size());
    for (size_t u = 0; u < chain.upstreams.size(); ++u) {
      const auto& url = chain.upstreams[u].url;
      auto pool = std::make_unique<http::ClientPool>(io, url.host, url.port, 256, 64ull << 20);
      pool->set_connections_gauge(metrics_.upstream(c, u).connections);
      state->pools.back().push_back(std::move(pool));
    }
  }
  t_loop = state;
}

http::Response Router::transport_error(int status, std::string_view message) {
  // 400 is a request that is not HTTP; 413 and 408 are requests we would not read to the end.
  return json_response(status, jsonrpc::error_reply("", status == 400 ? jsonrpc::kParseError : jsonrpc::kInvalidRequest,
                                                    message));
}

http::Response Router::readiness() const {
  std::string body = "{\"ready\":";
  bool ready = true;
  std::string chains;
  for (const auto& c : chains_) {
    auto h = c->health.load();
    if (!chains.empty()) chains += ",";
    chains += fmt::format("\"{}\":{}", c->config->name, h->healthy);
    if (h->healthy == 0) ready = false;
  }
  if (draining_.load()) ready = false;
  body += ready ? "true" : "false";
  if (draining_.load()) body += ",\"draining\":true";
  body += ",\"healthy_upstreams\":{" + chains + "}}";
  return json_response(ready ? 200 : 503, body);
}

asio::awaitable<http::Response> Router::handle(http::Request& req) {
  auto path = http::path_of(req.target);
  if (req.method == "GET") {
    if (path == "/healthz") co_return json_response(200, "{\"status\":\"ok\"}");
    if (path == "/readyz") co_return readiness();
  }
  // Route: /<chain>, or / when exactly one chain is configured.
  ChainRuntime* chain = nullptr;
  std::string_view name = path.substr(path.empty() ? 0 : 1);
  if (!name.empty() && name.back() == '/') name.remove_suffix(1);
  if (name.empty() && chains_.size() == 1) {
    chain = chains_.front().get();
  } else {
    for (auto& c : chains_) {
      if (c->config->name == name) chain = c.get();
    }
  }
  if (!chain) {
    std::string known;
    for (auto& c : chains_) known += (known.empty() ? "/" : ", /") + c->config->name;
    co_return json_response(404, jsonrpc::error_reply("", jsonrpc::kMethodNotFound,
                                                      fmt::format("no route {}; chains are served at {}", path, known)));
  }
  if (req.method != "POST") {
    auto r = json_response(405, jsonrpc::error_reply("", jsonrpc::kInvalidRequest, "JSON-RPC takes POST"));
    r.headers.emplace_back("Allow", "POST");
    co_return r;
  }
  if (!is_json_content_type(req.content_type)) {
    co_return json_response(415, jsonrpc::error_reply("", jsonrpc::kInvalidRequest,
                                                      "Content-Type must be application/json"));
  }
  active_clients_.seen(req.remote_address, unix_now());
  metrics_.in_flight().inc();
  struct InFlight {
    metrics::Gauge& g;
    ~InFlight() { g.dec(); }
  } in_flight{metrics_.in_flight()};

  auto& loop = *t_loop;
  auto started = Clock::now();
  auto deadline = started + config_.limits.request_timeout;
  auto parsed = jsonrpc::parse_request(req.body);
  if (parsed.fatal) {
    metrics_.record_request(chain->index, "other", Outcome::rejected, 0);
    co_return json_response(200, jsonrpc::error_reply("", parsed.fatal->first, parsed.fatal->second));
  }
  if (parsed.batch && parsed.calls.size() > config_.limits.max_batch) {
    metrics_.record_request(chain->index, "other", Outcome::rejected, 0);
    co_return json_response(200, jsonrpc::error_reply("", jsonrpc::kBatchTooLarge,
                                                      fmt::format("batch of {} calls is over the limit of {}",
                                                                  parsed.calls.size(), config_.limits.max_batch)));
  }
  if (!parsed.batch) {
    auto reply = co_await route_call(loop, *chain, parsed.calls.front(), deadline);
    if (parsed.calls.front().notification()) co_return json_response(204, "");
    co_return json_response(200, std::move(reply));
  }
  // A batch: every call routed on its own, all at once; replies in request order.
  size_t n = parsed.calls.size();
  std::vector<std::string> replies(n);
  co_await for_each_concurrently(*loop.io, n, [&](size_t i) -> asio::awaitable<void> {
    replies[i] = co_await route_call(loop, *chain, parsed.calls[i], deadline);
  });
  std::string body = "[";
  bool first = true;
  for (size_t i = 0; i < n; ++i) {
    if (parsed.calls[i].notification()) continue;
    if (!first) body += ",";
    body += replies[i];
    first = false;
  }
  if (first) co_return json_response(204, "");
  body += "]";
  co_return json_response(200, std::move(body));
}

asio::awaitable<std::string> Router::route_call(LoopState& loop, ChainRuntime& chain, const jsonrpc::Call& call,
                                                Clock::time_point deadline) {
  const auto& cfg = *chain.config;
  auto started = Clock::now();
  auto finish = [&](Outcome outcome, std::string reply) {
    metrics_.record_request(chain.index, call.method, outcome,
                            std::chrono::duration<double>(Clock::now() - started).count());
    return reply;
  };
  if (call.invalid) co_return finish(Outcome::rejected, jsonrpc::error_reply(call.id, call.invalid->first, call.invalid->second));
  if (!cfg.allows(call.method)) {
    co_return finish(Outcome::rejected, jsonrpc::error_reply(call.id, jsonrpc::kMethodNotFound,
                                                             fmt::format("method {} is not available", call.method)));
  }
  try {
    Criteria criteria;
    if (cfg.type == "evm") criteria.range = chains::evm::block_range(call.method, call.params);
    criteria.tried.assign(cfg.upstreams.size(), false);
    bool write = cfg.type == "evm" && chains::evm::is_write(call.method);
    std::string last_problem;
    // A node's own "state unavailable" answer, kept in case no other node can do better.
    std::string state_error;
    auto traffic = chain.traffic.load(std::memory_order_acquire);
    for (uint32_t attempt = 0; attempt < config_.limits.max_attempts; ++attempt) {
      auto now = Clock::now();
      if (now >= deadline) {
        co_return finish(Outcome::failed, jsonrpc::error_reply(call.id, jsonrpc::kTimeout,
                                                               "no upstream answered before the request deadline" +
                                                                   (last_problem.empty() ? "" : " (" + last_problem + ")")));
      }
      auto health = chain.health.load();
      auto& load = loop.load[chain.index];
      // First attempt: a pool by traffic share; retries may use any pool that takes traffic.
      criteria.pool = attempt == 0 ? pick_pool(*traffic, loop.rng) : "";
      auto pick = select_upstream(cfg, *health, *traffic, load, criteria, loop.rng);
      if (!pick && !criteria.pool.empty()) {
        criteria.pool.clear();
        pick = select_upstream(cfg, *health, *traffic, load, criteria, loop.rng);
      }
      if (!pick) {
        if (attempt == 0) {
          co_return finish(Outcome::failed, jsonrpc::error_reply(call.id, jsonrpc::kNoHealthyUpstream,
                                                                 fmt::format("no healthy upstream for {}", cfg.name)));
        }
        break;
      }
      size_t u = *pick;
      criteria.tried[u] = true;
      const auto& up = cfg.upstreams[u];
      auto& series = metrics_.upstream(chain.index, u);
      auto remaining = std::chrono::ceil<Duration>(deadline - now);
      auto timeout = std::min<Duration>(config_.limits.upstream_timeout, remaining);
      // When the request's deadline, not the upstream timeout, bounds this attempt, its timing out
      // means the request is out of time: answer -32012 rather than trying another upstream.
      bool deadline_bound = remaining <= config_.limits.upstream_timeout;
      uint64_t id = loop.next_id++;
      auto body = jsonrpc::upstream_request(id, call.method, call.params);
      auto t0 = Clock::now();
      load[u].outstanding++;
      auto res = co_await loop.pools[chain.index][u]->request("POST", up.url.target, std::move(body), timeout);
      load[u].outstanding--;
      double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      load[u].ewma_ms = load[u].ewma_ms == 0 ? ms : 0.8 * load[u].ewma_ms + 0.2 * ms;
      series.duration->observe(ms / 1000);

      auto fail = [&](UpstreamError kind, std::string problem) {
        series.error->inc();
        series.errors[static_cast<size_t>(kind)]->inc();
        last_problem = fmt::format("{}: {}", up.name, problem);
        log::warn("upstream call failed", {{"chain", cfg.name}, {"upstream", up.name}, {"method", call.method},
                                           {"reason", problem}, {"duration_ms", ms}});
        if (attempt + 1 < config_.limits.max_attempts) metrics_.record_retry(chain.index, kUpstreamErrorNames[static_cast<size_t>(kind)]);
      };
      if (!res.ok() && res.error == http::ClientResponse::Error::timeout && deadline_bound) {
        series.error->inc();
        series.errors[static_cast<size_t>(UpstreamError::timeout)]->inc();
        last_problem = fmt::format("{}: {}", up.name, res.message);
        co_return finish(Outcome::failed, jsonrpc::error_reply(call.id, jsonrpc::kTimeout,
                                                               "no upstream answered before the request deadline (" +
                                                                   last_problem + ")"));
      }
      if (!res.ok()) {
        fail(res.error == http::ClientResponse::Error::timeout ? UpstreamError::timeout
             : res.error == http::ClientResponse::Error::connect ? UpstreamError::connect
                                                                  : UpstreamError::bad_response,
             res.message);
        continue;
      }
      if (res.status == 429 || res.status >= 500) {
        fail(UpstreamError::http_status, fmt::format("HTTP {}", res.status));
        continue;
      }
      auto reply = jsonrpc::parse_upstream_reply(res.body, id);
      if (reply.kind == jsonrpc::UpstreamReply::Kind::invalid) {
        fail(res.status == 200 ? UpstreamError::bad_response : UpstreamError::http_status,
             res.status == 200 ? reply.problem : fmt::format("HTTP {}", res.status));
        continue;
      }
      if (reply.kind == jsonrpc::UpstreamReply::Kind::error) {
        if (write && chains::evm::is_already_known(reply.error_code, reply.error_message)) {
          auto hash = raw_transaction_hash(call.params);
          if (!hash.empty()) {
            series.ok->inc();
            co_return finish(Outcome::ok, jsonrpc::result_reply(call.id, hash));
          }
        }
        if (chains::evm::is_state_unavailable(reply.error_code, reply.error_message) &&
            attempt + 1 < config_.limits.max_attempts) {
          series.rpc_error->inc();
          criteria.prefer_archive = true;
          last_problem = fmt::format("{}: {}", up.name, reply.error_message);
          state_error = jsonrpc::error_object_reply(call.id, reply.payload);
          metrics_.record_retry(chain.index, "state_unavailable");
          continue;
        }
        series.rpc_error->inc();
        co_return finish(Outcome::rpc_error, jsonrpc::error_object_reply(call.id, reply.payload));
      }
      series.ok->inc();
      co_return finish(Outcome::ok, jsonrpc::result_reply(call.id, reply.payload));
    }
    if (!state_error.empty()) co_return finish(Outcome::rpc_error, std::move(state_error));
    if (Clock::now() >= deadline) {
      co_return finish(Outcome::failed, jsonrpc::error_reply(call.id, jsonrpc::kTimeout,
                                                             "no upstream answered before the request deadline (" +
                                                                 last_problem + ")"));
    }
    co_return finish(Outcome::failed,
                     jsonrpc::error_reply(call.id, jsonrpc::kUpstreamFailed,
                                          fmt::format("all attempts failed; last: {}", last_problem)));
  } catch (const std::exception& e) {
    log::error("routing failed", {{"chain", cfg.name}, {"method", call.method}, {"error", e.what()}});
    co_return finish(Outcome::failed, jsonrpc::error_reply(call.id, jsonrpc::kInternalError, "internal error"));
  }
}

}  // namespace nodeops::gateway
