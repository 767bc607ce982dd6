// `rollout:` in the gateway config: peers for rollouts across replicas (gateway/rollout.h).
#include <gtest/gtest.h>

#include "core/config_reader.h"
#include "gateway/config.h"

namespace nodeops::gateway {
namespace {

std::vector<std::string> errors_of(const std::string& text) {
  try {
    parse_gateway_config(text, "gw.yaml");
  } catch (const ConfigError& e) {
    return e.errors;
  }
  return {};
}

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

}  // namespace
}  // namespace nodeops::gateway
