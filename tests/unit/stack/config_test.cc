#include "stack/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

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
  // nodeops up turns the response cache on.
  EXPECT_NE(text.find("cache:\n  enabled: true\n  max_bytes: 64MiB\n"), std::string::npos) << text;
  auto prom = render_prometheus_config(cfg, {"/r/nodes.rules.yml"});
  EXPECT_NE(prom.find("job_name: nodeops-exporter"), std::string::npos);
  EXPECT_NE(prom.find("- '/r/nodes.rules.yml'"), std::string::npos);
}

namespace {

/// A temp directory tree for path tests, removed at the end.
struct TempTree {
  TempTree() : root(std::filesystem::temp_directory_path() / ("nodeops-paths-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(root);
    std::filesystem::create_directories(root);
  }
  ~TempTree() { std::filesystem::remove_all(root); }
  std::filesystem::path file(const std::string& rel, const std::string& text = "") {
    auto p = root / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p;
  }
  std::filesystem::path root;
};

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

}  // namespace

TEST(StackPaths, RelativePathsAreRelativeToTheStackFile) {
  TempTree t;
  auto file = t.file("conf/stack.yaml",
                     "state_dir: state\nmonitoring_dir: ../mon\nanvil: bin/anvil\n"
                     "nodes:\n  - {name: a, chain: e, port: 1}\n");
  auto cfg = load_stack_config(file.string());
  EXPECT_EQ(cfg.state_dir, (t.root / "conf" / "state").string());
  EXPECT_EQ(cfg.monitoring_dir, (t.root / "mon").string());
  EXPECT_EQ(cfg.anvil, (t.root / "conf" / "bin" / "anvil").string());
  StackConfig abs;
  abs.state_dir = "/var/lib/x";
  resolve_paths(abs, t.root);
  EXPECT_EQ(abs.state_dir, "/var/lib/x");
}

TEST(StackPaths, TheDefaultAnvilIsTheCheckoutsToolsThenPath) {
  TempTree t;
  auto anvil = t.file(".tools/bin/anvil", "#!/bin/sh\n");
  std::filesystem::permissions(anvil, std::filesystem::perms::owner_all);
  auto file = t.file("examples/deep/stack.yaml", "monitoring: {enabled: false}\nnodes:\n  - {name: a, chain: e, port: 1}\n");
  auto cfg = load_stack_config(file.string());
  EXPECT_EQ(cfg.anvil, anvil.string());
  EXPECT_TRUE(check_stack_environment(cfg).empty());
}

TEST(StackPaths, MissingProgramsAndFilesAreNamedWithWhereItLookedAndWhatToDo) {
  TempTree t;
  auto file = t.file("stack.yaml", "monitoring_dir: mon\nnodes:\n  - {name: a, chain: e, port: 1}\n");
  const char* old_path = std::getenv("PATH");
  std::string saved = old_path ? old_path : "";
  setenv("PATH", (t.root / "nowhere").c_str(), 1);
  auto cfg = load_stack_config(file.string());
  auto errors = check_stack_environment(cfg);
  setenv("PATH", saved.c_str(), 1);
  ASSERT_EQ(errors.size(), 2u) << joined(errors);
  EXPECT_NE(errors[0].find(file.string() + ": anvil: anvil not found"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("make bootstrap"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find(file.string() + ": monitoring_dir: " + (t.root / "mon").string()), std::string::npos)
      << errors[1];

  auto named = t.file("named.yaml", "anvil: bin/anvil\nmonitoring: {enabled: false}\nnodes:\n  - {name: a, chain: e, port: 1}\n");
  auto cfg2 = load_stack_config(named.string());
  errors = check_stack_environment(cfg2);
  ASSERT_EQ(errors.size(), 1u) << joined(errors);
  EXPECT_NE(errors[0].find((t.root / "bin" / "anvil").string() + " is not an executable program"), std::string::npos);
}

TEST(StackPaths, TheEmbeddedDefaultBelongsToTheCheckoutAboveTheBinary) {
  TempTree t;
  t.file("repo/examples/local.yaml", "x");
  std::filesystem::create_directories(t.root / "repo" / "monitoring");
  auto dir = embedded_config_dir(t.root / "repo" / "build" / "release" / "nodeops");
  ASSERT_TRUE(dir);
  EXPECT_EQ(*dir, t.root / "repo" / "examples");
  auto cfg = embedded_stack_config(t.root / "repo" / "build" / "release" / "nodeops");
  EXPECT_EQ(cfg.state_dir, (t.root / "repo" / ".nodeops").string());
  EXPECT_EQ(cfg.monitoring_dir, (t.root / "repo" / "monitoring").string());

  // A binary outside any checkout, run from outside one: refused, saying where it looked.
  auto cwd = std::filesystem::current_path();
  std::filesystem::create_directories(t.root / "elsewhere" / "bin");
  std::filesystem::current_path(t.root / "elsewhere");
  std::vector<std::string> looked;
  EXPECT_FALSE(embedded_config_dir(t.root / "elsewhere" / "bin" / "nodeops", &looked));
  try {
    embedded_stack_config(t.root / "elsewhere" / "bin" / "nodeops");
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find((t.root / "elsewhere" / "bin").string()), std::string::npos) << what;
    EXPECT_NE(what.find("nodeops up -f FILE"), std::string::npos) << what;
  }
  std::filesystem::current_path(cwd);
  EXPECT_FALSE(looked.empty());
}

TEST(StackConfig, ANodeCannotHaveItsOwnBlockTimeInAPool) {
  try {
    parse_stack_config("nodes:\n  - {name: a, chain: e, port: 1, block_time_seconds: 1}\n"
                       "  - {name: b, chain: e, port: 2, block_time_seconds: 2}\n", "s.yaml");
    FAIL() << "expected errors";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.errors.size(), 1u);
    EXPECT_NE(e.errors[0].find("chain 'e' already has block_time_seconds 1"), std::string::npos) << e.errors[0];
  }
}
