#include "gateway/api_keys.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/config_reader.h"

using namespace nodeops;
using namespace nodeops::gateway;

namespace {
// A well-formed hash (of no key in particular).
const std::string kHash1 = "2f4b2b8a7c4ef0aa5fa3ad9d4b8d2a6a2c3f86ad5e8cf8bf1b2b8a1d5e1a0a17";

std::string hex(const KeyHash& h) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (auto b : h) {
    s += d[b >> 4];
    s += d[b & 15];
  }
  return s;
}

std::vector<std::string> errors_of(const std::string& text) {
  try {
    parse_key_file(text, "keys.yaml");
  } catch (const ConfigError& e) {
    return e.errors;
  }
  return {};
}
}  // namespace

TEST(ApiKeys, Sha256IsTheStandardOne) {
  EXPECT_EQ(hex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ApiKeys, FindsAKeyByWhatTheClientSends) {
  auto set = parse_key_file("keys:\n  - name: dapp\n    sha256: " + hex(sha256("s3cret")) +
                                "\n    chains: [eth]\n    methods: [eth_call, net_]\n    rps: 5\n    burst: 10\n"
                                "  - { name: other, sha256: " +
                                hex(sha256("other")) + " }\n",
                            "keys.yaml");
  ASSERT_EQ(set.keys().size(), 2u);
  const auto* k = set.find("s3cret");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->name, "dapp");
  EXPECT_EQ(k->rate.rps, 5);
  EXPECT_EQ(k->rate.burst, 10);
  EXPECT_TRUE(k->allows_chain("eth"));
  EXPECT_FALSE(k->allows_chain("polygon"));
  EXPECT_TRUE(k->allows_method("eth_call"));
  EXPECT_TRUE(k->allows_method("net_version")) << "a prefix rule";
  EXPECT_FALSE(k->allows_method("eth_getLogs"));
  EXPECT_EQ(set.find("other")->name, "other");
  EXPECT_TRUE(set.find("other")->allows_chain("anything")) << "no list: every chain";
  EXPECT_EQ(set.find(""), nullptr);
  EXPECT_EQ(set.find("s3cret "), nullptr);
  EXPECT_EQ(set.find(hex(sha256("s3cret"))), nullptr) << "the hash itself is not a key";
}

TEST(ApiKeys, ABrokenFileNamesLineAndKey) {
  auto errors = errors_of("keys:\n  - name: Bad Name\n    sha256: abc\n  - name: anonymous\n    sha256: " + kHash1 +
                          "\n    rsp: 4\n");
  std::string all;
  for (auto& e : errors) all += e + "\n";
  EXPECT_NE(all.find("keys.yaml:2: keys[0].name:"), std::string::npos) << all;
  EXPECT_NE(all.find("keys.yaml:3: keys[0].sha256: expected the 64 hex digits"), std::string::npos) << all;
  EXPECT_NE(all.find("'anonymous' is the label"), std::string::npos) << all;
  EXPECT_NE(all.find("did you mean rps?"), std::string::npos) << all;
  auto dup = errors_of("keys:\n  - { name: a, sha256: " + kHash1 + " }\n  - { name: a, sha256: " + kHash1 + " }\n");
  ASSERT_EQ(dup.size(), 2u);
  EXPECT_NE(dup[0].find("duplicate key name"), std::string::npos);
  EXPECT_NE(dup[1].find("listed twice"), std::string::npos);
  EXPECT_FALSE(errors_of("keys: [\n").empty()) << "broken YAML";
}

TEST(KeyStore, ReloadsAChangedFileAndKeepsTheOldKeysWhenTheNewFileIsBroken) {
  auto dir = std::filesystem::temp_directory_path() / ("keys-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = (dir / "keys.yaml").string();
  auto write = [&](const std::string& text) {
    std::ofstream(path + ".tmp") << text;
    std::filesystem::rename(path + ".tmp", path);  // a new inode, as a Secret update makes
  };
  write("keys:\n  - { name: one, sha256: " + hex(sha256("k1")) + " }\n");
  int ok = 0, failed = 0;
  KeyStore store(path, {nullptr, [&](bool good) { (good ? ok : failed)++; }});
  EXPECT_NE(store.current()->find("k1"), nullptr);
  EXPECT_FALSE(store.check()) << "unchanged";
  write("keys:\n  - { name: two, sha256: " + hex(sha256("k2")) + " }\n");
  EXPECT_TRUE(store.check());
  EXPECT_EQ(store.current()->find("k1"), nullptr);
  EXPECT_NE(store.current()->find("k2"), nullptr);
  write("keys:\n  - { name: three, sha256: nothex }\n");
  EXPECT_FALSE(store.check());
  EXPECT_NE(store.current()->find("k2"), nullptr) << "the broken file did not replace the good keys";
  std::filesystem::remove(path);
  EXPECT_FALSE(store.check());
  EXPECT_NE(store.current()->find("k2"), nullptr) << "nor did a missing file";
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(failed, 2);
  std::filesystem::remove_all(dir);
}

TEST(KeyStore, ABrokenFileAtStartIsAConfigError) { EXPECT_THROW(KeyStore("/nonexistent/keys.yaml", {}), ConfigError); }
