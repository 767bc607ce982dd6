// CORS for browser dapps: which origins may call the gateway from a page, the answer to a
// preflight (OPTIONS), and the headers every answer to such a page carries.
//
// A browser sends `Origin` on cross-origin calls and first asks with a preflight when the call
// has a JSON body or an Authorization/X-API-Key header. An origin not listed is refused with 403
// (the browser would hide the answer anyway; refusing saves the upstream work). Requests without
// Origin (servers, curl, wallets' backends) are not CORS requests and pass untouched.
//
// Immutable after construction; any thread.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/config.h"

namespace nodeops::gateway {

class CorsPolicy {
 public:
  using Headers = std::vector<std::pair<std::string, std::string>>;
  explicit CorsPolicy(const CorsConfig& config);

  /// No origins configured: no CORS headers, nothing refused.
  bool enabled() const { return !origins_.empty() || any_; }
  /// Whether a request with this Origin (empty: none) may be served.
  bool allows(std::string_view origin) const;
  /// The headers of an answer to a request from `origin` (allowed, non-empty).
  void add_response_headers(std::string_view origin, Headers& out) const;
  /// The extra headers of a preflight answer (methods, request headers, max age).
  void add_preflight_headers(Headers& out) const;

 private:
  std::vector<std::string> origins_;
  bool any_ = false;
  std::string max_age_;
};

}  // namespace nodeops::gateway
