// Internal to core: the HTTP server hands an upgraded socket to the WebSocket side (websocket.cc,
// the only file that includes Beast's websocket headers).
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string_view>

#include "core/http.h"
#include "core/http_io.h"

namespace nodeops::http {

/// Answers the handshake (101) for an upgrade request already checked by websocket_upgrade(),
/// then serves the connection until it closes (core/websocket.h says how). `conn` is the server's
/// entry for this connection: its deadline bounds writes, its drain hook is set while it runs;
/// `draining` set by then drains it as soon as it is open.
boost::asio::awaitable<void> serve_websocket(io::Socket socket, io::Connection& conn, std::string_view target,
                                             std::string_view key, const WebSocketOptions& options,
                                             Duration write_timeout, std::shared_ptr<WebSocketSession> session,
                                             const std::atomic<bool>& draining);

}  // namespace nodeops::http
