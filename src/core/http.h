// HTTP/1.1 server and client on Boost.Asio/Beast with C++20 coroutines.
//
// Threading: the server runs one acceptor per event loop (SO_REUSEPORT), and a connection lives on
// the loop that accepted it for its whole life — handler, upstream calls and writes included — so
// nothing on the request path takes a lock. A ClientPool belongs to one loop the same way.
// Beast stays inside http_server.cc, http_client.cc and websocket.cc; this header only needs Asio's
// awaitable. WebSocket upgrades on the same port: core/websocket.h.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/units.h"
#include "core/url.h"
#include "core/websocket.h"

namespace nodeops::metrics {
class Counter;
class Gauge;
}

namespace nodeops::http {

namespace asio = boost::asio;

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query
  std::string content_type;
  std::string authorization;
  std::string api_key;  // X-API-Key
  std::string origin;   // Origin (CORS)
  std::string cache_control;
  std::string min_block;  // X-Min-Block: the lowest block the client accepts answers from
  std::string body;
  /// The direct peer's IP. Who the client is behind a proxy is the gateway's call (its
  /// trusted_proxies), never the header's: anyone can send X-Forwarded-For.
  std::string peer_address;
  std::string forwarded_for;  // every X-Forwarded-For line as received, joined with ", "
  std::string websocket_extensions;  // upgrades: Sec-WebSocket-Extensions as received, joined with ", "
  size_t loop = 0;             // index of the event loop serving it (its position in the server's loops)
};

struct Response {
  int status = 200;
  std::string_view content_type = "application/json";  // always a literal: no allocation per answer
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  /// Released once the response has been written (or the connection dropped): lets a handler
  /// account for bytes that live until then.
  std::shared_ptr<void> on_sent;
};

/// Splits "/path?query" into its path and the value of one query parameter (empty when absent).
std::string_view path_of(std::string_view target);
std::string query_param(std::string_view target, std::string_view name);

using Handler = std::function<asio::awaitable<Response>(Request&)>;

/// @brief The application's verdict on a WebSocket upgrade request (core/websocket.h): a refusal,
/// sent as an ordinary HTTP answer before the connection closes, or the session that serves it.
struct WebSocketAccept {
  std::optional<Response> refusal;
  std::shared_ptr<WebSocketSession> session;
};
using UpgradeHandler = std::function<asio::awaitable<WebSocketAccept>(Request&)>;

/// @brief WebSocket on a server's port. Without it an upgrade request goes to the Handler as an
/// ordinary request.
class ServerCertificate;  // core/http_tls.h

struct WebSocketOptions {
  UpgradeHandler accept;
  WebSocketLimits limits;
  WebSocketMetrics metrics;
  /// permessage-deflate (RFC 7692) negotiated with clients that offer it (the session carries the
  /// offer: WebSocketSession::extension_offer); off, no extension is ever accepted.
  bool permessage_deflate = false;
};

struct ServerOptions {
  HostPort listen;
  uint64_t max_body = 1 << 20;
  Duration read_timeout{std::chrono::seconds(30)};  // one request, from its first byte to its last
  Duration idle_timeout{std::chrono::seconds(75)};  // keep-alive wait; above the ALB's 60 s default
  Duration write_timeout{std::chrono::seconds(30)};
  /// Body of the errors the server answers by itself (413 too large, 400 malformed, 408 too slow).
  std::function<Response(int status, std::string_view message)> error_response;
  /// Optional gauge of open client connections.
  metrics::Gauge* connections_gauge = nullptr;
  /// Connections beyond this many are closed as soon as they are accepted (0: no cap). A flood of
  /// idle connections then costs a counter, not memory.
  size_t max_connections = 0;
  /// Optional counter of connections closed because of max_connections.
  metrics::Counter* refused_counter = nullptr;
  /// Unset: no WebSocket (an upgrade request is an ordinary request to the handler).
  std::optional<WebSocketOptions> websocket;
  /// Set: every connection speaks TLS (https, wss) with this certificate as it is when the
  /// connection is accepted. The certificate must outlive the server.
  ServerCertificate* tls = nullptr;
};

/// @brief An HTTP/1.1 server over a set of event loops.
/// Lifecycle: construct; start() binds (throws std::system_error when it cannot); begin_drain()
/// stops accepting, closes idle keep-alive connections and lets busy ones finish their response
/// (sent with `Connection: close`); WebSocket connections finish their in-flight messages and are
/// closed with 1001. connections() reaches 0 once drained. Destroy the server
/// before its loops, and not while they run.
class Server {
 public:
  Server(std::vector<asio::io_context*> loops, ServerOptions options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start();
  void begin_drain();
  size_t connections() const;
  size_t in_flight() const;
  uint16_t port() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

struct ClientResponse {
  /// `tls`: the TLS handshake failed, certificate verification included (`message` says why, e.g.
  /// "certificate verify failed: certificate has expired").
  enum class Error { none, connect, timeout, io, too_large, protocol, over_budget, tls };
  Error error = Error::none;
  std::string message;  // transport error detail
  int status = 0;
  /// The Retry-After header of a 429 or 503 answer, as sent (seconds or an HTTP date); else empty.
  std::string retry_after;
  std::string body;
  /// Bytes of `body` charged to ReplyLimits::buffered: the caller gives them back when it frees them.
  uint64_t charged = 0;
  bool ok() const { return error == Error::none; }
};
std::string_view to_string(ClientResponse::Error e);

/// @brief Bounds for one answer's body: its own size, and a byte budget it shares with every other
/// answer charged to the same counter (all the replies a process holds at once).
struct ReplyLimits {
  uint64_t max_body = 0;                      // 0: the pool's own limit
  std::atomic<uint64_t>* buffered = nullptr;  // nullptr: no shared budget
  uint64_t max_buffered = 0;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

/// @brief TLS towards an origin (https). Verification is never off: the peer's certificate must
/// chain to a trusted CA (the system's, or `ca_file` alone when set) and name the host (SNI is
/// sent for host names); TLS 1.2 at least.
struct TlsOptions {
  bool enabled = false;
  std::string ca_file;  // PEM file of the CAs to trust instead of the system's; empty: the system's
};

/// @brief Keep-alive connections to one origin (host:port), for use on one event loop only.
/// A request on a reused connection that the peer had already closed is retried once on a fresh
/// connection: that is a stale keep-alive, not an upstream failure. With TLS the connections are
/// kept alive the same way, so a handshake is paid once per connection, not per request.
class ClientPool {
 public:
  using Headers = http::Headers;
  /// `headers` are sent with every request (a provider's API key: never logged). A `tls.ca_file`
  /// that cannot be loaded makes every request fail with Error::tls saying why.
  ClientPool(asio::io_context& io, std::string host, uint16_t port, size_t max_idle = 64,
             uint64_t max_response = 64ull << 20, TlsOptions tls = {}, Headers headers = {});
  ~ClientPool();
  ClientPool(const ClientPool&) = delete;
  ClientPool& operator=(const ClientPool&) = delete;

  /// `limits` bound this answer's body: larger than max_body fails with Error::too_large as soon
  /// as its size is known, before it is buffered; past the shared budget, with Error::over_budget.
  asio::awaitable<ClientResponse> request(std::string_view method, std::string_view target, std::string body,
                                          Duration timeout, std::string_view content_type = "application/json",
                                          const Headers& headers = {}, ReplyLimits limits = {});
  void set_connections_gauge(metrics::Gauge* gauge);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace nodeops::http
