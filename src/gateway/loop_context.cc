#include "gateway/loop_context.h"

namespace nodeops::gateway {

PooledUpstreamClient::PooledUpstreamClient(boost::asio::io_context& io,
                                           const std::vector<std::unique_ptr<ChainRuntime>>& chains,
                                           uint64_t max_reply)
    : io_(io), chains_(chains), max_reply_(max_reply), pools_(chains.size()), generation_(chains.size(), 0) {}

http::ClientPool& PooledUpstreamClient::pool_of(const Upstream& upstream) {
  auto c = upstream.chain_index();
  auto& pools = pools_[c];
  // A new set: close the idle connections of upstreams it no longer has (their pools' state
  // lives on in the calls still using them).
  auto set = chains_[c]->upstreams();
  if (set->generation != generation_[c]) {
    generation_[c] = set->generation;
    for (size_t slot = 0; slot < pools.size(); ++slot) {
      if (pools[slot] && !set->position_of_slot(slot) && slot != upstream.slot()) pools[slot].reset();
    }
  }
  if (upstream.slot() >= pools.size()) pools.resize(upstream.slot() + 1);
  auto& pool = pools[upstream.slot()];
  if (!pool) {
    const auto& url = upstream.config().url;
    pool = std::make_unique<http::ClientPool>(io_, url.host, url.port, 256, max_reply_,
                                              http::TlsOptions{url.tls(), upstream.config().ca_file},
                                              upstream.config().headers);
    pool->set_connections_gauge(&const_cast<Upstream&>(upstream).metrics.connections());
  }
  return *pool;
}

boost::asio::awaitable<http::ClientResponse> PooledUpstreamClient::post(const Upstream& upstream, std::string body,
                                                                        Duration timeout, http::ReplyLimits limits) {
  auto& pool = pool_of(upstream);
  co_return co_await pool.request("POST", upstream.config().url.target, std::move(body), timeout, "application/json",
                                  {}, limits);
}

LoopContext::LoopContext(boost::asio::io_context& i, std::unique_ptr<UpstreamClient> c,
                         const std::vector<std::unique_ptr<ChainRuntime>>& chains)
    : io(i), client(std::move(c)) {
  for (const auto& chain : chains) load.emplace_back(chain->upstreams()->upstreams.size());
}

}  // namespace nodeops::gateway
