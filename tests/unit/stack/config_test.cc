#include "stack/config.h"

#include <gtest/gtest.h>

#include "core/config_reader.h"
#include "stack/stack.h"

using namespace nodeops;
using namespace nodeops::stack;

TEST(StackConfig, TheEmbeddedDefaultIsValid) {
  auto cfg = parse_stack_config(embedded_local_yaml(), "local.yaml");
  EXPECT_EQ(cfg.nodes.size(), 5u);
  EXPECT_EQ(cfg.chains(), (std::vector<std::string>{"ethereum", "polygon"}));
}

TEST(StackConfig, RejectsClashingPortsAndChainIds) {
  try {
    parse_stack_config("nodes:\n  - {name: a, chain: e, chain_id: 1, port: 1}\n  - {name: b, chain: e, chain_id: 2, port: 1}\n",
                       "s.yaml");
    FAIL() << "expected errors";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.errors.size(), 2u);
    EXPECT_NE(e.errors[0].find("two nodes cannot share a port"), std::string::npos);
    EXPECT_NE(e.errors[1].find("chain 'e' already has chain id 1"), std::string::npos);
  }
}

TEST(StackConfig, RendersAGatewayConfigWithOneChainPerPool) {
  auto cfg = parse_stack_config(embedded_local_yaml(), "local.yaml");
  auto text = render_gateway_config(cfg);
  EXPECT_NE(text.find("- name: polygon\n    chain_id: 137"), std::string::npos);
  EXPECT_NE(text.find("{ name: eth-c, url: \"http://127.0.0.1:8548\" }"), std::string::npos);
  auto prom = render_prometheus_config(cfg, {"/r/nodes.rules.yml"});
  EXPECT_NE(prom.find("job_name: nodeops-exporter"), std::string::npos);
  EXPECT_NE(prom.find("- '/r/nodes.rules.yml'"), std::string::npos);
}
