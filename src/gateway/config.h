// The gateway's configuration: what docs/interfaces.md documents, typed and validated.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/units.h"
#include "core/url.h"

namespace nodeops::gateway {

enum class Role { full, archive };

/// Upstream batching (gateway/batcher.h): `on` and `automatic` coalesce light calls that wait for a
/// busy upstream into JSON-RPC batches; `automatic` stops for an upstream that answers a batch
/// as anything but a batch, `on` keeps trying. `off` sends every call alone.
enum class Batching { off, on, automatic };
/// primary: takes the chain's traffic. fallback (a paid provider): only calls no healthy primary
/// can serve — every primary down, lagging, open, saturated or out of budget, or the call needs a
/// block or archive state none of them has.
enum class Tier { primary, fallback };
constexpr std::array<const char*, 2> kTierNames = {"primary", "fallback"};
inline const char* tier_name(Tier t) { return kTierNames[static_cast<size_t>(t)]; }

struct UpstreamConfig {
  std::string name;
  /// From `url`, or read from `url_file` at load (then url.secret: its path is never shown).
  Url url;
  Role role = Role::full;
  double weight = 1;
  std::string pool = "default";
  uint32_t max_inflight = 256;  // calls in flight to it from every loop; more are sent elsewhere or shed
  Batching batching = Batching::automatic;
  /// Exchanges in flight to it from one traffic loop before further light calls queue and travel
  /// together as one batch when one of those returns: an idle upstream gets every call at once.
  uint32_t batch_threshold = 2;
  uint32_t batch_max_calls = 20;
  uint64_t batch_max_bytes = 256 << 10;  // request bytes of one batch
  Duration batch_wait{0};                // how long a queued call may wait for more (0: never waits for more)
  Tier tier = Tier::primary;
  /// Request budget (a provider's plan): units per second across every loop, a call costing its
  /// method's weight (1 unless method_weights says otherwise); 0 = no budget. Bursts up to one
  /// second's worth.
  double max_rps = 0;
  std::vector<std::pair<std::string, double>> method_weights;
  std::string ca_file;       // https: the CAs to trust instead of the system's
  std::string headers_file;  // where `headers` came from
  std::string url_file;      // where `url` came from
  /// Sent with every call and probe (an API key): read from headers_file, never shown.
  std::vector<std::pair<std::string, std::string>> headers;

  /// What one call of `method` costs of max_rps.
  double cost(std::string_view method) const {
    for (const auto& [m, w] : method_weights) {
      if (m == method) return w;
    }
    return 1;
  }

  bool operator==(const UpstreamConfig&) const = default;  // a reload compares them
};

/// Passive health from real traffic (the upstream's circuit breaker): out of rotation after
/// `consecutive_failures` failed calls in a row, or when at least `min_calls` calls in `window`
/// failed at `error_ratio` or more; back after `cooldown` (doubling per trip, up to
/// `max_cooldown`) and one successful trial call.
struct PassiveHealth {
  uint32_t consecutive_failures = 5;
  double error_ratio = 0.5;
  uint32_t min_calls = 20;
  Duration window{30000};
  Duration cooldown{5000};
  Duration max_cooldown{120000};

  bool operator==(const PassiveHealth&) const = default;  // a reload compares them
};

struct ChainConfig {
  std::string name;
  std::string type = "evm";       // evm | solana
  uint64_t chain_id = 0;          // evm only
  uint64_t max_lag_blocks = 5;    // slots for solana
  uint64_t archive_after_blocks = 128;
  Duration health_interval{1000};
  std::vector<std::string> allow_methods;  // exact names, or prefixes ending in "_"
  std::vector<std::string> deny_methods;
  std::string active_pool = "default";
  uint32_t min_healthy = 1;
  /// Blocks below the best head that count as final for the cache; 0 takes the nodes' own
  /// `finalized` tag (Ethereum, bor's milestones). evm only.
  uint64_t finality_depth = 0;
  PassiveHealth passive_health;
  std::vector<UpstreamConfig> upstreams;

  /// The chain's policy for one method: the default deny list, then deny_methods, then allow_methods.
  bool allows(std::string_view method) const;
  std::vector<std::string> pools() const;  // distinct pool names, in config order

