// JSON-RPC over a WebSocket to one upstream (`ws://`, `wss://`), for one event loop.
//
// Nodes serve JSON-RPC on a WebSocket as well as over HTTP, and some providers hand out a wss
// endpoint, or price it differently. A WebSocket needs no request head per call and no pool of
// connections: one connection carries every call of its loop at once. Each request goes out as
// one text message; replies come back in whatever order the node finishes them and are matched to
// their calls by id.
//
// Ids: a request's ids go out as they are when they are unsigned integers not already in flight on
// the connection (the gateway numbers its calls per loop, so its own always do). Any other id (a
// string, a number in flight) is sent as a fresh id of the connection, and the reply carries the
// original back, so callers never see the renumbering.
//
// The connection is opened at the first call (DNS, TCP, TLS verified exactly like https — the
// system's CAs or `ca_file`, the host's name, SNI, TLS 1.2+ — then the upgrade with the upstream's
// headers), shared by the calls that arrive while it opens, and opened again by the next call
// after it ended. An upgrade answered with another status than 101 is that HTTP answer for every
// call that waited for it: a 401 for a wrong key, a 429 with its Retry-After. Keepalive: a ping
// after kIdle/2 with nothing from the peer; nothing for kIdle and the connection is dead.
//
// What ends a connection fails every call in flight on it (Error::io, which the gateway retries
// on another upstream): the peer closing or resetting it, a message over `max_message` bytes, or
// a message that is not JSON (the stream can no longer be trusted). JSON that answers no call in
// flight — a reply that came after its call timed out, a subscription notification — is dropped.
// A call that times out leaves the connection open for the others.
//
// Destroying the client (its upstream removed by a reload) opens nothing new; the calls in flight
// finish on the connection, and the last of them closes it.
//
// Threads: one event loop; the client must be used and destroyed on it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>

#include "core/http.h"
#include "core/url.h"

namespace nodeops::http {

class WsRpcClient {
 public:
  /// No frame from the peer for this long (a ping unanswered for half of it) ends the connection.
  static constexpr Duration kIdle{20000};

  /// `url` is ws:// or wss:// (its path and query are the upgrade's target); `headers` go with
  /// the upgrade (a provider's API key: never logged). A `tls.ca_file` that cannot be loaded
  /// makes every call fail with Error::tls saying why.
  WsRpcClient(asio::io_context& io, Url url, uint64_t max_message = 64ull << 20, TlsOptions tls = {},
              Headers headers = {});
  ~WsRpcClient();
  WsRpcClient(const WsRpcClient&) = delete;
  WsRpcClient& operator=(const WsRpcClient&) = delete;

  /// Sends one JSON-RPC request or batch and returns its reply as `body` with status 200, within
  /// `timeout` (the connection's opening included). `limits` bound the reply like an HTTP answer's.
  asio::awaitable<ClientResponse> call(std::string body, Duration timeout, ReplyLimits limits = {});
  /// Counts the open connection (0 or 1) in `gauge`.
  void set_connections_gauge(metrics::Gauge* gauge);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace nodeops::http
