#include "core/config_reader.h"

#include <gtest/gtest.h>

using namespace nodeops;

TEST(ConfigReader, ReadsTypedValues) {
  ConfigReader r("test.yaml");
  auto root = r.load_text("listen: 1.2.3.4:80\ntimeout: 2s\nmax: 3\nbody: 64KiB\non: true\n");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->string("listen", ""), "1.2.3.4:80");
  EXPECT_EQ(root->duration("timeout", Duration(1)), Duration(2000));
  EXPECT_EQ(root->integer("max", 0, 0, 10), 3);
  EXPECT_EQ(root->size("body", 0), 65536u);
  EXPECT_TRUE(root->boolean("on", false));
  root->finish();
  EXPECT_TRUE(r.ok());
}

TEST(ConfigReader, NamesFileLineAndKeyForEveryError) {
  ConfigReader r("gw.yaml");
  auto root = r.load_text("listen: x\nchains:\n  - name: a\n    max_lag: lots\n    colour: red\ntimeout: 5\n");
  ASSERT_TRUE(root);
  for (auto& c : root->list("chains")) {
    c.string("name", "");
    c.integer("max_lag", 1, 0, 100);
    c.finish();
  }
  root->duration("timeout", Duration(1));
  root->string("listen", "");
  root->finish();
  ASSERT_EQ(r.errors().size(), 3u);
  EXPECT_EQ(r.errors()[0], "gw.yaml:4: chains[0].max_lag: expected an integer, got 'lots'");
  EXPECT_EQ(r.errors()[1], "gw.yaml:5: chains[0].colour: unknown key");
  EXPECT_EQ(r.errors()[2], "gw.yaml:6: timeout: expected a duration like 500ms, 5s or 2m, got '5'");
}

TEST(ConfigReader, ReportsYamlSyntaxErrorsWithALine) {
  ConfigReader r("bad.yaml");
  EXPECT_FALSE(r.load_text("a: [1, 2\nb: 3\n"));
  ASSERT_EQ(r.errors().size(), 1u);
  EXPECT_EQ(r.errors()[0].rfind("bad.yaml:", 0), 0u);
}

TEST(ConfigReader, RangeAndRequiredChecks) {
  ConfigReader r("c.yaml");
  auto root = r.load_text("n: 1000\n");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->integer("n", 7, 0, 10), 7);
  EXPECT_FALSE(root->required_string("name"));
  ASSERT_EQ(r.errors().size(), 2u);
  EXPECT_NE(r.errors()[0].find("out of range"), std::string::npos);
  EXPECT_NE(r.errors()[1].find("name: is required"), std::string::npos);
}

TEST(ConfigReader, RefusesAFileFarLargerThanAnyConfig) {
  ConfigReader r("huge.yaml");
  std::string text = "chains:\n";
  while (text.size() < (5 << 20)) text += "  - {name: a, url: \"http://127.0.0.1:1\"}\n";
  EXPECT_FALSE(r.load_text(text));
  ASSERT_EQ(r.errors().size(), 1u);
  EXPECT_NE(r.errors()[0].find("at most 4194304"), std::string::npos) << r.errors()[0];
}
