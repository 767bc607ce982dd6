#include "gateway/client_gate.h"

#include <fmt/format.h>

#include <cmath>

namespace nodeops::gateway {
namespace {

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// "/<chain>/<key>" -> {"/<chain>", "<key>"}; any other path as it is, with no key.
std::pair<std::string_view, std::string_view> split_key_segment(std::string_view path) {
  if (path.size() < 2 || path.front() != '/') return {path, {}};
  auto slash = path.find('/', 1);
  if (slash == std::string_view::npos || slash == 1) return {path, {}};
  auto key = path.substr(slash + 1);
  if (key.empty() || key.find('/') != std::string_view::npos) return {path, {}};
  return {path.substr(0, slash), key};
}

}  // namespace

ClientGate::ClientGate(const GatewayConfig& config, metrics::Registry& r)
    : mode_(config.auth.mode),
      cors_(config.cors),
      limiter_(config.rate_limits),
      reload_interval_(config.auth.reload_interval) {
  std::vector<Cidr> ranges;
  for (const auto& text : config.trusted_proxies) {
    if (auto c = Cidr::parse(text)) ranges.push_back(*c);  // validated with the config
  }
  proxies_ = TrustedProxies(std::move(ranges));
  requests_ =
      &r.counter("nodeops_gateway_client_requests_total",
                 "Client requests by API key name (`anonymous` without a valid key), refused ones included.", {"key"});
  rejections_ = &r.counter("nodeops_gateway_client_rejections_total",
                           "Client requests refused before routing, by key name and reason (unauthorized, "
                           "forbidden, rate_limited, origin); forbidden also counts single calls of a method "
                           "the key may not use.",
                           {"key", "reason"});
  keys_loaded_ = &r.gauge("nodeops_gateway_api_keys", "API keys in the keys file in use.").labels({});
  auto& reloads =
      r.counter("nodeops_gateway_api_keys_reloads_total",
                "Keys file reloads after a change, by result (ok, error: the previous keys stay).", {"result"});
  reloads_ = {&reloads.labels({"ok"}), &reloads.labels({"error"})};
  auto& tracked = r.gauge("nodeops_gateway_rate_limit_tracked_addresses",
                          "Client addresses with a per-address token bucket (at most rate_limits.max_tracked_ips).")
                      .labels({});
  auto& evictions = r.counter("nodeops_gateway_rate_limit_evictions_total",
                              "Per-address token buckets dropped to stay within rate_limits.max_tracked_ips.")
                        .labels({});
  r.on_collect([this, &tracked, &evictions, last = uint64_t{0}]() mutable {
    const auto* a = limiter_.addresses();
    tracked.set(a ? static_cast<double>(a->tracked()) : 0);
    uint64_t now = a ? a->evictions() : 0;
    evictions.inc(static_cast<double>(now - last));
    last = now;
  });
  anonymous_ = &series_for("anonymous");
  auto shared_metrics = SharedLimitMetrics::declare(r);
  if (!config.rate_limits.redis.empty())
    shared_ = std::make_unique<SharedRateLimiter>(config.rate_limits, shared_metrics);
  r.on_collect([this, connected = shared_metrics.connected] {
    connected->set(shared_ ? static_cast<double>(shared_->connected()) : 0);
  });
  if (mode_ != "off") {
    KeyStore::Hooks hooks;
    hooks.prepare = [this](KeySet& next, const KeySet* previous) {
      for (auto& key : next.mutable_keys()) {
        key.series = &series_for(key.name);
        if (!key.rate.limited()) continue;
        // A key that stays keeps its bucket (and its tokens) across reloads.
        if (previous) {
          for (const auto& old : previous->keys()) {
            if (old.name == key.name && old.bucket) key.bucket = old.bucket;
          }
        }
        if (key.bucket)
          key.bucket->set_rate(key.rate);
        else
          key.bucket = std::make_shared<TokenBucket>(key.rate);
      }
      keys_loaded_->set(static_cast<double>(next.keys().size()));
    };
    hooks.reloaded = [this](bool ok) { reloads_[ok ? 0 : 1]->inc(); };
    keys_ = std::make_unique<KeyStore>(config.auth.keys_file, std::move(hooks));
  }
}

void ClientGate::start(boost::asio::io_context& admin) {
  if (keys_) keys_->watch(admin, reload_interval_);
}

void ClientGate::attach_loops(const std::vector<boost::asio::io_context*>& loops) {
  if (shared_) shared_->attach_loops(loops);
}

const ClientSeries& ClientGate::series_for(const std::string& name) {
  std::lock_guard lock(series_mu_);
  auto& slot = series_[name];
  if (!slot) {
    slot = std::make_unique<ClientSeries>();
    slot->requests = &requests_->labels({name});
    for (size_t i = 0; i < kRejectionNames.size(); ++i)
      slot->rejections[i] = &rejections_->labels({name, kRejectionNames[i]});
  }
  return *slot;
}

std::string ClientGate::client_address(const http::Request& req) const {
  return proxies_.client_address(req.peer_address, req.forwarded_for);
}

void ClientGate::refuse(Admission& a, Rejection why, int status, int code, std::string message) {
  a.series->rejections[static_cast<size_t>(why)]->inc();
  a.rejection = why;
  http::Response r;
  r.status = status;
  r.body = jsonrpc::error_reply("", code, message);
  a.answer = std::move(r);
}

Admission ClientGate::admit(const http::Request& req, std::string_view path) {
  Admission a;
  a.client = client_address(req);
  a.loop = req.loop;
  a.path = path;
  a.series = anonymous_;
  // CORS first: a preflight carries no key, and a page from an origin we refuse gets nothing.
  bool cors = cors_.enabled() && !req.origin.empty();
  if (cors) {
    if (!cors_.allows(req.origin)) {
      a.series->requests->inc();
      refuse(a, Rejection::origin, 403, jsonrpc::kForbidden,
             fmt::format("origin {} may not call this gateway (cors.allowed_origins)", req.origin));
      return a;
    }
    a.origin = req.origin;
    if (req.method == "OPTIONS") {
      http::Response r;
      r.status = 204;
      cors_.add_preflight_headers(r.headers);
      a.answer = std::move(r);
      return a;
    }
  }
  if (!keys_) {
    a.series->requests->inc();
  } else {
    // The key: Authorization: Bearer, then X-API-Key, then the path segment /<chain>/<key>.
    std::string_view presented;
    if (iequals_prefix(req.authorization, "bearer ")) presented = trim(std::string_view(req.authorization).substr(7));
    if (presented.empty()) presented = trim(req.api_key);
    auto [chain_path, segment] = split_key_segment(path);
    if (presented.empty() && !segment.empty()) presented = segment;
    if (!segment.empty()) a.path = chain_path;
    a.keys = keys_->current();
    a.key = a.keys->find(presented);
    if (a.key) a.series = a.key->series;
    a.series->requests->inc();
    if (!a.key && (!presented.empty() || mode_ == "required")) {
      refuse(a, Rejection::unauthorized, 401, jsonrpc::kUnauthorized,
             presented.empty() ? "an API key is required (Authorization: Bearer <key>, X-API-Key, or /<chain>/<key>)"
                               : "unknown API key");
      return a;
    }
  }
  if (auto no = limiter_.admits(a.key ? a.key->bucket.get() : nullptr, a.client, LimitClock::now())) {
    refuse(a, Rejection::rate_limited, 429, jsonrpc::kLimitExceeded, "rate limit exceeded; retry later");
    a.answer->headers.emplace_back(
        "Retry-After", std::to_string(std::max<int64_t>(1, static_cast<int64_t>(std::ceil(no->retry_after_seconds)))));
  }
  return a;
}

bool ClientGate::check_chain(Admission& a, std::string_view chain) {
  if (!a.key || a.key->allows_chain(chain)) return true;
  refuse(a, Rejection::forbidden, 403, jsonrpc::kForbidden, fmt::format("this API key may not use chain {}", chain));
  return false;
}

boost::asio::awaitable<bool> ClientGate::charge(Admission& a, std::vector<jsonrpc::Call>& calls) {
  double cost = 0;
  for (auto& call : calls) {
    if (call.invalid) continue;
    if (a.key && !a.key->allows_method(call.method)) {
      a.series->rejections[static_cast<size_t>(Rejection::forbidden)]->inc();
      call.invalid.emplace(jsonrpc::kForbidden, fmt::format("this API key may not call {}", call.method));
      continue;
    }
    cost += limiter_.weights().of(call.method);
  }
  TokenBucket* key_bucket = a.key ? a.key->bucket.get() : nullptr;
  std::optional<Refusal> no;
  // Shared: the client's own bucket is in Redis; the global cap stays this replica's. Redis
  // unavailable: the local buckets decide (fail open to per-replica limits).
  BucketRate shared_rate;
  std::string bucket;
  if (shared_ && cost > 0) {
    if (key_bucket) {
      shared_rate = a.key->rate;
      bucket = "key:" + a.key->name;
    } else if (limiter_.addresses()) {  // as locally: a key without its own limit counts by address
      shared_rate = limiter_.addresses()->rate();
      bucket = "ip:" + a.client;
    }
  }
  if (!bucket.empty()) {
    auto taken = co_await shared_->take(a.loop, bucket, shared_rate, cost);
    if (taken.result == SharedTake::Result::refused) {
      no = Refusal{key_bucket ? Refusal::Scope::key : Refusal::Scope::address, taken.retry_after_seconds};
    } else if (taken.result == SharedTake::Result::taken) {
      no = limiter_.take_global(cost, LimitClock::now());
    } else {
      no = limiter_.take(key_bucket, a.client, cost, LimitClock::now());
    }
  } else {
    no = limiter_.take(key_bucket, a.client, cost, LimitClock::now());
  }
  if (!no) co_return true;
  refuse(a, Rejection::rate_limited, 429, jsonrpc::kLimitExceeded, "rate limit exceeded; retry later");
  a.answer->headers.emplace_back(
      "Retry-After", std::to_string(std::max<int64_t>(1, static_cast<int64_t>(std::ceil(no->retry_after_seconds)))));
  co_return false;
}

void ClientGate::finish(const Admission& a, http::Response& r) const {
  if (!a.origin.empty()) cors_.add_response_headers(a.origin, r.headers);
}

}  // namespace nodeops::gateway
