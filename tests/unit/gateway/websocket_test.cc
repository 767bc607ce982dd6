#include "gateway/websocket.h"

#include <gtest/gtest.h>

#include "core/config_reader.h"

using namespace nodeops;
using namespace nodeops::gateway;
using Verdict = ConnectionCounts::Verdict;

TEST(ConnectionCounts, CapsEachAddressAndTheTotal) {
  ConnectionCounts counts(2, 3);
  EXPECT_EQ(counts.acquire("10.0.0.1"), Verdict::ok);
  EXPECT_EQ(counts.acquire("10.0.0.1"), Verdict::ok);
  EXPECT_EQ(counts.acquire("10.0.0.1"), Verdict::per_ip_limit);
  EXPECT_EQ(counts.acquire("10.0.0.2"), Verdict::ok);
  EXPECT_EQ(counts.acquire("10.0.0.3"), Verdict::max_connections);
  EXPECT_EQ(counts.total(), 3u);
  counts.release("10.0.0.1");
  EXPECT_EQ(counts.acquire("10.0.0.1"), Verdict::ok) << "a closed connection gives its slot back";
}

TEST(ConnectionCounts, KeepsOnlyConnectedAddresses) {
  ConnectionCounts counts(5, 100);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(counts.acquire("10.0.0." + std::to_string(i)), Verdict::ok);
  EXPECT_EQ(counts.addresses(), 50u);
  for (int i = 0; i < 50; ++i) counts.release("10.0.0." + std::to_string(i));
  EXPECT_EQ(counts.addresses(), 0u) << "a refused or departed address must not stay in the table";
  EXPECT_EQ(counts.total(), 0u);
  counts.release("10.9.9.9");  // never acquired: no effect, no underflow
  EXPECT_EQ(counts.total(), 0u);
}

TEST(WebSocketConfig, ReadsItsKeysAndRefusesNonsense) {
  auto cfg = parse_gateway_config(R"(
websocket: { max_connections_per_ip: 3, max_send_queue: 64KiB, max_message: 8KiB, ping_interval: 5s,
             idle_timeout: 2m, max_in_flight: 4, max_connections: 10, handshake_timeout: 3s }
chains:
  - { name: eth, chain_id: 1, upstreams: [{ name: a, url: "http://127.0.0.1:8545" }] }
)",
                                  "gw.yaml");
  EXPECT_TRUE(cfg.websocket.enabled);
  EXPECT_EQ(cfg.websocket.max_connections_per_ip, 3u);
  EXPECT_EQ(cfg.websocket.max_send_queue, 64u << 10);
  EXPECT_EQ(cfg.websocket.max_message, 8u << 10);
  EXPECT_EQ(cfg.websocket.ping_interval, Duration(5000));
  EXPECT_EQ(cfg.websocket.idle_timeout, Duration(120000));
  EXPECT_EQ(cfg.websocket.max_in_flight, 4u);
  try {
    parse_gateway_config(R"(
websocket:
  max_message: 10
  max_in_flight: 0
  pings: 5s
chains:
  - { name: eth, chain_id: 1, upstreams: [{ name: a, url: "http://127.0.0.1:8545" }] }
)",
                         "gw.yaml");
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    std::string all;
    for (const auto& s : e.errors) all += s + "\n";
    EXPECT_NE(all.find("gw.yaml:3: websocket.max_message"), std::string::npos) << all;
    EXPECT_NE(all.find("gw.yaml:4: websocket.max_in_flight"), std::string::npos) << all;
    EXPECT_NE(all.find("pings"), std::string::npos) << all;
  }
}
