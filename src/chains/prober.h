// Runs an Adapter's probe calls over HTTP and hands the replies back to it. Shared by the gateway's
// health tracker and the exporter, so both see a node the same way.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <map>
#include <memory>
#include <string>

#include "chains/adapter.h"
#include "core/http.h"
#include "core/ws_client.h"
#include "core/units.h"

namespace nodeops::chains {

/// @brief How to reach a node beyond its URL: the CAs to trust for https, and headers every probe
/// call carries (a provider's API key).
struct ProbeAccess {
  std::string ca_file;
  http::Headers headers;
};

/// @brief Keeps one keep-alive pool per origin (and trust store); lives on one event loop. https
/// URLs are probed over TLS with the same client, and the same verification, as traffic; ws and
/// wss URLs over a WebSocket of their own, like traffic (JSON-RPC calls only: POST).
class Prober {
 public:
  /// A reply larger than `max_reply_bytes` fails its call (http too_large) before it is buffered.
  explicit Prober(boost::asio::io_context& io, uint64_t max_reply_bytes = 16ull << 20);
  /// Runs every call of the probe (one after the other, on kept-alive connections) within
  /// `timeout` in total, then parses. Never throws. Error texts never contain the URL's path
  /// (it may hold a provider's key).
  boost::asio::awaitable<NodeStatus> probe(const Adapter& adapter, Duration timeout, const ProbeAccess& access);
  /// Same, with nothing beyond the URL. (Not a default argument: GCC 12 destroys a temporary
  /// bound to a coroutine's reference parameter twice when the call is co_awaited.)
  boost::asio::awaitable<NodeStatus> probe(const Adapter& adapter, Duration timeout) {
    return probe(adapter, timeout, kNoAccess);
  }

 private:
  boost::asio::awaitable<http::ClientResponse> over_websocket(const Url& url, const HttpCall& call, Duration timeout,
                                                              const ProbeAccess& access);
  static inline const ProbeAccess kNoAccess{};
  boost::asio::io_context& io_;
  uint64_t max_reply_bytes_;
  std::map<std::string, std::unique_ptr<http::ClientPool>> pools_;
  std::map<std::string, std::unique_ptr<http::WsRpcClient>> sockets_;  // by URL, trust store and headers
};

}  // namespace nodeops::chains
