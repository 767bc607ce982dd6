#include "gateway/client_address.h"

#include <gtest/gtest.h>

using namespace nodeops::gateway;

namespace {
TrustedProxies proxies(std::initializer_list<const char*> ranges) {
  std::vector<Cidr> out;
  for (const char* r : ranges) {
    auto c = Cidr::parse(r);
    EXPECT_TRUE(c) << r;
    if (c) out.push_back(*c);
  }
  return TrustedProxies(std::move(out));
}
}  // namespace

TEST(IpAddress, ParsesV4V6AndHopForms) {
  EXPECT_EQ(IpAddress::parse("10.1.2.3")->to_string(), "10.1.2.3");
  EXPECT_EQ(IpAddress::parse(" 2001:DB8::1 ")->to_string(), "2001:db8::1");
  EXPECT_EQ(IpAddress::parse("::ffff:10.1.2.3")->to_string(), "10.1.2.3") << "IPv4-mapped is IPv4";
  EXPECT_EQ(IpAddress::parse("10.1.2.3:8080")->to_string(), "10.1.2.3");
  EXPECT_EQ(IpAddress::parse("[2001:db8::1]:443")->to_string(), "2001:db8::1");
  for (const char* bad : {"", "unknown", "10.1.2", "10.1.2.3:", "10.1.2.3:abc", "[10.1.2.3]:1", "2001:db8::1:80x",
                          "[2001:db8::1", "1.2.3.4.5", "_hidden"}) {
    EXPECT_FALSE(IpAddress::parse(bad)) << bad;
  }
}

TEST(Cidr, MatchesIpv4AndIpv6Ranges) {
  auto v4 = *Cidr::parse("10.0.0.0/8");
  EXPECT_TRUE(v4.contains(*IpAddress::parse("10.255.1.2")));
  EXPECT_TRUE(v4.contains(*IpAddress::parse("::ffff:10.0.0.1")));
  EXPECT_FALSE(v4.contains(*IpAddress::parse("11.0.0.1")));
  EXPECT_FALSE(v4.contains(*IpAddress::parse("::a00:1"))) << "an IPv6 address is not in an IPv4 range";
  auto odd = *Cidr::parse("192.168.4.0/22");
  EXPECT_TRUE(odd.contains(*IpAddress::parse("192.168.7.255")));
  EXPECT_FALSE(odd.contains(*IpAddress::parse("192.168.8.0")));
  auto v6 = *Cidr::parse("fd00::/8");
  EXPECT_TRUE(v6.contains(*IpAddress::parse("fd12:3456::1")));
  EXPECT_FALSE(v6.contains(*IpAddress::parse("fe80::1")));
  EXPECT_FALSE(v6.contains(*IpAddress::parse("10.0.0.1")));
  auto host = *Cidr::parse("2001:db8::7");
  EXPECT_TRUE(host.contains(*IpAddress::parse("2001:db8::7")));
  EXPECT_FALSE(host.contains(*IpAddress::parse("2001:db8::8")));
  EXPECT_TRUE(Cidr::parse("0.0.0.0/0")->contains(*IpAddress::parse("8.8.8.8")));
}

TEST(Cidr, RefusesWhatIsNotARange) {
  std::string why;
  EXPECT_FALSE(Cidr::parse("10.0.0.0/33", &why));
  EXPECT_NE(why.find("at most 32"), std::string::npos) << why;
  EXPECT_FALSE(Cidr::parse("10.1.2.3/8", &why));
  EXPECT_NE(why.find("did you mean 10.0.0.0/8"), std::string::npos) << why;
  EXPECT_FALSE(Cidr::parse("alb.internal", &why));
  EXPECT_FALSE(Cidr::parse("10.0.0.0/", &why));
  EXPECT_FALSE(Cidr::parse("fd00::/129", &why));
}

TEST(TrustedProxies, AnUntrustedPeerIsTheClientWhateverItsHeaderSays) {
  auto p = proxies({"10.0.0.0/8"});
  EXPECT_EQ(p.client_address("203.0.113.9", "1.2.3.4"), "203.0.113.9");
  EXPECT_EQ(TrustedProxies().client_address("10.0.0.1", "1.2.3.4"), "10.0.0.1") << "no trusted proxies";
  EXPECT_EQ(p.client_address("10.0.0.1", ""), "10.0.0.1") << "a trusted peer without a header";
}

TEST(TrustedProxies, TheRightMostUntrustedHopIsTheClient) {
  auto p = proxies({"10.0.0.0/8", "fd00::/8"});
  // The client wrote "6.6.6.6" itself; the ALB appended the address it saw.
  EXPECT_EQ(p.client_address("10.0.0.5", "6.6.6.6, 198.51.100.7"), "198.51.100.7");
  // Two proxies of ours: the inner one appended the outer one's address.
  EXPECT_EQ(p.client_address("10.0.0.5", "6.6.6.6, 198.51.100.7, 10.0.9.9"), "198.51.100.7");
  EXPECT_EQ(p.client_address("fd00::5", "2001:db8::42, fd00::1"), "2001:db8::42");
  EXPECT_EQ(p.client_address("::ffff:10.0.0.5", "198.51.100.7"), "198.51.100.7") << "mapped peer";
  // Every hop is ours: the left-most is as far as we can see.
  EXPECT_EQ(p.client_address("10.0.0.5", "10.1.1.1, 10.2.2.2"), "10.1.1.1");
  // Empty list items are skipped.
  EXPECT_EQ(p.client_address("10.0.0.5", "198.51.100.7, , "), "198.51.100.7");
}

TEST(TrustedProxies, GarbageInTheHeaderStopsAtTheLastTrustedHop) {
  auto p = proxies({"10.0.0.0/8"});
  EXPECT_EQ(p.client_address("10.0.0.5", "198.51.100.7, not-an-ip"), "10.0.0.5");
  EXPECT_EQ(p.client_address("10.0.0.5", "garbage, 10.3.3.3"), "10.3.3.3");
  EXPECT_EQ(p.client_address("10.0.0.5", "198.51.100.7:5555"), "198.51.100.7") << "a port is dropped";
}