  bool operator==(const ChainConfig&) const = default;  // a reload compares them
};

struct Limits {
  uint64_t max_body = 1 << 20;
  uint32_t max_batch = 100;
  Duration request_timeout{10000};
  Duration upstream_timeout{5000};
  uint32_t max_attempts = 3;
  Duration idle_timeout{75000};
  Duration read_timeout{10000};
  Duration drain_timeout{20000};
  uint32_t max_connections = 10000;    // client connections; more are closed at accept
  uint64_t max_reply_bytes = 64 << 20; // sum of the upstream replies of one client request
  uint32_t batch_concurrency = 16;     // calls of one batch sent at once
  uint64_t max_buffered_bytes = 256 << 20;  // upstream reply bytes held by all requests in progress

  bool operator==(const Limits&) const = default;  // a reload compares them
};

/// The in-process response cache (gateway/cache.h): final answers until evicted, unfinal ones
/// for `unfinal_ttl` at most and never past a head change. Off unless enabled (`nodeops up` enables it).
struct CacheConfig {
  bool enabled = false;
  uint64_t max_bytes = 256 << 20;
  uint64_t max_entry_bytes = 1 << 20;  // key + result; larger answers are not kept
  Duration unfinal_ttl{2000};
  /// The shared tier (`redis://host:port/db`, empty: none): final answers only, behind the local
  /// tier, so replicas share what any of them read. `redis_timeout` bounds each lookup;
  /// `redis_ttl` bounds what Redis holds without a maxmemory policy.
  std::string redis;
  Duration redis_timeout{50};
  Duration redis_ttl{86400000};

  bool operator==(const CacheConfig&) const = default;  // a reload compares them
};

/// Client API keys (gateway/api_keys.h): `off` ignores keys, `optional` serves requests without
/// a key as `anonymous` but refuses a wrong one, `required` refuses requests without a valid key.
struct AuthConfig {
  std::string mode = "off";  // off | optional | required
  std::string keys_file;     // YAML of hashed keys, reloaded when it changes
  Duration reload_interval{1000};  // how often the keys file is checked for a change

  bool operator==(const AuthConfig&) const = default;  // a reload compares them
};

/// Client-facing TLS on `listen` (core/http_tls.h): both files or neither. The pair is loaded
/// when the config is (a broken one is a config error) and again whenever the files change.
struct ListenTlsConfig {
  std::string cert_file;  // PEM certificate chain, leaf first (a Secret's tls.crt)
  std::string key_file;   // PEM private key (tls.key)
  Duration reload_interval{5000};  // how often the files are checked for a change
  bool enabled() const { return !cert_file.empty(); }
  bool operator==(const ListenTlsConfig&) const = default;  // a reload compares them
};

/// CORS for browser dapps (gateway/cors.h); no origins: no CORS headers, and no Origin refused.
struct CorsConfig {
  std::vector<std::string> allowed_origins;  // "https://app.example", or "*"
  Duration max_age{600000};                  // how long browsers may keep a preflight's answer

  bool operator==(const CorsConfig&) const = default;  // a reload compares them
};

struct MethodWeight {
  std::string method;  // exact name, or a prefix ending in "_"
  double weight = 1;

  bool operator==(const MethodWeight&) const = default;  // a reload compares them
};

/// Token buckets (gateway/rate_limit.h); an rps of 0 turns that limit off. A burst of 0 is one
/// second's worth. Per-key limits are in the keys file.
struct RateLimitConfig {
  double per_ip_rps = 0;    // requests without an API key, per client address
  double per_ip_burst = 0;
  double global_rps = 0;    // every request of this replica
  double global_burst = 0;
  uint32_t max_tracked_ips = 100000;  // per-address buckets kept (least recently used out)
  std::vector<MethodWeight> method_weights;  // what a call costs; 1 for other methods
  /// Shared limits (gateway/rate_limit_shared.h): `redis://host:port/db`, empty: per replica.
  /// Per-key and per-address buckets are then counted in Redis; `redis_timeout` bounds each check,
  /// after which the request is charged locally (fail open).
  std::string redis;
  Duration redis_timeout{50};

