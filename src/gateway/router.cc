#include "gateway/router.h"

#include "core/coroutine_warnings.h"

#include <boost/asio.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "chains/evm.h"
#include "chains/cache_rules.h"
#include "core/concurrent.h"
#include "core/jsonrpc.h"
#include "core/keccak.h"
#include "core/log.h"
#include "gateway/batcher.h"
#include "gateway/filters.h"

namespace nodeops::gateway {
namespace asio = boost::asio;

namespace {

constexpr std::string_view kBufferedFull =
    "the gateway holds too many reply bytes for other requests (limits.max_buffered_bytes); retry shortly";

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

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

// A JSON quantity result ("0x1a") as a number; 0 when it is not one.
uint64_t quantity_of(std::string_view raw) {
  if (raw.size() < 5 || raw.substr(0, 3) != "\"0x" || raw.back() != '"') return 0;
  uint64_t v = 0;
  auto digits = raw.substr(3, raw.size() - 4);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, 16);
  return ec == std::errc() && end == digits.data() + digits.size() ? v : 0;
}

// X-Min-Block's value: a 0x-hex quantity or a decimal number.
std::optional<uint64_t> parse_min_block(std::string_view v) {
  bool hex = v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X');
  if (hex) v.remove_prefix(2);
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n, hex ? 16 : 10);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return n;
}

std::string quantity_hex(uint64_t n) { return fmt::format("0x{:x}", n); }

// The first string of a params array, as JSON text with its quotes, lower-cased ("" if none).
std::string first_string(std::string_view params) {
  auto open = params.find('"');
  auto close = open == std::string_view::npos ? open : params.find('"', open + 1);
  if (close == std::string_view::npos) return {};
  return lower_ascii(params.substr(open, close - open + 1));
}

// The upstream a read should go to so that its client sees its own transaction: the one that
// accepted it (receipt, transaction by hash), or that took the client's latest one (pending nonce).
std::optional<size_t> read_your_writes(const RecentWrites& writes, const jsonrpc::Call& call, std::string_view client,
                                       Clock::time_point now) {
  if (call.method == "eth_getTransactionReceipt" || call.method == "eth_getTransactionByHash") {
    return writes.upstream_of_tx(first_string(call.params), now);
  }
  if (call.method == "eth_getTransactionCount" && call.params.find("\"pending\"") != std::string_view::npos) {
    return writes.upstream_of_client(client, now);
  }
  return std::nullopt;
}

// Cache-Control: no-cache (or no-store) asks for an answer from the upstream, not a stored one.
bool asks_no_cache(std::string_view value) {
  std::string v(value);
  for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return v.find("no-cache") != std::string::npos || v.find("no-store") != std::string::npos;
}

