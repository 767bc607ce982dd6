#include "gateway/loop_context.h"

namespace nodeops::gateway {

PooledUpstreamClient::PooledUpstreamClient(boost::asio::io_context& io,
                                           const std::vector<std::unique_ptr<ChainRuntime>>& chains,
                                           uint64_t max_reply)
    : io_(io), chains_(chains), max_reply_(max_reply), routes_(chains.size()), generation_(chains.size(), 0) {}

PooledUpstreamClient::Route& PooledUpstreamClient::route_of(const Upstream& upstream) {
  auto c = upstream.chain_index();
  auto& routes = routes_[c];
  // A new set: close the connections of upstreams it no longer has (a pool's state lives on in
  // the calls still using it). A call that picked a removed upstream from the previous set keeps
  // that one's route, which the next call prunes: the set counts as pruned only once none is left.
  auto set = chains_[c]->upstreams();
  if (set->generation != generation_[c]) {
    bool pruned = true;
    for (size_t slot = 0; slot < routes.size(); ++slot) {
      if ((!routes[slot].pool && !routes[slot].socket) || set->position_of_slot(slot)) continue;
      if (slot == upstream.slot()) pruned = false;
      else routes[slot] = Route{};
    }
    if (pruned) generation_[c] = set->generation;
  }
  if (upstream.slot() >= routes.size()) routes.resize(upstream.slot() + 1);
  auto& route = routes[upstream.slot()];
  if (!route.pool && !route.socket) {
    const auto& config = upstream.config();
    const auto& url = config.url;
    http::TlsOptions tls{url.tls(), config.ca_file};
    auto* gauge = &const_cast<Upstream&>(upstream).metrics.connections();
    if (url.websocket()) {
      route.socket = std::make_unique<http::WsRpcClient>(io_, url, max_reply_, tls, config.headers);
      route.socket->set_connections_gauge(gauge);
    } else {
      route.pool = std::make_unique<http::ClientPool>(io_, url.host, url.port, 256, max_reply_, tls, config.headers);
      route.pool->set_connections_gauge(gauge);
    }
  }
  return route;
}

boost::asio::awaitable<http::ClientResponse> PooledUpstreamClient::post(const Upstream& upstream, std::string body,
                                                                        Duration timeout, http::ReplyLimits limits) {
  auto& route = route_of(upstream);
  if (route.socket) co_return co_await route.socket->call(std::move(body), timeout, limits);
  co_return co_await route.pool->request("POST", upstream.config().url.target, std::move(body), timeout,
                                         "application/json", {}, limits);
}

LoopContext::LoopContext(boost::asio::io_context& i, std::unique_ptr<UpstreamClient> c,
                         const std::vector<std::unique_ptr<ChainRuntime>>& chains)
    : io(i), client(std::move(c)) {
  for (const auto& chain : chains) load.emplace_back(chain->upstreams()->upstreams.size());
}

}  // namespace nodeops::gateway
