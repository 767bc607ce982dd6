// The WebSocket connection (core/websocket.h): Beast's websocket stream over the server's socket,
// a reader, a bounded outbox and a writer, all on the connection's loop.

#include "core/coroutine_warnings.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>

#include "core/log.h"
#include "core/metrics.h"
#include "core/websocket_server.h"

namespace nodeops::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using io::Clock;

void count(metrics::Counter* c) {
  if (c) c->inc();
}

// Close codes (RFC 6455 7.4.1) this side sends.
constexpr uint16_t kNormal = 1000;     // idle timeout
constexpr uint16_t kGoingAway = 1001;  // drain
constexpr uint16_t kPolicy = 1008;     // slow consumer

// permessage-deflate: zlib level 6 (most of level 9's ratio on JSON at a fraction of the CPU);
// messages under 512 bytes go as they are (a reply to eth_blockNumber gains nothing).
constexpr int kDeflateLevel = 6;
constexpr size_t kDeflateThreshold = 512;

log::Pow2Sampler slow_consumer_log;  // one per process: a crowd of slow clients logs in powers of two

/// @brief One accepted WebSocket connection.
/// Lifecycle: run() owns it until the connection has ended; message coroutines still running
/// then keep it (shared) until they return, their replies dropped. Loop: the one that accepted it.
class Connection final : public WebSocketOutbox, public std::enable_shared_from_this<Connection> {
 public:
  Connection(io::Socket socket, io::Connection& slot, const WebSocketOptions& options, Duration write_timeout,
             std::shared_ptr<WebSocketSession> session)
      : ws_(std::move(socket)),
        slot_(&slot),
        limits_(options.limits),
        metrics_(options.metrics),
        write_timeout_(write_timeout),
        deflate_(options.permessage_deflate),
        session_(std::move(session)),
        wake_writer_(ws_.get_executor()),
        wake_reader_(ws_.get_executor()),
        writer_exit_(ws_.get_executor()) {
    slot.socket = &ws_.next_layer();
  }