const char* x_cache(std::optional<CacheResult> r) {
  return r == CacheResult::hit ? "HIT" : r == CacheResult::bypass ? "BYPASS" : "MISS";
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Router::Router(const GatewayConfig& config, std::vector<std::unique_ptr<ChainRuntime>>& chains, GatewayMetrics& metrics,
               size_t loops)
    : config_(config),
      limits_(std::make_shared<const Limits>(config.limits)),
      chains_(chains),
      metrics_(metrics),
      loops_(loops) {}

void Router::attach_loop(size_t index, asio::io_context& io) {
  auto pools = std::make_unique<PooledUpstreamClient>(io, chains_, config_.limits.max_reply_bytes);
  auto context = std::make_unique<LoopContext>(io, std::make_unique<BatchingClient>(io, std::move(pools), chains_),
                                               chains_);
  if (config_.cache.enabled && !config_.cache.redis.empty()) {
    redis::Client::Options options;
    options.address = *redis::parse_address(config_.cache.redis, nullptr);
    options.max_value = config_.cache.max_entry_bytes;
    context->redis = std::make_unique<redis::Client>(io, options);
    context->redis->start();
    if (index == 0) {
      metrics_.registry().on_collect([this] {
        size_t up = 0;
        for (const auto& l : loops_) up += l && l->redis && l->redis->connected();
        metrics_.redis_connected().set(static_cast<double>(up));
      });
    }
  }
  attach_loop(index, std::move(context));
}

void Router::attach_loop(size_t index, std::unique_ptr<LoopContext> context) { loops_.at(index) = std::move(context); }

http::Response Router::transport_error(int status, std::string_view message) {
  // 400 is a request that is not HTTP; 413 and 408 are requests we would not read to the end.
  return json_response(status, jsonrpc::error_reply("", status == 400 ? jsonrpc::kParseError : jsonrpc::kInvalidRequest,
                                                    message));
}

http::Response Router::readiness() const {
  std::string chains;
  for (const auto& c : chains_) {
    if (!chains.empty()) chains += ",";
    chains += fmt::format("\"{}\":{}", c->config->name, c->health.load()->healthy);
  }
  bool draining = draining_.load();
  std::string body = fmt::format("{{\"ready\":{}{},\"healthy_upstreams\":{{{}}}}}", !draining,
                                 draining ? ",\"draining\":true" : "", chains);
  return json_response(draining ? 503 : 200, std::move(body));
}

http::Response Router::readiness_of(std::string_view name) const {
  for (const auto& c : chains_) {
    if (c->config->name != name) continue;
    auto h = c->health.load();
    return json_response(h->healthy > 0 ? 200 : 503,
                         fmt::format("{{\"chain\":\"{}\",\"ready\":{},\"healthy_upstreams\":{},\"best_head\":{}}}", name,
                                     h->healthy > 0, h->healthy, h->best_head));
  }
  return json_response(404, "{\"error\":\"no such chain\"}");
}

ChainRuntime* Router::chain_for(std::string_view path) const {
  // /<chain>, or / when exactly one chain is configured.
  std::string_view name = path.substr(path.empty() ? 0 : 1);
  if (!name.empty() && name.back() == '/') name.remove_suffix(1);
  if (name.empty() && chains_.size() == 1) return chains_.front().get();
  for (auto& c : chains_) {
    if (c->config->name == name) return c.get();
  }
  return nullptr;
}

asio::awaitable<http::Response> Router::handle(http::Request& req) {
  auto path = http::path_of(req.target);
  if (req.method == "GET" || req.method == "HEAD") {
    if (path == "/healthz") co_return json_response(200, "{\"status\":\"ok\"}");
    if (path == "/readyz") co_return readiness();
    if (path.starts_with("/readyz/")) co_return readiness_of(path.substr(8));
  }
  // The client gate (gateway/client_gate.h) before any other work: key, origin, empty buckets.
  Admission admission;
  if (gate_) {
    admission = gate_->admit(req, path);
  } else {
    admission.client = req.peer_address;
    admission.path = path;
  }
  // Not a conditional expression: GCC 12 miscompiles co_await inside one.
  http::Response r;
  if (admission.answer) {
    r = std::move(*admission.answer);
  } else {
    r = co_await serve(req, admission);
  }
  if (gate_) gate_->finish(admission, r);
  co_return r;
}

asio::awaitable<http::Response> Router::serve(http::Request& req, Admission& admission) {
  auto request_limits = limits();  // one snapshot for the whole request, whatever a reload does
  auto path = admission.path;
  const std::string& client = admission.client;
  ChainRuntime* chain = chain_for(path);
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
  if (gate_ && !gate_->check_chain(admission, chain->config->name)) co_return std::move(*admission.answer);
  // X-Min-Block: the client has seen that block (through another replica, or another provider)
  // and wants nothing older: it raises the floor its monotonic reads keep from now on.
  if (!req.min_block.empty()) {
    auto floor = parse_min_block(req.min_block);
    if (!floor) {
      co_return json_response(400, jsonrpc::error_reply("", jsonrpc::kInvalidParams,
                                                        "X-Min-Block must be a block number (0x-hex or decimal)"));
    }
    if (!client.empty()) chain->heads.saw(client, *floor, Clock::now());
  }
  active_clients_.seen(client, unix_now());
  metrics_.in_flight().inc();
  struct InFlight {
    metrics::Gauge& g;
    ~InFlight() { g.dec(); }
  } in_flight{metrics_.in_flight()};

  auto& loop = *loops_.at(req.loop);
  auto started = Clock::now();
  auto deadline = started + request_limits->request_timeout;
  auto parsed = jsonrpc::parse_request(req.body, request_limits->max_batch);
  if (parsed.fatal) {
    metrics_.record_request(chain->index, "other", Outcome::rejected, 0);
    co_return json_response(200, jsonrpc::error_reply("", parsed.fatal->first, parsed.fatal->second));
  }
  // Method allow-lists and weights need the calls: refused calls become invalid, the rest are charged.
  if (gate_) {
    bool admitted = co_await gate_->charge(admission, parsed.calls);  // not in a && (GCC 12 and co_await)
    if (!admitted) co_return std::move(*admission.answer);
  }
  auto held = hold_replies(request_limits->max_reply_bytes);  // released once the response is written
  auto& budget = held->budget;
  auto respond = [&held](int status, std::string body) {
    auto r = json_response(status, std::move(body));
    r.on_sent = held;
    return r;
  };
  bool no_cache = cache_ && !req.cache_control.empty() && asks_no_cache(req.cache_control);
  if (!parsed.batch) {
    auto result = co_await serve_call(loop, *chain, parsed.calls.front(), deadline, budget, no_cache, client);
    if (parsed.calls.front().notification()) co_return json_response(204, "");
    auto r = respond(result.shed ? 503 : 200, std::move(result.reply));
    if (result.shed) r.headers.emplace_back("Retry-After", "1");
    if (cache_) r.headers.emplace_back("X-Cache", no_cache ? "BYPASS" : x_cache(result.cache));
    if (result.block) r.headers.emplace_back("X-Block-Number", quantity_hex(*result.block));
    co_return r;
  }
  // A batch: every call routed on its own, batch_concurrency at a time; replies in request order.
  size_t n = parsed.calls.size();
  std::vector<std::string> replies(n);
  size_t hits = 0;
  co_await for_each_concurrently(
      loop.io, n,
      [&](size_t i) -> asio::awaitable<void> {
        auto result = co_await serve_call(loop, *chain, parsed.calls[i], deadline, budget, no_cache, client);
        if (result.cache == CacheResult::hit) ++hits;
        replies[i] = std::move(result.reply);
      },
      request_limits->batch_concurrency, "batch call");
  size_t size = 2;
  for (const auto& r : replies) size += r.size() + 1;
  std::string body;
  body.reserve(size);
  body += "[";
  bool first = true;
  for (size_t i = 0; i < n; ++i) {
    if (parsed.calls[i].notification()) continue;
    if (!first) body += ",";
    body += replies[i];
    std::string().swap(replies[i]);  // the reply's bytes are in the body now: do not hold them twice
    first = false;
  }
  if (first) co_return json_response(204, "");
  body += "]";
  auto r = respond(200, std::move(body));
  // A batch is a HIT only when every call came from the cache.
  if (cache_) r.headers.emplace_back("X-Cache", no_cache ? "BYPASS" : hits == n ? "HIT" : "MISS");
  co_return r;
}

CallResult Router::answer_from_cache(ChainRuntime& chain, const jsonrpc::Call& call, const std::string& result,
                                     Clock::time_point started, ReplyBudget& budget) {
  // A hit's reply lives as long as the request, like an upstream's: the same budgets bound it.
  budget.left -= std::min<uint64_t>(budget.left, result.size());
  budget.held += result.size();
  buffered_.fetch_add(result.size(), std::memory_order_relaxed);
  metrics_.buffered_bytes().inc(static_cast<double>(result.size()));
  metrics_.record_request(chain.index, call.method, Outcome::ok,
                          std::chrono::duration<double>(Clock::now() - started).count());
  return CallResult{jsonrpc::result_reply(call.id, result), false, CacheResult::hit, {}};
}

asio::awaitable<CallResult> Router::serve_call(LoopContext& loop, ChainRuntime& chain, const jsonrpc::Call& call,
                                               Clock::time_point deadline, ReplyBudget& budget, bool no_cache,
                                               std::string_view client) {
  auto set = chain.upstreams();  // this call's view of the chain's config
  const auto& cfg = *set->config;
  // Filters live in the gateway, not in one node of the pool (gateway/filters.h).
  if (filters_ && cfg.type == "evm" && !call.invalid && cfg.allows(call.method) && FilterService::handles(call.method)) {
    co_return co_await serve_filter_call(loop, chain, call, deadline, budget, client);
  }
  if (!cache_ || call.invalid || !cfg.allows(call.method)) co_return co_await route_call(loop, chain, call, deadline, budget, client);
  auto started = Clock::now();
  // The snapshot this call is keyed and judged by: its finalized number only grows, so judging by
  // an older one is conservative; its head hashes name the chain the answer was read on.
  auto health = chain.health.load();
  // Block tags as numbers: `latest` (and an omitted block) as a head the pool holds, never below
  // what this client was served; `finalized` as the chain's finalized block. The node is asked
  // for that very block, so the answer matches its key: `latest` and the head's number share an
  // entry, and a `finalized` read is final (and shared through Redis). `latest` is resolved only
  // when unfinal answers can be keyed by the head hashes (a reorg must make them unreachable).
  std::string resolved_params;
  jsonrpc::Call resolved;
  std::optional<uint64_t> latest;
  if (cfg.type == "evm" && !no_cache) {
    chains::evm::TagNumbers numbers{.finalized = health->finalized};
    if (!health->head_key.empty() && health->shared_head) {
      latest = std::max(*health->shared_head, client.empty() ? 0 : chain.heads.get(client, started).value_or(0));
      numbers.latest = latest;
    }
    if (auto params = chains::evm::resolve_block_tags(call.method, call.params, numbers)) {
      resolved_params = std::move(*params);
      resolved = call;
      resolved.params = resolved_params;
    }
  }
  const jsonrpc::Call& asked = resolved_params.empty() ? call : resolved;
  auto plan = cfg.type == "solana" ? chains::solana::plan_cache(asked.method, asked.params)
                                   : chains::evm::plan_cache(asked.method, asked.params);
  // `latest` counts as served only when the call reads that block (not a `finalized` one alone).
  if (resolved_params.empty() || plan.block != latest) latest.reset();
  if (plan.cls == chains::evm::CacheClass::none) co_return co_await route_call(loop, chain, call, deadline, budget, client);
  if (no_cache) {
    chain.cache.count(plan.cls, CacheResult::bypass);
    auto r = co_await route_call(loop, chain, call, deadline, budget, client);
    r.cache = CacheResult::bypass;
    co_return r;
  }
  // A client served a resolved `latest` has seen that block: its later reads stay at or above it.
  auto served_latest = [&] {
    if (latest && !client.empty()) chain.heads.saw(client, *latest, Clock::now());
  };
  // An answer from the cache, or shared by an identical call in flight (a miss, counted as one).
  auto hit_reply = [&](const std::string& value, CacheResult counted = CacheResult::hit) {
    if (counted == CacheResult::hit) chain.cache.count(plan.cls, CacheResult::hit);
    served_latest();
    auto r = answer_from_cache(chain, call, value, started, budget);
    if (!plan.at_head) r.block = plan.block;
    return r;
  };
  // Final answers are keyed by chain and call; unfinal ones also by the head hashes they were read
  // at, so once a probe sees a new head or a reorg they are out of reach at once.
  std::string final_key;
  final_key.reserve(cfg.name.size() + 1 + plan.key.size());
  final_key.append(cfg.name).append(1, '\n').append(plan.key);
  auto fits = [&](const CacheValue& v) { return v && v->size() <= budget.left; };
  auto hit = cache_->find(final_key, started);
  std::string head_key;  // built only when the final key missed
  if (!hit && !plan.immutable && !health->head_key.empty()) {
    head_key.reserve(final_key.size() + 1 + health->head_key.size());
    head_key.append(final_key).append(1, '@').append(health->head_key);
    hit = cache_->find(head_key, started);
  }
  if (fits(hit)) {
    co_return hit_reply(*hit);
  }
  const std::string& flight_key = head_key.empty() ? final_key : head_key;
  auto [flight, leader] = cache_->flights().join(flight_key);
  if (!leader) {
    // An identical call is on its way upstream (maybe from another loop): wait for its answer on
    // this loop, until our deadline at most.
    auto timer = std::make_shared<asio::steady_timer>(loop.io, deadline);
    auto executor = loop.io.get_executor();
    if (!Flights::wait(*flight, [timer, executor] { asio::post(executor, [timer] { timer->cancel(); }); })) {
      co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    }
    CacheValue shared;
    {
      std::lock_guard lock(flight->mu);
      shared = flight->result;
    }
    chain.cache.count(plan.cls, CacheResult::miss);
    if (fits(shared)) {
      chain.cache.coalesced->inc();
      auto r = hit_reply(*shared, CacheResult::miss);
      r.cache = CacheResult::miss;
      co_return r;
    }
    // The leader has nothing to share (an error, a null): ask on our own.
    auto r = co_await route_call(loop, chain, asked, deadline, budget, client);
    r.cache = CacheResult::miss;
    co_return r;
  }
  // Whatever happens to this coroutine, the flight ends and its waiters wake.
  struct Lead {
    Flights& flights;
    const std::string& key;
    std::shared_ptr<Flights::Flight> flight;
    CacheValue result;
    ~Lead() { flights.finish(key, flight, std::move(result)); }
  } lead{cache_->flights(), flight_key, flight, nullptr};
  // The shared tier holds final answers only: asked when this one may be final, within its own
  // short timeout, so a slow or dead Redis costs a call at most redis_timeout.
  std::string redis_key;
  bool may_be_final = !plan.at_head && (plan.immutable || plan.block_in_result ||
                                        (plan.block && health->finalized && *plan.block <= *health->finalized));
  if (loop.redis && may_be_final) {
    redis_key = fmt::format("nodeops:v1:{}:{}:{}", cfg.chain_id, cfg.name, plan.key);
    auto left = std::chrono::ceil<Duration>(deadline - Clock::now());
    auto found = co_await loop.redis->get(redis_key, std::max(Duration(1), std::min(config_.cache.redis_timeout, left)));
    metrics_.redis_lookups(static_cast<size_t>(found.result)).inc();
    if (found.result == redis::Lookup::Result::hit) {
      auto value = std::make_shared<const std::string>(std::move(found.value));
      cache_->insert(final_key, value, std::nullopt);
      lead.result = value;
      if (fits(value)) {
        co_return hit_reply(*value);
      }
    }
  }
  chain.cache.count(plan.cls, CacheResult::miss);
  std::string result;
  auto r = co_await route_call(loop, chain, asked, deadline, budget, client, &result);
  r.cache = CacheResult::miss;
  if (result.empty()) co_return r;
  served_latest();
  auto finality = chains::evm::classify_answer(plan, result, health->finalized);
  if (finality == chains::evm::Finality::uncacheable) co_return r;
  auto value = std::make_shared<const std::string>(std::move(result));
  if (finality == chains::evm::Finality::final) {
    cache_->insert(final_key, value, std::nullopt);
    if (!redis_key.empty()) metrics_.redis_writes(loop.redis->set(redis_key, *value, config_.cache.redis_ttl)).inc();
  } else if (!head_key.empty() && config_.cache.unfinal_ttl.count() > 0) {
    cache_->insert(head_key, value, Clock::now() + config_.cache.unfinal_ttl);
  }
  lead.result = std::move(value);
  co_return r;
}

asio::awaitable<CallResult> Router::serve_filter_call(LoopContext& loop, ChainRuntime& chain,
                                                      const jsonrpc::Call& call, Clock::time_point deadline,
                                                      ReplyBudget& budget, std::string_view client) {
  auto started = Clock::now();
  FilterService::LogFetch fetch = [&](std::string params) -> asio::awaitable<FilterService::Fetched> {
    jsonrpc::Call logs{call.id, "eth_getLogs", params};
    std::string result;
    auto r = co_await route_call(loop, chain, logs, deadline, budget, client, &result);
    FilterService::Fetched out{std::move(r.reply), std::nullopt};
    if (!result.empty()) out.result = std::move(result);
    co_return out;
  };
  auto answer = co_await filters_->serve(loop.io, chain, call, client, deadline, std::move(fetch));
  metrics_.record_request(chain.index, call.method, answer.outcome,
                          std::chrono::duration<double>(Clock::now() - started).count());
  co_return CallResult{std::move(answer.reply)};
}

asio::awaitable<CallResult> Router::route_call(LoopContext& loop, ChainRuntime& chain, const jsonrpc::Call& call,
                                               Clock::time_point deadline, ReplyBudget& budget, std::string_view client,
                                               std::string* result_out) {
  auto request_limits = limits();
  // The upstream set this call started on: its config decides the method policy. Each attempt
  // reads the latest snapshot; a reload in between moves the call to the new set.
  auto set = chain.upstreams();
  const auto first_set = set;
  const auto& cfg = *first_set->config;
  auto started = Clock::now();
  auto finish = [&](Outcome outcome, std::string reply) {
    metrics_.record_request(chain.index, call.method, outcome,
                            std::chrono::duration<double>(Clock::now() - started).count());
    return CallResult{std::move(reply)};
  };
  // Refused at once under overload: -32005, and HTTP 503 with Retry-After for a lone call.
  auto shed = [&](std::string_view why) {
    metrics_.count_shed(chain.index);
    auto r = finish(Outcome::failed, jsonrpc::error_reply(call.id, jsonrpc::kLimitExceeded, why));
    r.shed = true;
    return r;
  };
  if (call.invalid) co_return finish(Outcome::rejected, jsonrpc::error_reply(call.id, call.invalid->first, call.invalid->second));
  if (!cfg.allows(call.method)) {
    co_return finish(Outcome::rejected, jsonrpc::error_reply(call.id, jsonrpc::kMethodNotFound,
                                                             fmt::format("method {} is not available", call.method)));
  }
  try {
    Criteria criteria;
    if (cfg.type == "evm") criteria.range = chains::evm::block_range(call.method, call.params);
    criteria.tried.assign(set->upstreams.size(), false);
    bool write = cfg.type == "evm" && chains::evm::is_write(call.method);
    bool batchable = cfg.type == "evm" && chains::evm::batchable(call.method);
    // The slot of the upstream that has this client's transaction (read-your-writes).
    std::optional<size_t> preferred_slot;
    if (cfg.type == "evm") preferred_slot = read_your_writes(chain.writes, call, client, started);
    // Monotonic reads: a call that reads the head goes to an upstream at or above the highest block
    // this client has been served, so the head it sees never goes backwards.
    std::optional<uint64_t> named = criteria.range.high;  // the block the call names, if any
    bool reads_head = cfg.type == "evm" && !client.empty() && !criteria.range.high;
    if (reads_head) criteria.range.high = chain.heads.get(client, started);
    // A transaction accepted by one upstream: remembered for its sender's reads, and sent to the
    // other upstreams before the client hears its hash, so that once it has the hash every healthy
    // node has the transaction (a pool that mines while the broadcast is still in flight forks).
    auto accepted = [&](size_t slot, const std::string& tx_hash) -> asio::awaitable<void> {
      if (call.method != "eth_sendRawTransaction" || tx_hash.empty()) co_return;
      chain.writes.record(client, tx_hash, slot, Clock::now());
      co_await broadcast(loop, chain, std::string(call.params), slot, deadline);
    };
    std::string last_problem;
    // A node's own "state unavailable" answer, kept in case no other node can do better.
    std::string state_error;
    bool too_large = false;
    std::string_view retry_reason;  // why the previous attempt failed, if it did
    auto traffic = chain.traffic.load(std::memory_order_acquire);
    for (uint32_t attempt = 0; attempt < request_limits->max_attempts; ++attempt) {
      auto now = Clock::now();
      if (now >= deadline) {
        co_return finish(Outcome::failed, jsonrpc::error_reply(call.id, jsonrpc::kTimeout,
                                                               "no upstream answered before the request deadline" +
                                                                   (last_problem.empty() ? "" : " (" + last_problem + ")")));
      }
      auto health = chain.health.load();
      if (health->set != set) {
        // A reload published a new set: what was tried is carried over by upstream, not position.
        Small<bool> tried(health->set->upstreams.size(), false);
        for (size_t i = 0; i < set->upstreams.size(); ++i) {
          if (!criteria.tried[i]) continue;
          if (auto j = health->set->position_of_slot(set->upstreams[i]->slot())) tried[*j] = true;
        }
        criteria.tried = std::move(tried);
        set = health->set;
      }
      const auto& live = *set->config;
      criteria.preferred = preferred_slot ? set->position_of_slot(*preferred_slot) : std::nullopt;
      Small<UpstreamLoad> load;  // this loop's figures, in the set's order
      for (const auto& up : set->upstreams) load.push_back(loop.load_of(*up));
      // First attempt: a pool by traffic share; retries may use any pool that takes traffic.
      criteria.pool = attempt == 0 ? pick_pool(*traffic, loop.rng) : "";
      // A pick may be refused on the spot: its breaker is open (or its one trial call is taken),
      // or it is at max_inflight. Then pick again among the others.
      size_t saturated = 0;
      Small<size_t> broken;  // refused by their breaker alone
      bool panic = false;
      std::optional<size_t> pick;
      for (;;) {
        pick = select_upstream(live, *health, *traffic, load, criteria, loop.rng);
        if (!pick && !criteria.pool.empty()) {
          criteria.pool.clear();
          continue;
        }
        if (!pick && !broken.empty() && !panic) {
          // Every upstream the probes call healthy has its breaker open: rather than refuse the
          // whole chain (a client-made overload would then take it down), route as if no
          // breaker were open (Envoy's panic routing). Their failures still count.
          panic = true;
          for (size_t b : broken) criteria.tried[b] = false;
          continue;
        }
        if (!pick) break;
        auto& candidate = *set->upstreams[*pick];
        if (candidate.in_flight.load(std::memory_order_relaxed) >= live.upstreams[*pick].max_inflight) {
          ++saturated;
        } else if (candidate.backoff.active(now)) {
          // It said 429: no call until its Retry-After has passed (a full provider, not a broken one).
          ++saturated;
          candidate.metrics.throttled(Throttle::backoff);
        } else if (panic || candidate.breaker.try_acquire(now)) {
          // The budget is spent last, so a call refused by the breaker costs none of it.
          if (!candidate.budget.limited() || candidate.budget.try_spend(now, candidate.config().cost(call.method))) break;
          if (!panic) candidate.breaker.on_neutral();
          ++saturated;
          candidate.metrics.throttled(Throttle::budget);
        } else {
          broken.push_back(*pick);
        }
        criteria.tried[*pick] = true;
      }
      if (pick && buffered_.load(std::memory_order_relaxed) >= request_limits->max_buffered_bytes) {
        set->upstreams[*pick]->breaker.on_neutral();
        co_return shed(kBufferedFull);
      }
      if (!pick) {
        if (attempt > 0) break;
        if (saturated > 0) {
          co_return shed(fmt::format("every upstream of {} is at its in-flight limit or request budget; retry shortly",
                                     cfg.name));
        }
        if (auto n = chain.unavailable_log.tick()) {
          log::error("call failed: no healthy upstream", {{"chain", cfg.name}, {"method", call.method}, {"occurrences", n}});
        }
        co_return finish(Outcome::failed, jsonrpc::error_reply(call.id, jsonrpc::kNoHealthyUpstream,
                                                               fmt::format("no healthy upstream for {}", cfg.name)));
      }
      size_t u = *pick;
      criteria.tried[u] = true;
      // A retry is counted when it happens, under the failure that caused it: not when no
      // upstream was left to retry on.
      if (!retry_reason.empty()) metrics_.record_retry(chain.index, std::exchange(retry_reason, {}));
      auto& up = *set->upstreams[u];
      auto& series = up.metrics;
      if (budget.left == 0) {
        up.breaker.on_neutral();
        too_large = true;
        break;
      }
      auto remaining = std::chrono::ceil<Duration>(deadline - now);
      auto timeout = std::min<Duration>(request_limits->upstream_timeout, remaining);
      // When the request's deadline, not the upstream timeout, bounds this attempt, its timing out
      // means the request is out of time: answer -32012 rather than trying another upstream.
      bool deadline_bound = remaining <= request_limits->upstream_timeout;
      uint64_t id = loop.next_id++;
      auto body = jsonrpc::upstream_request(id, call.method, call.params);
      auto t0 = Clock::now();
      loop.load_of(up).outstanding++;
      up.in_flight.fetch_add(1, std::memory_order_relaxed);
      series.in_flight().inc();
      auto release = [&] {
        loop.load_of(up).outstanding--;
        up.in_flight.fetch_sub(1, std::memory_order_relaxed);
        series.in_flight().dec();
      };
      http::ClientResponse res;
      try {
        http::ReplyLimits limits{budget.left, &buffered_, request_limits->max_buffered_bytes};
        // (Not a conditional expression: GCC 12 miscompiles co_await in one.)
        if (batchable) {
          res = co_await loop.client->post_batchable(up, id, std::move(body), timeout, limits);
        } else {
          res = co_await loop.client->post(up, std::move(body), timeout, limits);
        }
      } catch (...) {
        release();
        up.breaker.on_neutral();
        throw;
      }
      release();
      // The reply's bytes count in the gateway's buffered total until this request ends.
      budget.held += res.charged;
      metrics_.buffered_bytes().inc(static_cast<double>(res.charged));
      double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      auto& figures = loop.load_of(up);
      figures.ewma_ms = figures.ewma_ms == 0 ? ms : 0.8 * figures.ewma_ms + 0.2 * ms;
      series.duration().observe(ms / 1000);

      auto fail = [&](UpstreamError kind, std::string problem) {
        series.failed(kind);
        up.breaker.on_failure(Clock::now());
        last_problem = fmt::format("{}: {}", up.name(), problem);
        if (auto n = up.failure_log.tick()) {
          log::warn("upstream call failed", {{"chain", cfg.name}, {"upstream", up.name()}, {"method", call.method},
                                             {"reason", problem}, {"duration_ms", ms}, {"occurrences", n}});
        }
        retry_reason = kUpstreamErrorNames[static_cast<size_t>(kind)];
      };
      if (!res.ok() && res.error == http::ClientResponse::Error::over_budget) {
        // Other requests hold as many reply bytes as the gateway may: shed, as for max_inflight.
        up.breaker.on_neutral();
        co_return shed(kBufferedFull);
      }
      if (!res.ok() && res.error == http::ClientResponse::Error::too_large) {
        // Too large says nothing certain about the node (the client may have asked for a huge
        // range), so it never counts against the breaker: one client must not be able to eject
        // every upstream. When earlier replies of the request used up part of the budget, the
        // request is simply too big; when one reply alone overflows it, another node may answer
        // smaller (the first may be lying), so try the next.
        up.breaker.on_neutral();
        last_problem = fmt::format("{}: reply larger than max_reply_bytes ({} bytes)", up.name(),
                                   request_limits->max_reply_bytes);
        too_large = true;
        if (budget.left == request_limits->max_reply_bytes) continue;
        break;
      }
      if (!res.ok() && res.error == http::ClientResponse::Error::timeout && deadline_bound) {
        series.failed(UpstreamError::timeout);
        up.breaker.on_neutral();
        last_problem = fmt::format("{}: {}", up.name(), res.message);
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
      if (res.status == 429) {
        // Too many requests: the provider's plan, not a broken node. Back this upstream off for
        // its Retry-After and try another; the breaker and the failure window never see it.
        auto wait = RateLimitBackoff::backoff_for(res.retry_after, std::chrono::system_clock::now());
        up.backoff.back_off(Clock::now(), wait);
        up.breaker.on_neutral();
        series.rate_limited().inc();
        last_problem = fmt::format("{}: HTTP 429 (backing off {}s)", up.name(), wait.count() / 1000.0);
        if (auto n = up.failure_log.tick()) {
          log::warn("upstream rate-limited us: backing off", {{"chain", cfg.name}, {"upstream", up.name()},
                                                             {"method", call.method}, {"backoff_s", wait.count() / 1000.0},
                                                             {"occurrences", n}});
        }
        retry_reason = "rate_limited";
        continue;
      }
      if (res.status >= 500) {
        fail(UpstreamError::http_status, fmt::format("HTTP {}", res.status));
        continue;
      }
      auto reply = jsonrpc::parse_upstream_reply(res.body, id);
      if (reply.kind == jsonrpc::UpstreamReply::Kind::invalid) {
        fail(res.status == 200 ? UpstreamError::bad_response : UpstreamError::http_status,
             res.status == 200 ? reply.problem : fmt::format("HTTP {}", res.status));
        continue;
      }
      if (reply.kind == jsonrpc::UpstreamReply::Kind::result && cfg.type == "evm" &&
          !chains::evm::plausible_result(call.method, reply.payload)) {
        fail(UpstreamError::bad_response, fmt::format("a result that is not a {} result", call.method));
        continue;
      }
      // The node answered in JSON-RPC: whatever it said, it works.
      up.breaker.on_success();
      series.tier_served().inc();
      budget.left -= std::min<uint64_t>(budget.left, res.body.size());
      if (reply.kind == jsonrpc::UpstreamReply::Kind::error) {
        if (write && chains::evm::is_already_known(reply.error_code, reply.error_message)) {
          auto hash = raw_transaction_hash(call.params);
          if (!hash.empty()) {
            series.ok().inc();
            co_await accepted(u, hash);
            co_return finish(Outcome::ok, jsonrpc::result_reply(call.id, hash));
          }
        }
        if (chains::evm::is_state_unavailable(reply.error_code, reply.error_message) &&
            attempt + 1 < request_limits->max_attempts) {
          series.rpc_error().inc();
          criteria.prefer_archive = true;
          last_problem = fmt::format("{}: {}", up.name(), reply.error_message);
          state_error = jsonrpc::error_object_reply(call.id, reply.payload);
          retry_reason = "state_unavailable";
          continue;
        }
        series.rpc_error().inc();
        co_return finish(Outcome::rpc_error, jsonrpc::reply_in_place(std::move(res.body), reply.payload, call.id, true));
      }
      series.ok().inc();
      if (result_out) result_out->assign(reply.payload);
      if (write) co_await accepted(up.slot(), lower_ascii(reply.payload));
      // The block the answer was read at: the one the call named, or (at least) the head of the
      // node that answered one reading the head.
      std::optional<uint64_t> read_at = named;
      if (!named && cfg.type == "evm") {
        uint64_t served = health->upstreams[u].head.value_or(0);
        if (call.method == "eth_blockNumber") served = std::max(served, quantity_of(reply.payload));
        if (served > 0) read_at = served;
        if (reads_head && served > 0) chain.heads.saw(client, served, Clock::now());
      }
      auto r = finish(Outcome::ok, jsonrpc::reply_in_place(std::move(res.body), reply.payload, call.id, false));
      r.block = read_at;
      co_return r;
    }
    if (!state_error.empty()) co_return finish(Outcome::rpc_error, std::move(state_error));
    if (too_large) {
      co_return finish(Outcome::rejected, jsonrpc::error_reply(call.id, jsonrpc::kReplyTooLarge,
                                                               fmt::format("the replies to this request exceed "
                                                                           "max_reply_bytes ({} bytes); split it",
                                                                           request_limits->max_reply_bytes)));
    }
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

asio::awaitable<void> Router::broadcast(LoopContext& loop, ChainRuntime& chain, std::string params, size_t except_slot,
                                        Clock::time_point deadline) {
  auto request_limits = limits();
  auto health = chain.health.load();
  const auto& set = *health->set;
  std::vector<Upstream*> targets;
  for (size_t i = 0; i < set.upstreams.size() && i < health->upstreams.size(); ++i) {
    const auto& up = set.upstreams[i];
    // Not to fallbacks: a provider gossips the transaction on its own network, and each call to it is billed.
    if (up->slot() != except_slot && health->upstreams[i].healthy && set.config->upstreams[i].tier == Tier::primary) {
      targets.push_back(up.get());
    }
  }
  co_await for_each_concurrently(loop.io, targets.size(), [&](size_t i) -> asio::awaitable<void> {
    uint64_t id = loop.next_id++;
    auto body = jsonrpc::upstream_request(id, "eth_sendRawTransaction", params);
    // Bounded by the client's deadline: a slow node gets the transaction later from the pool, or
    // from the client's next call; it must not hold the answer past the request's time.
    auto left = std::chrono::ceil<Duration>(deadline - Clock::now());
    auto timeout = std::max(Duration(1), std::min<Duration>(request_limits->upstream_timeout, left));
    auto res = co_await loop.client->post(*targets[i], std::move(body), timeout, {64 << 10});
    const char* outcome = "failed";
    if (res.ok() && res.status == 200) {
      auto reply = jsonrpc::parse_upstream_reply(res.body, id);
      // A node that already has it (from the pool's own gossip or an earlier broadcast) is fine.
      if (reply.kind == jsonrpc::UpstreamReply::Kind::result ||
          (reply.kind == jsonrpc::UpstreamReply::Kind::error &&
           chains::evm::is_already_known(reply.error_code, reply.error_message))) {
        outcome = "ok";
      } else if (reply.kind == jsonrpc::UpstreamReply::Kind::error) {
        outcome = "rejected";
      }
    }
    metrics_.count_broadcast(chain.index, outcome);
  }, 0, "transaction broadcast");
}

}  // namespace nodeops::gateway
