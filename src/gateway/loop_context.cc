#include "gateway/loop_context.h"

namespace nodeops::gateway {

PooledUpstreamClient::PooledUpstreamClient(boost::asio::io_context& io,
                                           const std::vector<std::unique_ptr<ChainRuntime>>& chains,
                                           uint64_t max_reply) {
  for (const auto& chain : chains) {
    auto& pools = pools_.emplace_back();
    for (const auto& up : chain->upstreams) {
      const auto& url = up->config().url;
      auto pool = std::make_unique<http::ClientPool>(io, url.host, url.port, 256, max_reply,
                                                     http::TlsOptions{url.tls(), up->config().ca_file},
                                                     up->config().headers);
      pool->set_connections_gauge(&up->metrics.connections());
      pools.push_back(std::move(pool));
    }
  }
}

boost::asio::awaitable<http::ClientResponse> PooledUpstreamClient::post(const Upstream& upstream, std::string body,
                                                                        Duration timeout, http::ReplyLimits limits) {
  auto& pool = *pools_[upstream.chain_index()][upstream.index()];
  co_return co_await pool.request("POST", upstream.config().url.target, std::move(body), timeout, "application/json",
                                  {}, limits);
}

LoopContext::LoopContext(boost::asio::io_context& i, std::unique_ptr<UpstreamClient> c,
                         const std::vector<std::unique_ptr<ChainRuntime>>& chains)
    : io(i), client(std::move(c)) {
  for (const auto& chain : chains) load.emplace_back(chain->upstreams.size());
}

}  // namespace nodeops::gateway