  boost::asio::awaitable<void> run(std::string_view target, std::string_view key, const std::atomic<bool>& draining) {
    auto self = shared_from_this();
    websocket::stream_base::timeout timeouts;
    timeouts.handshake_timeout = limits_.handshake_timeout;
    // Beast pings after half of idle_timeout without a frame from the client and closes the
    // socket when the other half passes silent too.
    timeouts.idle_timeout = limits_.ping_interval * 2;
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(bhttp::field::server, "nodeops"); }));
    ws_.read_message_max(limits_.max_message);
    ws_.auto_fragment(false);  // one frame per message: clients take any size, and it costs one header
    if (deflate_) {
      // RFC 7692, accepted when the client offers it (Beast answers the offer in the handshake).
      // Beast's memLevel 4 keeps a connection's zlib state to ~136 KiB to deflate (made at the
      // first compressed write) and ~40 KiB to inflate (at the first compressed read); small
      // messages are not worth the CPU; what a client sends is still bounded by max_message
      // after inflating.
      websocket::permessage_deflate pmd;
      pmd.server_enable = true;
      pmd.compLevel = kDeflateLevel;
      pmd.msg_size_threshold = kDeflateThreshold;
      ws_.set_option(pmd);
    }
    // The head was read and checked by our own reader; Beast gets what it needs to answer 101.
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
    req.set(bhttp::field::host, "nodeops");
    req.set(bhttp::field::connection, "upgrade");
    req.set(bhttp::field::upgrade, "websocket");
    req.set(bhttp::field::sec_websocket_key, key);
    req.set(bhttp::field::sec_websocket_version, "13");
    if (deflate_ && !session_->extension_offer.empty()) {
      req.set(bhttp::field::sec_websocket_extensions, session_->extension_offer);
    }
    auto [ec] = co_await ws_.async_accept(req, io::nothrow);
    if (ec) co_return;

    if (metrics_.connections) metrics_.connections->inc();
    slot_->drain = [weak = weak_from_this()] {
      if (auto c = weak.lock()) c->drain();
    };
    last_activity_ = Clock::now();
    session_->opened(weak_from_this());
    if (draining.load(std::memory_order_relaxed)) drain();  // began while we were answering the handshake
    boost::asio::co_spawn(ws_.get_executor(), write_loop(), boost::asio::detached);
    co_await read_loop();

    // The reader is done: the close handshake happened, or the connection failed. Whatever the
    // writer still waits for will not come.
    state_ = State::closed;
    drop_queue();
    wake_writer_.cancel();
    boost::system::error_code ignored;
    ws_.next_layer().cancel(ignored);
    while (!writer_done_) {
      writer_exit_.expires_at(Clock::time_point::max());
      co_await writer_exit_.async_wait(io::nothrow);
    }
    ws_.next_layer().close(ignored);
    slot_->drain = nullptr;
    slot_ = nullptr;  // the server drops its entry once we return
    if (metrics_.connections) metrics_.connections->dec();
    session_->closed();
  }

  bool push(WebSocketMessage message) override {
    if (state_ == State::closing || state_ == State::closed) return false;
    if (message.text.empty()) return true;
    size_t size = message.text.size();
    // One message always fits in an empty queue (a large reply to a client that reads is fine);
    // behind others, the queue's bound holds.
    if (queued_bytes_ > 0 && queued_bytes_ + size > limits_.max_send_queue) {
      count(metrics_.slow_consumer_closes);
      if (auto n = slow_consumer_log.tick()) {
        log::warn("websocket client closed as a slow consumer",
                  {{"queued_bytes", static_cast<int64_t>(queued_bytes_)},
                   {"max_send_queue", static_cast<int64_t>(limits_.max_send_queue)},
                   {"occurrences", static_cast<int64_t>(n)}});
      }
      close(kPolicy,
            "slow consumer: more than " + std::to_string(limits_.max_send_queue) + " bytes waiting to be sent");
      return false;
    }
    add_queued(static_cast<double>(size));
    queue_.push_back(std::move(message));
    wake_writer_.cancel();
    return true;
  }

 private:
  enum class State { open, draining, closing, closed };

  boost::asio::awaitable<void> read_loop() {
    beast::flat_buffer buffer;
    for (;;) {
      // At max_in_flight, stop reading: the client's own sends block until a reply is ready.
      while (in_flight_ >= limits_.max_in_flight && (state_ == State::open || state_ == State::draining)) {
        wake_reader_.expires_at(Clock::time_point::max());
        co_await wake_reader_.async_wait(io::nothrow);
      }
      auto [ec, n] = co_await ws_.async_read(buffer, io::nothrow);
      if (ec) {
        // Over read_message_max, Beast has sent close 1009 (message too big) itself.
        if (ec == websocket::error::message_too_big) count(metrics_.too_big_closes);
        break;
      }
      last_activity_ = Clock::now();
      count(metrics_.messages_in);
      std::string message = beast::buffers_to_string(buffer.data());
      buffer.consume(n);
      if (buffer.capacity() > (64u << 10)) buffer.shrink_to_fit();  // one large message must not stay allocated
      // Once closing, nothing more is answered; reading goes on until the client's close frame.
      if (state_ == State::closing || state_ == State::closed) continue;
      ++in_flight_;
      boost::asio::co_spawn(ws_.get_executor(), answer(std::move(message)), boost::asio::detached);
    }
  }

  boost::asio::awaitable<void> answer(std::string message) {
    auto self = shared_from_this();
    WebSocketMessage reply;
    try {
      reply = co_await session_->on_message(std::move(message));
    } catch (const std::exception& e) {
      log::error("websocket message handler failed", {{"error", e.what()}});
    }
    --in_flight_;
    wake_reader_.cancel();
    push(std::move(reply));
    finish_drain();
  }

  boost::asio::awaitable<void> write_loop() {
    auto self = shared_from_this();
    for (;;) {
      if (state_ == State::closed) break;
      if (state_ == State::closing) {
        // The close frame goes after the frame being written (if any): a client that reads again
        // gets every complete message, then the code that says why.
        slot_->deadline.arm(Clock::now() + write_timeout_);
        websocket::close_reason reason(static_cast<websocket::close_code>(close_code_), close_reason_);
        co_await ws_.async_close(reason, io::nothrow);  // a failure ends the connection all the same
        if (slot_) slot_->deadline.disarm();
        break;
      }
      if (queue_.empty()) {
        auto idle_at = last_activity_ + limits_.idle_timeout;
        if (Clock::now() >= idle_at) {
          close(kNormal, "idle timeout");
          continue;
        }
        wake_writer_.expires_at(idle_at);
        co_await wake_writer_.async_wait(io::nothrow);
        continue;
      }
      auto message = std::move(queue_.front());
      queue_.pop_front();
      slot_->deadline.arm(Clock::now() + write_timeout_);
      ws_.text(true);
      auto [ec, n] = co_await ws_.async_write(boost::asio::buffer(message.text), io::nothrow);
      bool late = slot_ && slot_->deadline.passed;
      if (slot_) slot_->deadline.disarm();
      add_queued(-static_cast<double>(message.text.size()));
      if (ec || late) break;
      count(metrics_.messages_out);
      last_activity_ = Clock::now();
      finish_drain();
    }
    writer_done_ = true;
    writer_exit_.cancel();
  }

  void close(uint16_t code, std::string reason) {
    if (state_ == State::closing || state_ == State::closed) return;
    state_ = State::closing;
    close_code_ = code;
    close_reason_ = std::move(reason);
    drop_queue();
    wake_writer_.cancel();
    wake_reader_.cancel();
  }

  void drain() {
    if (state_ != State::open) return;
    state_ = State::draining;
    finish_drain();
  }

  // Draining: once nothing is being answered or waits to be sent, say goodbye.
  void finish_drain() {
    if (state_ == State::draining && in_flight_ == 0 && queue_.empty()) close(kGoingAway, "server shutting down");
  }

  void drop_queue() {
    double bytes = 0;
    for (const auto& m : queue_) bytes += static_cast<double>(m.text.size());
    queue_.clear();  // their on_sent holders go now: memory comes back at once
    add_queued(-bytes);
  }

  void add_queued(double bytes) {
    queued_bytes_ = static_cast<uint64_t>(static_cast<double>(queued_bytes_) + bytes);
    if (metrics_.queued_bytes) metrics_.queued_bytes->inc(bytes);
  }

  websocket::stream<io::Socket> ws_;
  io::Connection* slot_;  // the server's entry; null once run() has returned
  WebSocketLimits limits_;
  WebSocketMetrics metrics_;
  Duration write_timeout_;
  bool deflate_;
  std::shared_ptr<WebSocketSession> session_;
  boost::asio::steady_timer wake_writer_;  // waited on by the writer: a message, a close, idle
  boost::asio::steady_timer wake_reader_;  // waited on by the reader at max_in_flight
  boost::asio::steady_timer writer_exit_;  // waited on by run() for the writer to end
  std::deque<WebSocketMessage> queue_;
  uint64_t queued_bytes_ = 0;  // the queue plus the message being written
  uint32_t in_flight_ = 0;
  State state_ = State::open;
  uint16_t close_code_ = kNormal;
  std::string close_reason_;
  bool writer_done_ = false;
  Clock::time_point last_activity_;
};

}  // namespace

boost::asio::awaitable<void> serve_websocket(io::Socket socket, io::Connection& conn, std::string_view target,
                                             std::string_view key, const WebSocketOptions& options,
                                             Duration write_timeout, std::shared_ptr<WebSocketSession> session,
                                             const std::atomic<bool>& draining) {
  auto c = std::make_shared<Connection>(std::move(socket), conn, options, write_timeout, std::move(session));
  co_await c->run(target, key, draining);
}

}  // namespace nodeops::http
