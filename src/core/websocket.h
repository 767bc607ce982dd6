// WebSocket (RFC 6455) on the HTTP server's port: what an application plugs in to accept upgrades
// and answer messages, and the limits every connection lives under. Beast's websocket stream does
// the protocol (frames, fragmentation, masking, ping/pong, the close handshake) inside
// websocket.cc; this header keeps it out of everything else.
//
// How a connection goes: the server reads an HTTP request whose head asks for `Upgrade: websocket`,
// checks the handshake (http_message.h: websocket_upgrade), and asks the application's
// UpgradeHandler whether to accept — it may refuse with an ordinary HTTP answer (401, 404, 429 ...).
// Accepted, the socket becomes a WebSocket served by one connection object on the same event loop:
//
//   reader     reads one message at a time (at most limits.max_message bytes, else close 1009) and
//              hands it to WebSocketSession::on_message in a coroutine of its own, so that a slow
//              call does not hold the ones behind it; with limits.max_in_flight messages being
//              answered it stops reading (TCP pushes back on the client) until one is done.
//   outbox     the replies, in the order they are ready (a client matches them by id), bounded by
//              limits.max_send_queue bytes: a client that does not read its replies is closed with
//              1008 and counted, its queue dropped at once, rather than held in memory.
//   writer     sends the outbox one message (one text frame; with permessage-deflate, frames of
//              up to 4 KiB compressed) at a time; a write that takes longer than the server's
//              write_timeout ends the connection.
//
// permessage-deflate (RFC 7692): negotiated in the handshake when WebSocketOptions allows it and
// the client offered it (WebSocketSession::extension_offer); compressed messages from the client
// are still bounded by limits.max_message once inflated.
//
// Pushes that are not replies (subscriptions, when they come) use the same outbox:
// WebSocketSession::opened() receives the connection's WebSocketOutbox, which a session keeps and
// calls from the connection's loop; a push is bounded, ordered and counted exactly like a reply.
//
// Keepalive: the server pings after limits.ping_interval of silence from the client and closes a
// connection that stays silent for another ping_interval (a dead peer). Those pings are traffic,
// so an AWS ALB (idle timeout 60 s by default) never finds the connection idle while the client
// lives. limits.idle_timeout closes (1000) a connection on which no message went either way for
// that long. Drain: begin_drain() lets in-flight messages finish and their replies go out, then
// sends close 1001 (going away).
//
// Threads: everything of one connection runs on the event loop that accepted it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/units.h"

namespace nodeops::metrics {
class Counter;
class Gauge;
}  // namespace nodeops::metrics

namespace nodeops::http {

/// @brief The bounds of one WebSocket connection.
struct WebSocketLimits {
  uint64_t max_message = 1 << 20;     // a client message (all its frames); more is closed with 1009
  uint64_t max_send_queue = 4 << 20;  // bytes waiting to be sent; more closes a slow consumer (1008)
  uint32_t max_in_flight = 64;        // messages being answered at once; the next waits to be read
  Duration idle_timeout{600000};      // no message either way for this long: close 1000
  Duration ping_interval{20000};      // ping after this much silence from the client
  Duration handshake_timeout{10000};  // the opening handshake, and the closing one
};

/// @brief Series a WebSocket server updates (each optional).
struct WebSocketMetrics {
  metrics::Gauge* connections = nullptr;             // open WebSocket connections
  metrics::Counter* messages_in = nullptr;           // client messages read
  metrics::Counter* messages_out = nullptr;          // messages sent
  metrics::Counter* slow_consumer_closes = nullptr;  // closed because the outbox overflowed
  metrics::Counter* too_big_closes = nullptr;        // closed because a message was over max_message
  metrics::Counter* bad_handshakes = nullptr;        // upgrade requests refused as not RFC 6455
  metrics::Gauge* queued_bytes = nullptr;            // bytes in every connection's outbox
};

/// @brief One message for the client, and what stays charged until it has been written.
struct WebSocketMessage {
  std::string text;               // sent as one text frame; empty: nothing to send
  std::shared_ptr<void> on_sent;  // released once written or dropped (e.g. a reply's byte budget)
};

/// @brief The bounded send queue of one connection, for messages that are not replies.
/// Call only from the connection's loop.
class WebSocketOutbox {
 public:
  virtual ~WebSocketOutbox() = default;
  /// Queues a message behind those already queued. False when the connection is closing, or when
  /// the message does not fit in max_send_queue: the connection is then closed as a slow consumer.
  virtual bool push(WebSocketMessage message) = 0;
};

/// @brief The application's side of one accepted connection.
/// Lifecycle: created by the UpgradeHandler, opened() once the handshake is done, on_message() for
/// each message (concurrently, up to max_in_flight), closed() once when the connection has ended.
/// Calls still running after closed() finish normally; their replies are dropped.
class WebSocketSession {
 public:
  virtual ~WebSocketSession() = default;
  /// The client's Sec-WebSocket-Extensions offer, copied by the UpgradeHandler from
  /// Request::websocket_extensions: the handshake negotiates permessage-deflate from it when
  /// WebSocketOptions::permessage_deflate allows (empty: nothing is negotiated).
  std::string extension_offer;
  virtual void opened(std::weak_ptr<WebSocketOutbox> /*outbox*/) {}
  /// Answers one text (or binary) message; an empty reply sends nothing.
  virtual boost::asio::awaitable<WebSocketMessage> on_message(std::string message) = 0;
  virtual void closed() {}
};

}  // namespace nodeops::http