  bool operator==(const RateLimitConfig&) const = default;  // a reload compares them
};

/// Filters emulated by the gateway (gateway/filters.h): eth_newFilter and friends work whatever
/// node of the pool answers. `enabled: false` routes the filter methods to the nodes like any call.
struct FiltersConfig {
  bool enabled = true;
  Duration timeout{300000};     // a filter not polled for this long is removed (geth: 5 minutes)
  uint32_t max_per_client = 100;  // filters one client address may hold; more: -32005
  uint32_t max_total = 10000;     // filters of every client together; more: -32005

  bool operator==(const FiltersConfig&) const = default;  // a reload compares them
};

/// WebSocket on the traffic port (gateway/websocket.h; core/websocket.h for how a connection runs).
struct WebSocketConfig {
  bool enabled = true;
  uint32_t max_connections = 5000;        // WebSocket connections of this replica; more are refused (503)
  uint32_t max_connections_per_ip = 100;  // per client address (trusted_proxies applied); more: 429
  uint64_t max_message = 1 << 20;         // one client message, all its frames; more: close 1009
  uint64_t max_send_queue = 4 << 20;      // bytes waiting to be sent to one client; more: close 1008
  uint32_t max_in_flight = 64;            // messages of one connection answered at once
  uint32_t max_subscriptions_per_connection = 100;  // eth_subscribe/slotSubscribe held at once; more: -32005
  Duration idle_timeout{600000};          // no message either way: close 1000
  Duration ping_interval{20000};          // ping after this much client silence (below the ALB's 60 s)
  Duration handshake_timeout{10000};      // opening and closing handshakes
  // permessage-deflate (RFC 7692) with clients that offer it: `compression: on`. Off by default:
  // zlib state costs memory on every connection (up to ~170 KiB) and CPU on every message; it
  // pays for large notifications (blocks, logs) over thin client links.
  bool compression = false;

  bool operator==(const WebSocketConfig&) const = default;  // a reload compares them
};

/// Rollouts across replicas (gateway/rollout.h): the admin addresses of the other replicas, asked
/// for the fleet's rollout state at start-up and every sync_interval, so a replica that starts
/// during or after a coordinated switch joins it. A name resolves to every replica (every A/AAAA
/// record: the chart's headless admin Service); this replica's own answer is recognised and skipped.
struct RolloutConfig {
  std::vector<HostPort> peers;
  Duration sync_interval{5000};
  bool operator==(const RolloutConfig&) const = default;
};

struct GatewayConfig {
  HostPort listen{"127.0.0.1", 8545};
  HostPort admin_listen{"127.0.0.1", 9100};
  ListenTlsConfig tls;  // off unless cert_file and key_file are set
  uint32_t threads = 0;
  std::string admin_token_file;
  std::string state_file;
  std::string log_level = "info";
  Limits limits;
  CacheConfig cache;
  /// Peers whose X-Forwarded-For names the client (CIDRs: the ALB's subnets); empty: none.
  std::vector<std::string> trusted_proxies;
  AuthConfig auth;
  CorsConfig cors;
  RateLimitConfig rate_limits;
  FiltersConfig filters;
  WebSocketConfig websocket;
  RolloutConfig rollout;
  std::vector<ChainConfig> chains;

  const ChainConfig* chain(std::string_view name) const;

  bool operator==(const GatewayConfig&) const = default;  // a reload compares them
};

/// Loads and validates a config file. Throws ConfigError listing every problem as file:line: key: message.
GatewayConfig load_gateway_config(const std::string& path);
/// Same, from text (tests, and configs embedded in the binary); `name` is used in messages.
GatewayConfig parse_gateway_config(const std::string& text, const std::string& name);

/// Reads a headers_file: one `Name: value` per line, blank lines and `#` comments skipped. On a
/// bad line, nullopt and `why` names the line (never the value: it is a credential).
std::optional<std::vector<std::pair<std::string, std::string>>> parse_headers_file(std::string_view text,
                                                                                 std::string& why);

}  // namespace nodeops::gateway
