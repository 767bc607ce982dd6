#include "core/url.h"

#include <gtest/gtest.h>

using namespace nodeops;

TEST(Url, ParsesHostPortAndPath) {
  auto u = parse_url("http://node-0.geth:8545/rpc");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "node-0.geth");
  EXPECT_EQ(u->port, 8545);
  EXPECT_EQ(u->target, "/rpc");
  auto d = parse_url("http://127.0.0.1");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->port, 80);
  EXPECT_EQ(d->target, "/");
}

TEST(Url, ParsesHttpsAndWebSocketSchemesWithTheirDefaultPorts) {
  auto s = parse_url("https://eth-mainnet.provider.io/v2/abc");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->tls());
  EXPECT_EQ(s->port, 443);
  EXPECT_EQ(s->host, "eth-mainnet.provider.io");
  EXPECT_EQ(s->target, "/v2/abc");
  EXPECT_EQ(s->str(), "https://eth-mainnet.provider.io:443/v2/abc");
  auto w = parse_url("wss://node:8546");
  ASSERT_TRUE(w);
  EXPECT_TRUE(w->tls());
  EXPECT_EQ(w->scheme, Url::Scheme::wss);
  EXPECT_EQ(w->port, 8546);
  auto plain = parse_url("ws://node");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->tls());
  EXPECT_EQ(plain->port, 80);
  auto q = parse_url("https://h?apikey=1");  // a query and no path
  ASSERT_TRUE(q);
  EXPECT_EQ(q->host, "h");
  EXPECT_EQ(q->target, "/?apikey=1");
}

TEST(Url, ShownNeverPrintsTheKeyAUrlHolds) {
  const std::string key = "k3Y9a8b7c6d5e4f3g2h1";
  auto secret = *parse_url("https://eth-mainnet.provider.io/v2/" + key);
  secret.secret = true;  // read from a url_file
  EXPECT_EQ(secret.shown(), "https://eth-mainnet.provider.io:443/<redacted>");
  EXPECT_NE(secret.str().find(key), std::string::npos);  // requests still carry it

  // Written in the config, a key-looking path segment and every query value are still hidden.
  auto inline_key = *parse_url("https://rpc.example/v3/" + key + "/?apikey=" + key + "&network=main");
  EXPECT_EQ(inline_key.shown().find(key), std::string::npos) << inline_key.shown();
  EXPECT_EQ(inline_key.shown(), "https://rpc.example:443/v3/<redacted>/?apikey=<redacted>&network=<redacted>");
  // What is not a key stays readable.
  EXPECT_EQ(parse_url("http://node-0.geth:8545/rpc")->shown(), "http://node-0.geth:8545/rpc");
  EXPECT_EQ(parse_url("http://127.0.0.1:8545")->shown(), "http://127.0.0.1:8545");
}

TEST(Url, ParseErrorsNeverRepeatTheText) {
  std::string why;
  const std::string key = "SECRETKEY123456789";
  for (auto text : {"https://us:" + key + "@h/", "https://h:" + key + "/", "https://h/" + key + " x", "gopher://" + key}) {
    EXPECT_FALSE(parse_url(text, &why)) << text;
    EXPECT_EQ(why.find(key), std::string::npos) << why;
  }
}

TEST(Url, RejectsWhatItCannotServeWithAReason) {
  std::string why;
  EXPECT_FALSE(parse_url("ftp://x", &why));
  EXPECT_NE(why.find("https"), std::string::npos);  // the hint names the schemes it takes
  EXPECT_FALSE(parse_url("http://:80", &why));
  EXPECT_FALSE(parse_url("http://host:99999", &why));
  EXPECT_FALSE(parse_url("http://us:pw@host", &why));
  EXPECT_FALSE(parse_url("http://host/a\r\nX-Injected: 1", &why));
  EXPECT_FALSE(parse_url("http://host/a b", &why));
}

TEST(Url, ParsesListenAddresses) {
  auto a = parse_host_port(":9200");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "0.0.0.0");
  EXPECT_EQ(a->port, 9200);
  auto b = parse_host_port("[::1]:8545");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_FALSE(parse_host_port("localhost"));
  EXPECT_FALSE(parse_host_port("h:0"));
}
