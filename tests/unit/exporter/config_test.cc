#include "exporter/config.h"

#include <gtest/gtest.h>

#include "core/config_reader.h"

namespace nodeops::exporter {
namespace {

TEST(ExporterConfig, FullFile) {
  auto o = parse_exporter_config(R"(
listen: 127.0.0.1:9300
interval: 2s
max_lag: 3
max_head_age: 30s
stall_after: 4m
reference: "http://10.0.0.1:8545"
data_dirs:
  - { path: /data }
  - { name: consensus, path: /consensus/, chain: ethereum }
targets:
  - { name: geth, type: evm, url: "http://127.0.0.1:8545", chain: ethereum }
  - { name: lh, type: beacon, url: "http://127.0.0.1:5052" }
  - { name: heimdall, type: heimdall, url: "http://127.0.0.1:26657", rest_url: "http://127.0.0.1:1317", max_lag: 10 }
)", "x.yaml");
  EXPECT_EQ(o.listen.port, 9300);
  EXPECT_EQ(o.interval.count(), 2000);
  EXPECT_EQ(o.max_lag, 3u);
  EXPECT_EQ(o.max_head_age.count(), 30000);
  EXPECT_EQ(o.stall_after.count(), 240000);
  ASSERT_EQ(o.targets.size(), 3u);
  EXPECT_EQ(o.targets[1].chain, "ethereum");
  EXPECT_EQ(o.targets[2].chain, "polygon");
  EXPECT_EQ(o.targets[2].rest_url, "http://127.0.0.1:1317");
  EXPECT_EQ(o.targets[2].max_lag, 10u);
  EXPECT_TRUE(finalize(o).empty());
  ASSERT_EQ(o.data_dirs.size(), 2u);
  EXPECT_EQ(o.data_dirs[0].name, "data");       // the directory's last component
  EXPECT_EQ(o.data_dirs[0].chain, "ethereum");  // the first target's chain
  EXPECT_EQ(o.data_dirs[1].name, "consensus");
}

TEST(ExporterConfig, GossipProbeKeys) {
  auto defaults = parse_exporter_config("targets: [{ type: solana, url: \"http://s:8899\" }]\n", "d.yaml");
  EXPECT_EQ(defaults.peers_interval.count(), 300000);
  EXPECT_EQ(defaults.peers_timeout.count(), 30000);
  EXPECT_EQ(defaults.peers_max_bytes, 16ull << 20);
  auto o = parse_exporter_config(R"(
peers_interval: 2m
peers_timeout: 10s
peers_max_bytes: 4MiB
targets: [{ type: solana, url: "http://s:8899" }]
)", "g.yaml");
  EXPECT_EQ(o.peers_interval.count(), 120000);
  EXPECT_EQ(o.peers_timeout.count(), 10000);
  EXPECT_EQ(o.peers_max_bytes, 4ull << 20);
  EXPECT_EQ(parse_exporter_config("peers_interval: 0\ntargets: [{ type: solana, url: \"http://s\" }]\n", "o.yaml")
                .peers_interval.count(),
            0);
  try {
    parse_exporter_config("peers_interval: 100ms\npeers_max_bytes: lots\ntargets: [{ type: solana, url: \"http://s\" }]\n",
                          "bad.yaml");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.errors.size(), 2u);
    EXPECT_EQ(e.errors[0].rfind("bad.yaml:1: peers_interval:", 0), 0u) << e.errors[0];
    EXPECT_EQ(e.errors[1].rfind("bad.yaml:2: peers_max_bytes:", 0), 0u) << e.errors[1];
  }
}

TEST(ExporterConfig, DataDirFlags) {
  std::string why;
  auto named = parse_data_dir_flag("accounts=/mnt/accounts", &why);
  ASSERT_TRUE(named);
  EXPECT_EQ(named->name, "accounts");
  EXPECT_EQ(named->path, "/mnt/accounts");
  auto plain = parse_data_dir_flag("/data/a=b", &why);  // '=' after the first '/' is part of the path
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->name, "");
  EXPECT_EQ(plain->path, "/data/a=b");
  EXPECT_FALSE(parse_data_dir_flag("x=", &why));

