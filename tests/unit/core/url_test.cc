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

TEST(Url, RejectsWhatItCannotServeWithAReason) {
  std::string why;
  EXPECT_FALSE(parse_url("https://x", &why));
  EXPECT_NE(why.find("https"), std::string::npos);
  EXPECT_FALSE(parse_url("ftp://x", &why));
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
