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

TEST(ConfigReader, AnUnknownKeySuggestsTheNearestKeyOfItsMap) {
  ConfigReader r("examples.yaml");
  auto root = r.load_text(
      "listen: 1.2.3.4:80\n"
      "limits:\n"
      "  max_body: 1MiB\n"
      "  max_batc: 5\n"          // one letter short
      "  request_timeuot: 2s\n"  // two letters swapped
      "  MaxAttempts: 2\n"       // another spelling of the same key
      "  colour: red\n"          // nothing like any key
      "lisen: 1.2.3.4:81\n");
  ASSERT_TRUE(root);
  root->string("listen", "");
  if (auto l = root->map("limits")) {
    l->size("max_body", 1);
    l->integer("max_batch", 100, 1, 1000);
    l->duration("request_timeout", Duration(1));
    l->integer("max_attempts", 3, 1, 10);
    l->finish();
  }
  root->finish();
  ASSERT_EQ(r.errors().size(), 5u);
  EXPECT_EQ(r.errors()[0], "examples.yaml:4: limits.max_batc: unknown key (did you mean max_batch?)");
  EXPECT_EQ(r.errors()[1], "examples.yaml:5: limits.request_timeuot: unknown key (did you mean request_timeout?)");
  EXPECT_EQ(r.errors()[2], "examples.yaml:6: limits.MaxAttempts: unknown key (did you mean max_attempts?)");
  EXPECT_EQ(r.errors()[3], "examples.yaml:7: limits.colour: unknown key");
  // Only keys of the same map are suggested: `lisen` is near `listen`, not any key of limits.
  EXPECT_EQ(r.errors()[4], "examples.yaml:8: lisen: unknown key (did you mean listen?)");
}

TEST(ConfigReader, ClosestKeyNeedsToBeClose) {
  std::set<std::string> keys = {"name", "url", "role", "weight", "pool", "max_inflight"};
  EXPECT_EQ(closest_key("urls", keys), "url");
  EXPECT_EQ(closest_key("wieght", keys), "weight");
  EXPECT_EQ(closest_key("max-inflight", keys), "max_inflight");
  EXPECT_EQ(closest_key("maxInFlight", keys), "max_inflight");
  EXPECT_EQ(closest_key("colour", keys), std::nullopt);
  EXPECT_EQ(closest_key("ab", keys), std::nullopt);  // 2 letters: one edit at most
  EXPECT_EQ(closest_key("max_inflights_per_loop", keys), std::nullopt);
}
