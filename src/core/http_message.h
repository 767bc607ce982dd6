// Incremental HTTP/1.1 message reader, used by the server for requests and the client for responses.
//
// Why not Beast's parser: it copies every header into an allocated, ordered field set, which cost
// about a tenth of a proxied request's instructions, while the gateway needs six headers. This one
// waits for the whole head, reads it in one pass, keeps only those headers and frames the body
// (Content-Length, chunked, or until close for responses). It owns the connection's read buffer,
// so bytes that arrive after a message (pipelining) stay for the next one.
//
// It is strict where leniency lets two parsers disagree on where a message ends (request
// smuggling): CRLF line endings only, no obs-fold, no whitespace before the colon, no control
// characters in values, one Content-Length value (repeats must be equal), Transfer-Encoding only as
// exactly "chunked" and never together with Content-Length.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace nodeops::http {

struct MessageHead {
  std::string method;  // requests
  std::string target;  // requests
  int status = 0;      // responses
  unsigned version = 11;
  std::string content_type;
  std::string authorization;
  std::string cache_control;  // requests: the gateway's cache honours no-cache
  std::string min_block;      // requests: X-Min-Block (monotonic reads asked for explicitly)
  /// Every X-Forwarded-For field line, joined with ", " in order (RFC 9110 5.3): a proxy that adds
  /// its own line rather than appending must not hide the hop it saw behind one the client wrote.
  std::string forwarded_for;
  std::string api_key;  // requests: X-API-Key, first occurrence
  std::string origin;   // requests: Origin (CORS), first occurrence
  std::string retry_after;    // responses: the Retry-After value as received (429, 503)
  bool keep_alive = true;
  bool expect_continue = false;  // the client waits for "100 Continue" before sending the body
  // The WebSocket opening handshake (RFC 6455 4.2.1), kept only when present: a normal request pays
  // one length comparison per field for them.
  bool upgrade_websocket = false;   // Upgrade lists "websocket"
  bool connection_upgrade = false;  // Connection lists "upgrade"
  std::string websocket_key;        // Sec-WebSocket-Key
  std::string websocket_version;    // Sec-WebSocket-Version
  std::string websocket_extensions;  // Sec-WebSocket-Extensions, every line joined with ", " (RFC 7692 offers)
};

/// What a request's head says about a WebSocket upgrade.
enum class WebSocketUpgrade {
  none,         // no `Upgrade: websocket`: an ordinary request
  valid,        // GET, HTTP/1.1, Connection: upgrade, a 16-byte Sec-WebSocket-Key, version 13
  bad_request,  // asks for websocket but the handshake is not RFC 6455's (answer 400)
  bad_version,  // Sec-WebSocket-Version other than 13 (answer 426 with Sec-WebSocket-Version: 13)
};
/// Checks an upgrade request; `why` (when given) says what is wrong for the error answer.
WebSocketUpgrade websocket_upgrade(const MessageHead& head, std::string* why = nullptr);

class MessageReader {
 public:
  enum class Kind { request, response };
  enum class Result { incomplete, done, error };
  enum class Error {
    none,
    malformed,        // not HTTP/1.x as RFC 9112 writes it
    head_too_large,   // no end of head within max_head bytes
    body_too_large,   // announced or decoded body above max_body
    unsupported,      // a transfer coding other than chunked
    truncated,        // the peer closed in the middle of a message
    over_budget,      // the body would take the shared byte budget (charge_to) over its cap
  };

  MessageReader(Kind kind, uint64_t max_body, size_t max_head = 16 * 1024);
  ~MessageReader();
  MessageReader(const MessageReader&) = delete;
  MessageReader& operator=(const MessageReader&) = delete;

  /// Space to read into (at least `min` bytes); then commit() what was read.
  std::pair<char*, size_t> space(size_t min = 4096);
  void commit(size_t n) { size_ += n; }

  /// Parses what is buffered. `done`: head() and body() hold the message until next().
  Result parse();
  /// The peer closed its side: ends a response body that runs until close, else `truncated`.
  Result finish();
  /// Drops the finished message; bytes buffered after it stay for the next one.
  void next();
  /// The body limit for the next message (a client sets it per exchange).
  void set_max_body(uint64_t max_body) { max_body_ = max_body; }
  /// Charges every body byte of the next messages to `counter`, which many readers share (all the
  /// replies a process holds); a body that would take it past `cap` fails with over_budget, its
  /// bytes given back. A finished body stays charged: whoever takes body() takes the charge with
  /// take_charge() and gives it back when it frees the bytes. nullptr: no accounting.
  void charge_to(std::atomic<uint64_t>* counter, uint64_t cap) {
    counter_ = counter;
    cap_ = cap;
  }
  /// The bytes of body() charged to the counter, now the caller's to give back.
  uint64_t take_charge() { return std::exchange(charged_, 0); }

  const MessageHead& head() const { return head_; }
  std::string& body() { return body_; }
  bool head_done() const { return phase_ > Phase::head; }
  /// Bytes not consumed by a message yet are buffered: after next(), the start of another one.
  bool buffered() const { return size_ > begin_; }
  Error error() const { return error_; }
  const std::string& error_message() const { return message_; }

 private:
  enum class Phase { head, length, chunk_size, chunk_data, chunk_end, trailers, until_close, done, failed };
  Result fail(Error e, std::string message);
  Result parse_head(std::string_view head);
  Result parse_start_line(std::string_view line);
  Result parse_field(std::string_view name, std::string_view value);
  Result parse_body();
  Result parse_chunked();
  bool charge(size_t n);
  void uncharge();

  Kind kind_;
  uint64_t max_body_;
  size_t max_head_;
  std::string buf_;   // [begin_, size_) holds unread bytes; the rest is space to read into
  size_t size_ = 0;
  size_t begin_ = 0;  // start of the current message, then of its unread body bytes
  size_t scan_ = 0;   // where the search for the end of the head resumes
  uint32_t interim_ = 0;  // 1xx answers read before this one
  static constexpr uint32_t kMaxInterim = 8;
  Phase phase_ = Phase::head;
  MessageHead head_;
  std::string body_;
  uint64_t content_length_ = 0;
  bool has_length_ = false;
  bool chunked_ = false;
  uint64_t chunk_left_ = 0;
  size_t trailer_bytes_ = 0;
  Error error_ = Error::none;
  std::string message_;
  std::atomic<uint64_t>* counter_ = nullptr;
  uint64_t cap_ = 0;
  uint64_t charged_ = 0;
};

}  // namespace nodeops::http
