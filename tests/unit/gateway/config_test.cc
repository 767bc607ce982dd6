#include "gateway/config.h"

#include <gtest/gtest.h>

#include "core/config_reader.h"
#include "core/redis.h"

#include <filesystem>
#include <fstream>

using namespace nodeops;
using namespace nodeops::gateway;

namespace {
std::vector<std::string> errors_of(const std::string& text) {
  try {
    parse_gateway_config(text, "gw.yaml");
  } catch (const ConfigError& e) {
    return e.errors;
  }
  return {};
}
}  // namespace

TEST(GatewayConfig, ReadsTheDocumentedExample) {
  auto cfg = parse_gateway_config(R"(
listen: 127.0.0.1:8545
admin_listen: 127.0.0.1:9100
limits: { max_body: 64KiB, max_batch: 10, request_timeout: 3s }
chains:
  - name: ethereum
    type: evm
    chain_id: 1
    max_lag_blocks: 5
    health_interval: 1s
    upstreams:
      - { name: a, url: "http://127.0.0.1:8546", role: full, weight: 1 }
      - { name: b, url: "http://127.0.0.1:8547", role: archive }
)", "gw.yaml");
  ASSERT_EQ(cfg.chains.size(), 1u);
  const auto& c = cfg.chains[0];
  EXPECT_EQ(c.chain_id, 1u);
  EXPECT_EQ(c.upstreams[1].role, Role::archive);
  EXPECT_EQ(c.upstreams[1].url.port, 8547);
  EXPECT_EQ(cfg.limits.max_body, 65536u);
  EXPECT_EQ(cfg.limits.max_batch, 10u);
  EXPECT_EQ(cfg.limits.request_timeout, Duration(3000));
  EXPECT_EQ(c.active_pool, "default");
}

TEST(GatewayConfig, EveryErrorNamesFileLineAndKey) {
  auto errors = errors_of(R"(listen: 127.0.0.1:8545
chains:
  - name: ethereum
    chain_id: one
    upstreams:
      - { name: a, url: "ftp://x:1" }
      - { name: a, url: "http://x:2", role: fast }
    colour: blue
)");
  ASSERT_EQ(errors.size(), 5u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0], "gw.yaml:4: chains[0].chain_id: expected an integer, got 'one'");
  EXPECT_NE(errors[1].find("gw.yaml:6: chains[0].upstreams[0].url: 'ftp://x:1': expected a URL like"), std::string::npos);
  EXPECT_EQ(errors[2], "gw.yaml:7: chains[0].upstreams[1].name: duplicate upstream 'a'");
  EXPECT_EQ(errors[3], "gw.yaml:7: chains[0].upstreams[1].role: expected full or archive, got 'fast'");
  EXPECT_EQ(errors[4], "gw.yaml:8: chains[0].colour: unknown key");
}

TEST(GatewayConfig, RejectsAdminOnTheTrafficPortAndMissingChainId) {
  auto errors = errors_of("listen: 0.0.0.0:80\nadmin_listen: 0.0.0.0:80\nchains:\n  - name: e\n    upstreams: [{name: a, url: \"http://h:1\"}]\n");
  ASSERT_EQ(errors.size(), 2u) << ::testing::PrintToString(errors);
  EXPECT_NE(errors[0].find("chain_id: is required"), std::string::npos);
  EXPECT_NE(errors[1].find("admin_listen: must differ from listen"), std::string::npos);
}

