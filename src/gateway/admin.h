// The admin port (cluster-internal only): /metrics, /status, /healthz, /readyz[/<chain>], the status page at
// /, and the bearer-protected rollout API under /admin/.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>
#include <vector>

#include "core/http.h"
#include "gateway/config.h"
#include "gateway/metrics.h"
#include "gateway/router.h"

namespace nodeops::gateway {

class AdminApi {
 public:
  AdminApi(const GatewayConfig& config, std::vector<std::unique_ptr<ChainRuntime>>& chains, GatewayMetrics& metrics,
           Router& router, boost::asio::io_context& io);
  ~AdminApi();
  /// Starts background work (rollout watchers, restoring persisted rollout state).
  void start();
  boost::asio::awaitable<http::Response> handle(http::Request& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nodeops::gateway
