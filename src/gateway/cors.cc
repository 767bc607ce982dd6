#include "gateway/cors.h"

#include <chrono>

namespace nodeops::gateway {
namespace {

// Origins compare case-insensitively in scheme and host (browsers send them lower-cased).
bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lo = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lo(a[i]) != lo(b[i])) return false;
  }
  return true;
}

}  // namespace

CorsPolicy::CorsPolicy(const CorsConfig& config)
    : max_age_(std::to_string(std::chrono::duration_cast<std::chrono::seconds>(config.max_age).count())) {
  for (const auto& o : config.allowed_origins) {
    if (o == "*")
      any_ = true;
    else
      origins_.push_back(o);
  }
}

bool CorsPolicy::allows(std::string_view origin) const {
  if (origin.empty() || !enabled() || any_) return true;
  for (const auto& o : origins_) {
    if (iequal(o, origin)) return true;
  }
  return false;
}

void CorsPolicy::add_response_headers(std::string_view origin, Headers& out) const {
  // The origin itself rather than "*", even when any origin may call: "*" is refused by browsers
  // for requests with credentials, and Vary keeps shared caches from serving one origin's answer
  // to another.
  out.emplace_back("Access-Control-Allow-Origin", std::string(origin));
  out.emplace_back("Vary", "Origin");
  // Scripts may read these on the answers, not only the body.
  out.emplace_back("Access-Control-Expose-Headers", "Retry-After, X-Cache");
}

void CorsPolicy::add_preflight_headers(Headers& out) const {
  out.emplace_back("Access-Control-Allow-Methods", "POST, OPTIONS");
  out.emplace_back("Access-Control-Allow-Headers", "Content-Type, Authorization, X-API-Key, Cache-Control");
  out.emplace_back("Access-Control-Max-Age", max_age_);
}

}  // namespace nodeops::gateway