TEST(GatewayConfig, ActivePoolMustExist) {
  auto errors = errors_of("chains:\n  - name: e\n    chain_id: 1\n    active_pool: green\n    upstreams: [{name: a, url: \"http://h:1\", pool: blue}]\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("active_pool: no upstream is in pool 'green'"), std::string::npos);
}

TEST(GatewayConfig, MethodPolicyDeniesPrivateNamespacesUnlessAllowed) {
  ChainConfig c;
  EXPECT_TRUE(c.allows("eth_call"));
  for (auto m : {"admin_peers", "debug_traceTransaction", "personal_sign", "miner_start", "engine_newPayloadV3"}) {
    EXPECT_FALSE(c.allows(m)) << m;
  }
  c.allow_methods = {"debug_traceTransaction"};
  c.deny_methods = {"eth_sendRawTransaction", "txpool_"};
  EXPECT_TRUE(c.allows("debug_traceTransaction"));
  EXPECT_FALSE(c.allows("debug_traceCall"));
  EXPECT_FALSE(c.allows("eth_sendRawTransaction"));
  EXPECT_FALSE(c.allows("txpool_content"));
}

TEST(GatewayConfig, CacheKeysAndTheirErrors) {
  auto ok = parse_gateway_config(R"(cache: { enabled: true, max_bytes: 32MiB, max_entry_bytes: 512KiB, unfinal_ttl: 0s }
chains:
  - { name: eth, chain_id: 1, finality_depth: 64, upstreams: [{ name: a, url: "http://x:1" }] }
)", "gw.yaml");
  EXPECT_TRUE(ok.cache.enabled);
  EXPECT_EQ(ok.cache.max_bytes, 32u << 20);
  EXPECT_EQ(ok.cache.max_entry_bytes, 512u << 10);
  EXPECT_EQ(ok.cache.unfinal_ttl.count(), 0);
  EXPECT_EQ(ok.chains[0].finality_depth, 64u);

  auto errors = errors_of(R"(cache:
  enabled: yes please
  max_bytes: 1KiB
  max_entry_bytes: 1MiB
  ttl: 2s
chains:
  - name: sol
    type: solana
    finality_depth: 5
    upstreams: [{ name: a, url: "http://x:1" }]
)");
  ASSERT_EQ(errors.size(), 5u) << ::testing::PrintToString(errors);
  EXPECT_NE(errors[0].find("gw.yaml:2: cache.enabled:"), std::string::npos) << errors[0];
  EXPECT_EQ(errors[1], "gw.yaml:3: cache.max_bytes: must be at least 64KiB");
  EXPECT_EQ(errors[2], "gw.yaml:4: cache.max_entry_bytes: must be at most a sixteenth of max_bytes (the cache has 16 shards)");
  EXPECT_NE(errors[3].find("gw.yaml:5: cache.ttl: unknown key"), std::string::npos) << errors[3];
  EXPECT_EQ(errors[4], "gw.yaml:9: chains[0].finality_depth: only evm chains have a finality depth here");
}

TEST(GatewayConfig, ReadsThePublicEdge) {
  auto cfg = parse_gateway_config(R"(
trusted_proxies: [10.0.0.0/16, "fd00::/8"]
auth: { mode: required, keys_file: /etc/keys.yaml, reload_interval: 2s }
cors: { allowed_origins: ["https://app.example", "*"], max_age: 1m }
rate_limits:
  per_ip_rps: 10
  per_ip_burst: 20
  global_rps: 1000
  method_weights: [{ method: eth_getLogs, weight: 20 }, { method: debug_ }]
chains:
  - { name: eth, chain_id: 1, upstreams: [{ name: a, url: "http://127.0.0.1:8546" }] }
)", "gw.yaml");
  EXPECT_EQ(cfg.trusted_proxies.size(), 2u);
  EXPECT_EQ(cfg.auth.mode, "required");
  EXPECT_EQ(cfg.auth.keys_file, "/etc/keys.yaml");
  EXPECT_EQ(cfg.auth.reload_interval, Duration(2000));
  EXPECT_EQ(cfg.cors.allowed_origins.size(), 2u);
  EXPECT_EQ(cfg.cors.max_age, Duration(60000));
  EXPECT_EQ(cfg.rate_limits.per_ip_rps, 10);
  EXPECT_EQ(cfg.rate_limits.global_burst, 0);
  ASSERT_EQ(cfg.rate_limits.method_weights.size(), 2u);
  EXPECT_EQ(cfg.rate_limits.method_weights[1].weight, 1) << "default weight";
}

TEST(GatewayConfig, EdgeMistakesNameFileLineAndKey) {
  auto errors = errors_of(R"(trusted_proxies: [10.0.0.1/8, alb]
auth: { mode: on }
cors: { allowed_origins: ["https://app.example/"] }
rate_limits:
  per_ip_burst: 5
  method_weights: [{ method: eth_call, weight: 2 }, { method: eth_call, wieght: 3 }]
chains:
  - { name: eth, chain_id: 1, upstreams: [{ name: a, url: "http://127.0.0.1:8546" }] }
)");
  std::string all;
  for (auto& e : errors) all += e + "\n";
  EXPECT_NE(all.find("gw.yaml:1: trusted_proxies: '10.0.0.1/8': host bits are set; did you mean 10.0.0.0/8?"),
            std::string::npos) << all;
  EXPECT_NE(all.find("'alb': not an IPv4 or IPv6 address"), std::string::npos) << all;
  EXPECT_NE(all.find("gw.yaml:2: auth.mode: expected off, optional or required"), std::string::npos) << all;
  EXPECT_NE(all.find("gw.yaml:3: cors.allowed_origins: 'https://app.example/'"), std::string::npos) << all;
  EXPECT_NE(all.find("rate_limits.per_ip_burst: needs per_ip_rps"), std::string::npos) << all;
  EXPECT_NE(all.find("'eth_call' has a weight already"), std::string::npos) << all;
  EXPECT_NE(all.find("did you mean weight?"), std::string::npos) << all;
  auto no_file = errors_of("auth: { mode: optional }\nchains:\n  - { name: eth, chain_id: 1, upstreams: [{ name: a, url: "
                           "\"http://127.0.0.1:8546\" }] }\n");
  ASSERT_EQ(no_file.size(), 1u);
  EXPECT_NE(no_file[0].find("auth.keys_file: is required when mode is optional"), std::string::npos) << no_file[0];
}

namespace {
// A file in a fresh temporary directory, removed with it.
struct TempFiles {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("nodeops-config-test-" + std::to_string(::getpid()) + "-" +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  TempFiles() { std::filesystem::create_directories(dir); }
  ~TempFiles() { std::filesystem::remove_all(dir); }
  std::string write(const std::string& name, const std::string& text) {
    auto p = dir / name;
    std::ofstream(p) << text;
    return p.string();
  }
};
std::string provider_config(const std::string& upstream) {
  return "chains:\n  - name: eth\n    chain_id: 1\n    upstreams:\n      - { name: own, url: \"http://127.0.0.1:8545\" }\n"
         "      - " + upstream + "\n";
}
constexpr const char* kKey = "k3Y9a8b7c6d5e4f3g2h1";
}  // namespace

TEST(GatewayConfig, ProviderUpstreamReadsItsUrlAndHeadersFromFiles) {
  TempFiles files;
  auto url_file = files.write("url", std::string("https://eth-mainnet.provider.io/v2/") + kKey + "\n");
  auto headers_file = files.write("headers", std::string("# provider key\nX-Api-Key: ") + kKey + "\n\nX-Team: ops\n");
  auto cfg = parse_gateway_config(
      provider_config("{ name: prov, url_file: " + url_file + ", headers_file: " + headers_file +
                      ", tier: fallback, max_rps: 50, method_weights: { eth_getLogs: 75, eth_call: 26 } }"),
      "gw.yaml");
  const auto& up = cfg.chains[0].upstreams[1];
  EXPECT_TRUE(up.url.tls());
  EXPECT_TRUE(up.url.secret);
  EXPECT_EQ(up.url.target, std::string("/v2/") + kKey);
  EXPECT_EQ(up.url.shown().find(kKey), std::string::npos);
  ASSERT_EQ(up.headers.size(), 2u);
  EXPECT_EQ(up.headers[0], (std::pair<std::string, std::string>{"X-Api-Key", kKey}));
  EXPECT_EQ(up.tier, Tier::fallback);
  EXPECT_EQ(cfg.chains[0].upstreams[0].tier, Tier::primary);
  EXPECT_EQ(up.max_rps, 50);
  EXPECT_EQ(up.cost("eth_getLogs"), 75);
  EXPECT_EQ(up.cost("eth_blockNumber"), 1);
}

TEST(GatewayConfig, CredentialFileErrorsNameTheFileAndLineNeverTheSecret) {
  TempFiles files;
  auto bad_url = files.write("url", std::string("https://h/") + kKey + " with a space");
  auto bad_headers = files.write("headers", std::string("X-Api-Key: ok\nnot a header ") + kKey + "\n");
  auto framing = files.write("framing", std::string("Content-Length: ") + kKey + "\n");
  auto good_url = files.write("good", std::string("https://h/") + kKey);
  auto errors = errors_of(provider_config("{ name: p1, url_file: " + bad_url + " }\n      - { name: p2, url: \"https://h\", headers_file: " +
                                          bad_headers + " }\n      - { name: p3, url: \"https://h\", headers_file: " + framing +
                                          " }\n      - { name: p4, url_file: /nonexistent/url }\n      - { name: p5, url: \"https://h\", url_file: " +
                                          good_url + " }\n      - { name: p6, url: \"wss://h\", tier: backup }"));
  ASSERT_EQ(errors.size(), 6u) << ::testing::PrintToString(errors);
  for (const auto& e : errors) EXPECT_EQ(e.find(kKey), std::string::npos) << e;
  EXPECT_NE(errors[0].find("gw.yaml:6: chains[0].upstreams[1].url_file: '" + bad_url + "' does not hold a URL"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find("headers_file: '" + bad_headers + "' line 2: expected 'Name: value'"), std::string::npos) << errors[1];
  EXPECT_NE(errors[2].find("line 1: Content-Length is set by the gateway itself"), std::string::npos) << errors[2];
  EXPECT_NE(errors[3].find("url_file: cannot read '/nonexistent/url'"), std::string::npos) << errors[3];
  EXPECT_NE(errors[4].find("url_file: set url or url_file, not both"), std::string::npos) << errors[4];
  EXPECT_NE(errors[5].find("tier: expected primary or fallback, got 'backup'"), std::string::npos) << errors[5];
}

TEST(GatewayConfig, WebSocketUpstreamsForEvmChainsOnly) {
  auto evm = errors_of(provider_config("{ name: p, url: \"wss://node.example/ws\", ca_file: /etc/hostname }\n"
                                       "      - { name: q, url: \"ws://127.0.0.1:8546\" }"));
  EXPECT_TRUE(evm.empty()) << ::testing::PrintToString(evm);
  auto plain_ca = errors_of(provider_config("{ name: p, url: \"ws://h:1\", ca_file: /etc/hostname }"));
  ASSERT_EQ(plain_ca.size(), 1u) << ::testing::PrintToString(plain_ca);
  EXPECT_NE(plain_ca[0].find("ca_file: only https and wss upstreams use a ca_file"), std::string::npos) << plain_ca[0];
  auto solana = errors_of(
      "chains:\n  - name: sol\n    type: solana\n    upstreams:\n      - { name: s, url: \"wss://h:8900\" }\n");
  ASSERT_EQ(solana.size(), 1u) << ::testing::PrintToString(solana);
  EXPECT_NE(solana[0].find("gw.yaml:5: chains[0].upstreams[0].url: a solana chain's upstreams are reached over http(s)"),
            std::string::npos)
      << solana[0];
}

TEST(GatewayConfig, MethodWeightsNeedABudgetAndCaFileNeedsHttps) {
  auto errors = errors_of(provider_config("{ name: p, url: \"http://h:1\", ca_file: /etc/hostname, method_weights: { eth_call: 2 } }"));
  ASSERT_EQ(errors.size(), 2u) << ::testing::PrintToString(errors);
  EXPECT_NE(errors[0].find("ca_file: only https and wss upstreams use a ca_file"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find("method_weights: weigh calls against a budget: set max_rps too"), std::string::npos) << errors[1];
}

TEST(GatewayConfig, CredentialFilesMustBeSmallRegularFiles) {
  // A device or a FIFO would hang the load or never end: refused before it is opened.
  auto errors = errors_of(provider_config("{ name: p, url_file: /dev/zero, headers_file: /dev/null }"));
  ASSERT_EQ(errors.size(), 2u) << ::testing::PrintToString(errors);
  EXPECT_NE(errors[0].find("url_file: '/dev/zero' is not a regular file"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find("headers_file: '/dev/null' is not a regular file"), std::string::npos) << errors[1];
}

TEST(GatewayConfig, CacheRedisMustBeARedisUrl) {
  auto base = std::string("chains:\n  - { name: eth, chain_id: 1, upstreams: [{ name: a, url: \"http://127.0.0.1:8546\" }] }\n");
  auto ok = parse_gateway_config("cache: { enabled: true, redis: \"redis://cache.internal:6380/3\" }\n" + base, "gw.yaml");
  auto address = redis::parse_address(ok.cache.redis, nullptr);
  ASSERT_TRUE(address);
  EXPECT_EQ(address->host, "cache.internal");
  EXPECT_EQ(address->port, 6380);
  EXPECT_EQ(address->db, 3);
  EXPECT_EQ(redis::parse_address("redis://h", nullptr)->port, 6379);
  for (const char* bad : {"http://h:6379", "redis://h:0", "redis://h/16", "redis://user:pw@h"}) {
    auto errors = errors_of(std::string("cache: { redis: \"") + bad + "\" }\n" + base);
    ASSERT_EQ(errors.size(), 1u) << bad;
    EXPECT_NE(errors[0].find("gw.yaml:1: cache.redis: '"), std::string::npos) << errors[0];
  }
}

TEST(GatewayConfig, SharedRateLimitsNeedARedisUrl) {
  auto base = std::string("chains:\n  - { name: eth, chain_id: 1, upstreams: [{ name: a, url: \"http://127.0.0.1:8546\" }] }\n");
  auto off = parse_gateway_config(base, "gw.yaml");
  EXPECT_TRUE(off.rate_limits.redis.empty());
  EXPECT_EQ(off.rate_limits.redis_timeout, Duration(50));
  auto ok = parse_gateway_config(
      "rate_limits: { per_ip_rps: 5, redis: \"redis://limits:6379/1\", redis_timeout: 20ms }\n" + base, "gw.yaml");
  EXPECT_EQ(ok.rate_limits.redis, "redis://limits:6379/1");
  EXPECT_EQ(ok.rate_limits.redis_timeout, Duration(20));
  auto errors = errors_of("rate_limits: { redis: \"http://limits:6379\" }\n" + base);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("gw.yaml:1: rate_limits.redis: 'http://limits:6379'"), std::string::npos) << errors[0];
}

TEST(GatewayConfig, ListenTlsWantsBothFilesAndNamesTheBrokenOne) {
  auto base = std::string("chains:\n  - { name: eth, chain_id: 1, upstreams: [{ name: a, url: \"http://127.0.0.1:8546\" }] }\n");
  EXPECT_FALSE(parse_gateway_config(base, "gw.yaml").tls.enabled());
  auto dir = std::filesystem::temp_directory_path() / "nodeops-config-tls-test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "garbage.pem") << "not a certificate\n";
  auto only_cert = errors_of("tls: { cert_file: " + (dir / "garbage.pem").string() + " }\n" + base);
  ASSERT_EQ(only_cert.size(), 1u);
  EXPECT_NE(only_cert[0].find("gw.yaml:1: tls.key_file: cert_file and key_file go together"), std::string::npos)
      << only_cert[0];
  auto garbage = errors_of("tls: { cert_file: " + (dir / "garbage.pem").string() + ", key_file: " +
                           (dir / "garbage.pem").string() + " }\n" + base);
  ASSERT_EQ(garbage.size(), 1u);
  EXPECT_NE(garbage[0].find("gw.yaml:1: tls.cert_file: cannot load certificate"), std::string::npos) << garbage[0];
  auto missing = errors_of("tls: { cert_file: /nonexistent/tls.crt, key_file: /nonexistent/tls.key }\n" + base);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_NE(missing[0].find("gw.yaml:1: tls.cert_file: cannot read /nonexistent/tls.crt"), std::string::npos)
      << missing[0];
  auto device = errors_of("tls: { cert_file: /dev/zero, key_file: /dev/zero }\n" + base);
  ASSERT_EQ(device.size(), 1u);
  EXPECT_NE(device[0].find("is not a PEM file"), std::string::npos) << device[0];
  std::filesystem::remove_all(dir);
}

TEST(GatewayConfig, FiltersHaveGethLikeDefaultsAndCheckedBounds) {
  const std::string chains = "chains:\n  - name: e\n    chain_id: 1\n    upstreams: [{name: a, url: \"http://h:1\"}]\n";
  auto cfg = parse_gateway_config(chains, "gw.yaml");
  EXPECT_TRUE(cfg.filters.enabled);
  EXPECT_EQ(cfg.filters.timeout, Duration(300000));
  cfg = parse_gateway_config("filters: { enabled: false, timeout: 30s, max_per_client: 2, max_total: 5 }\n" + chains,
                             "gw.yaml");
  EXPECT_FALSE(cfg.filters.enabled);
  EXPECT_EQ(cfg.filters.timeout, Duration(30000));
  EXPECT_EQ(cfg.filters.max_per_client, 2u);
  EXPECT_EQ(cfg.filters.max_total, 5u);
  auto errors = errors_of("filters: { timeout: 10ms, max_per_client: 9, max_total: 3, size: 1 }\n" + chains);
  ASSERT_EQ(errors.size(), 3u) << ::testing::PrintToString(errors);
  EXPECT_NE(errors[0].find("gw.yaml:1: filters.timeout"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find("filters.max_per_client: must be at most max_total"), std::string::npos) << errors[1];
  EXPECT_NE(errors[2].find("filters.size: unknown key"), std::string::npos) << errors[2];
}

TEST(GatewayConfig, WebSocketCompressionIsOffOrOn) {
  const std::string chains = "chains:\n  - { name: eth, chain_id: 1, upstreams: [{ name: a, url: \"http://x:1\" }] }\n";
  EXPECT_FALSE(parse_gateway_config(chains, "gw.yaml").websocket.compression);  // off unless asked
  EXPECT_TRUE(parse_gateway_config("websocket: { compression: on }\n" + chains, "gw.yaml").websocket.compression);
  EXPECT_FALSE(parse_gateway_config("websocket: { compression: off }\n" + chains, "gw.yaml").websocket.compression);
  // What Helm (YAML 1.1) makes of on/off.
  EXPECT_TRUE(parse_gateway_config("websocket: { compression: true }\n" + chains, "gw.yaml").websocket.compression);
  auto errors = errors_of("websocket:\n  compression: gzip\n" + chains);
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0],
            "gw.yaml:2: websocket.compression: expected off or on (permessage-deflate with clients that offer it)");
}

// `rollout:`: peers for rollouts across replicas (gateway/rollout.h).
TEST(RolloutConfig, NoPeersByDefault) {
  auto cfg = parse_gateway_config(R"(listen: 127.0.0.1:8545
chains:
  - name: ethereum
    chain_id: 1
    upstreams: [{ name: a, url: "http://127.0.0.1:8546" }]
)", "gw.yaml");
  EXPECT_TRUE(cfg.rollout.peers.empty());
  EXPECT_EQ(cfg.rollout.sync_interval.count(), 5000);
}

TEST(RolloutConfig, ReadsPeersAndInterval) {
  auto cfg = parse_gateway_config(R"(admin_token_file: /run/token
rollout:
  peers: [nodeops-gateway-admin.nodeops-system.svc.cluster.local:9100, "[::1]:9101"]
  sync_interval: 2s
chains:
  - name: ethereum
    chain_id: 1
    upstreams: [{ name: a, url: "http://127.0.0.1:8546" }]
)", "gw.yaml");
  ASSERT_EQ(cfg.rollout.peers.size(), 2u);
  EXPECT_EQ(cfg.rollout.peers[0].host, "nodeops-gateway-admin.nodeops-system.svc.cluster.local");
  EXPECT_EQ(cfg.rollout.peers[0].port, 9100);
  EXPECT_EQ(cfg.rollout.peers[1].host, "::1");
  EXPECT_EQ(cfg.rollout.sync_interval.count(), 2000);
}

TEST(RolloutConfig, MistakesNameFileLineAndKey) {
  auto errors = errors_of(R"(admin_token_file: /run/token
rollout:
  peers: [nodeops-gateway-admin, ":9100"]
  sync_interval: 10ms
  peer: x
chains:
  - name: ethereum
    chain_id: 1
    upstreams: [{ name: a, url: "http://127.0.0.1:8546" }]
)");
  auto joined = ::testing::PrintToString(errors);
  EXPECT_NE(joined.find("gw.yaml:3: rollout.peers: 'nodeops-gateway-admin': expected host:port"), std::string::npos)
      << joined;
  EXPECT_NE(joined.find("':9100': expected host:port"), std::string::npos) << joined;
  EXPECT_NE(joined.find("gw.yaml:4: rollout.sync_interval"), std::string::npos) << joined;
  EXPECT_NE(joined.find("rollout.peer: unknown key"), std::string::npos) << joined;
}

TEST(RolloutConfig, PeersNeedTheAdminToken) {
  auto errors = errors_of(R"(rollout:
  peers: [gw-admin:9100]
chains:
  - name: ethereum
    chain_id: 1
    upstreams: [{ name: a, url: "http://127.0.0.1:8546" }]
)");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("rollout.peers: needs admin_token_file"), std::string::npos) << errors[0];
}
