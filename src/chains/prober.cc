#include "chains/prober.h"

#include <boost/asio.hpp>

#include <algorithm>

namespace nodeops::chains {

Prober::Prober(boost::asio::io_context& io, uint64_t max_reply_bytes) : io_(io), max_reply_bytes_(max_reply_bytes) {}

boost::asio::awaitable<NodeStatus> Prober::probe(const Adapter& adapter, Duration timeout, const ProbeAccess& access) {
  auto calls = adapter.probe_calls();
  std::vector<HttpReply> replies;
  replies.reserve(calls.size());
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool garbled = false;
  for (auto& call : calls) {
    HttpReply reply;
    std::string why;
    auto url = parse_url(call.url, &why);
    auto left = std::chrono::duration_cast<Duration>(deadline - std::chrono::steady_clock::now());
    if (!url) {
      reply.error = "bad URL: " + why;
    } else if (left <= Duration(0)) {
      reply.error = "probe timed out";
    } else {
      try {
        http::ClientResponse res;
        if (url->websocket()) {
          res = co_await over_websocket(*url, call, left, access);
        } else {
          auto key = std::string(url->scheme_name()) + "://" + url->origin() + " " + access.ca_file;
          auto& pool = pools_[key];
          if (!pool) {
            pool = std::make_unique<http::ClientPool>(io_, url->host, url->port, 2, max_reply_bytes_,
                                                      http::TlsOptions{url->tls(), access.ca_file});
          }
          res = co_await pool->request(call.method, url->target, call.body, left, "application/json", access.headers);
        }
        reply.ok = res.ok();
        // A peer that answered with broken HTTP did answer: garbled, not down.
        garbled = garbled || res.error == http::ClientResponse::Error::protocol ||
                  res.error == http::ClientResponse::Error::too_large;
        reply.status = res.status;
        reply.body = std::move(res.body);
        if (!res.ok()) reply.error = std::string(http::to_string(res.error)) + ": " + res.message;
      } catch (const std::exception& e) {
        reply.error = e.what();
      }
    }
    replies.push_back(std::move(reply));
  }
  auto status = adapter.parse_probe(replies);
  status.answered = garbled || std::any_of(replies.begin(), replies.end(), [](const HttpReply& r) { return r.ok; });
  co_return status;
}

boost::asio::awaitable<http::ClientResponse> Prober::over_websocket(const Url& url, const HttpCall& call,
                                                                  Duration timeout, const ProbeAccess& access) {
  if (call.method != "POST") {
    http::ClientResponse refused;
    refused.error = http::ClientResponse::Error::protocol;
    refused.message = "a WebSocket endpoint takes JSON-RPC calls only, not " + call.method;
    co_return refused;
  }
  // Headers go with the upgrade: a new key (a reload) is a new connection.
  auto key = std::string(url.scheme_name()) + "://" + url.origin() + url.target + " " + access.ca_file;
  for (const auto& [name, value] : access.headers) key += "\n" + name + ": " + value;
  auto& socket = sockets_[key];
  if (!socket) {
    socket = std::make_unique<http::WsRpcClient>(io_, url, max_reply_bytes_, http::TlsOptions{url.tls(), access.ca_file},
                                                 access.headers);
  }
  co_return co_await socket->call(call.body, timeout);
}

}  // namespace nodeops::chains
