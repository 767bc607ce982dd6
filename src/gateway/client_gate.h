// The checks every client request passes before the router does any work for it, cheapest first:
// who the client is (trusted_proxies), CORS (preflights answered here), the API key, then — once
// the body is parsed — the key's method allow-list and the request's weight against its token
// buckets. Refusals are JSON-RPC errors with the HTTP status that says why: 401 without a valid
// key, 403 for a chain, method or origin the key or listener does not allow, 429 with Retry-After
// over a limit.
//
// Metrics (one list, registered at construction): requests and refusals by key name — only the
// names in the keys file and `anonymous`, so a client cannot grow the label set — and by reason.
//
// Threads: admit/check_chain/charge/finish run on any traffic loop; the keys file is reloaded
// on the admin loop and read through immutable snapshots.
#pragma once

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/http.h"
#include "core/jsonrpc.h"
#include "core/metrics.h"
#include "gateway/api_keys.h"
#include "gateway/client_address.h"
#include "gateway/config.h"
#include "gateway/cors.h"
#include "gateway/rate_limit.h"
#include "gateway/rate_limit_shared.h"

namespace nodeops::gateway {

/// Why a request was refused (the `reason` of nodeops_gateway_client_rejections_total).
enum class Rejection { unauthorized, forbidden, rate_limited, origin };
constexpr std::array<const char*, 4> kRejectionNames = {"unauthorized", "forbidden", "rate_limited", "origin"};

/// @brief One key's series (or `anonymous`'s), every reason present from the start.
struct ClientSeries {
  metrics::Counter* requests = nullptr;
  std::array<metrics::Counter*, kRejectionNames.size()> rejections{};
};

/// @brief What the gate knows about one request while it is served.
struct Admission {
  std::string client;                  // the client's address (trusted_proxies applied)
  size_t loop = 0;                     // the traffic loop serving it (shared limits use its Redis connection)
  std::string_view path;               // the request's path without its key segment
  std::string_view origin;             // the CORS origin answers must name; empty: not a CORS request
  std::shared_ptr<const KeySet> keys;  // keeps `key` alive
  const ApiKey* key = nullptr;         // null: anonymous
  const ClientSeries* series = nullptr;
  /// Set when the gate answers by itself (a refusal, a preflight): send it as it is.
  std::optional<http::Response> answer;
  std::optional<Rejection> rejection;  // why, when `answer` is a refusal
};

class ClientGate {
 public:
  /// Loads the keys file when auth is on: throws ConfigError when it is broken.
  ClientGate(const GatewayConfig& config, metrics::Registry& registry);
  /// Starts watching the keys file on `admin` (the admin loop).
  void start(boost::asio::io_context& admin);
  /// The traffic loops, in order: with rate_limits.redis, each gets its connection to Redis.
  void attach_loops(const std::vector<boost::asio::io_context*>& loops);

  /// Before the chain is known and the body parsed: address, CORS, key, empty buckets.
  Admission admit(const http::Request& req, std::string_view path);
  /// Refuses (403) a key that may not use `chain`.
  bool check_chain(Admission& a, std::string_view chain);
  /// After parsing: calls whose method the key may not use become invalid (each answered
  /// -32021); the others' weight is taken from the request's buckets, or the request refused (429).
  /// With shared limits, the key's or address's bucket is in Redis (one round trip, on a.loop).
  boost::asio::awaitable<bool> charge(Admission& a, std::vector<jsonrpc::Call>& calls);
  /// The CORS headers every answer to a CORS request carries (refusals included, so that the
  /// page can read why).
  void finish(const Admission& a, http::Response& r) const;

  /// The client address of a request: trusted_proxies applied to its peer and X-Forwarded-For.
  std::string client_address(const http::Request& req) const;

 private:
  void refuse(Admission& a, Rejection why, int status, int code, std::string message);
  const ClientSeries& series_for(const std::string& name);  // creates it (admin loop, constructor)

  std::string mode_;
  TrustedProxies proxies_;
  CorsPolicy cors_;
  RateLimiter limiter_;
  std::unique_ptr<SharedRateLimiter> shared_;  // null: limits per replica
  std::mutex series_mu_;  // series_ grows on the admin loop; pointers into it stay valid
  std::map<std::string, std::unique_ptr<ClientSeries>, std::less<>> series_;
  metrics::Family<metrics::Counter>* requests_;
  metrics::Family<metrics::Counter>* rejections_;
  metrics::Gauge* keys_loaded_;
  std::array<metrics::Counter*, 2> reloads_{};  // ok, error
  const ClientSeries* anonymous_;
  std::unique_ptr<KeyStore> keys_;  // null: auth off
  Duration reload_interval_;
};

}  // namespace nodeops::gateway
