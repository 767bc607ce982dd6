#include "gateway/cors.h"

#include <gtest/gtest.h>

using namespace nodeops::gateway;

namespace {
std::string header(const CorsPolicy::Headers& h, std::string_view name) {
  for (const auto& [k, v] : h) {
    if (k == name) return v;
  }
  return "<absent>";
}
}  // namespace

TEST(Cors, OffWithoutOrigins) {
  CorsPolicy p(CorsConfig{});
  EXPECT_FALSE(p.enabled());
  EXPECT_TRUE(p.allows("https://evil.example"));
}

TEST(Cors, ListedOriginsOnly) {
  CorsConfig c;
  c.allowed_origins = {"https://app.example", "http://localhost:3000"};
  CorsPolicy p(c);
  EXPECT_TRUE(p.allows("https://app.example"));
  EXPECT_TRUE(p.allows("HTTPS://APP.EXAMPLE"));
  EXPECT_TRUE(p.allows("http://localhost:3000"));
  EXPECT_FALSE(p.allows("http://localhost:3001"));
  EXPECT_FALSE(p.allows("https://app.example.evil.com"));
  EXPECT_FALSE(p.allows("null"));
  EXPECT_TRUE(p.allows("")) << "no Origin: not a CORS request";
  CorsPolicy::Headers h;
  p.add_response_headers("https://app.example", h);
  EXPECT_EQ(header(h, "Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_EQ(header(h, "Vary"), "Origin");
  CorsPolicy::Headers pre;
  p.add_preflight_headers(pre);
  EXPECT_EQ(header(pre, "Access-Control-Max-Age"), "600");
  EXPECT_NE(header(pre, "Access-Control-Allow-Headers").find("X-API-Key"), std::string::npos);
  EXPECT_NE(header(pre, "Access-Control-Allow-Methods").find("POST"), std::string::npos);
}

TEST(Cors, StarAllowsAnyOriginAndNamesIt) {
  CorsConfig c;
  c.allowed_origins = {"*"};
  CorsPolicy p(c);
  EXPECT_TRUE(p.allows("https://anything.example"));
  CorsPolicy::Headers h;
  p.add_response_headers("https://anything.example", h);
  EXPECT_EQ(header(h, "Access-Control-Allow-Origin"), "https://anything.example");
}