  ExporterOptions o;
  o.targets.push_back({.name = "geth", .type = "evm", .url = "http://127.0.0.1:8545", .chain = "ethereum"});
  o.data_dirs = {{.path = "/data"}, {.path = "/x/data"}};
  auto errors = finalize(o);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("duplicate data dir name 'data'"), std::string::npos) << errors[0];
}

TEST(ExporterConfig, ErrorsNameFileLineAndKey) {
  try {
    parse_exporter_config("interval: fast\ntargets:\n  - { type: bitcoin, url: \"ftp://x\" }\nbogus: 1\n", "e.yaml");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    std::string all;
    for (const auto& line : e.errors) all += line + "\n";
    EXPECT_NE(all.find("e.yaml:1"), std::string::npos) << all;
    EXPECT_NE(all.find("interval"), std::string::npos) << all;
    EXPECT_NE(all.find("e.yaml:3"), std::string::npos) << all;
    EXPECT_NE(all.find("bitcoin"), std::string::npos) << all;
    EXPECT_NE(all.find("bogus"), std::string::npos) << all;
  }
}

TEST(ExporterConfig, NoTargetsIsAnError) {
  EXPECT_THROW(parse_exporter_config("listen: :9200\n", "n.yaml"), ConfigError);
}

TEST(ExporterConfig, DuplicateNames) {
  EXPECT_THROW(parse_exporter_config("targets:\n  - { type: evm, url: \"http://a:1\" }\n"
                                     "  - { type: evm, url: \"http://b:1\" }\n", "d.yaml"),
               ConfigError);
}

TEST(TargetFlag, Forms) {
  std::string why;
  auto t = parse_target_flag("evm=http://127.0.0.1:8545", &why);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->type, "evm");
  EXPECT_EQ(t->name, "");
  EXPECT_EQ(t->url, "http://127.0.0.1:8545");
  t = parse_target_flag("lh:beacon=http://127.0.0.1:5052", &why);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->name, "lh");
  EXPECT_EQ(t->type, "beacon");
  t = parse_target_flag("heimdall=http://h:26657,http://h:1317", &why);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->url, "http://h:26657");
  EXPECT_EQ(t->rest_url, "http://h:1317");
  EXPECT_FALSE(parse_target_flag("http://127.0.0.1:8545", &why));
  EXPECT_FALSE(parse_target_flag("btc=http://x:1", &why));
  EXPECT_NE(why, "");
}

TEST(Finalize, DefaultsNamesAndChains) {
  ExporterOptions o;
  std::string why;
  o.targets.push_back(*parse_target_flag("evm=http://a:1", &why));
  o.targets.push_back(*parse_target_flag("evm=http://b:1", &why));
  o.targets.push_back(*parse_target_flag("solana=http://c:1", &why));
  EXPECT_TRUE(finalize(o).empty());
  EXPECT_EQ(o.targets[0].name, "evm-1");
  EXPECT_EQ(o.targets[1].name, "evm-2");
  EXPECT_EQ(o.targets[2].name, "solana");
  EXPECT_EQ(o.targets[2].chain, "solana");
  EXPECT_EQ(o.targets[0].chain, "ethereum");
}

TEST(Finalize, Problems) {
  ExporterOptions o;
  EXPECT_FALSE(finalize(o).empty());  // no target
  std::string why;
  o.targets.push_back(*parse_target_flag("evm=ftp://a:1", &why));  // (https is a valid target since issue 17)
  o.targets.push_back(*parse_target_flag("evm=http://b:1,http://c:2", &why));
  auto errors = finalize(o);
  EXPECT_EQ(errors.size(), 2u);
}

}  // namespace
}  // namespace nodeops::exporter
