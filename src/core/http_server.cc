#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <sys/socket.h>

#include <list>

#include "core/http.h"
#include "core/http_io.h"
#include "core/http_message.h"
#include "core/http_tls.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/websocket_server.h"

namespace nodeops::http {
using namespace std::string_view_literals;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using io::Clock;

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

std::string query_param(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return {};
}

// Per-loop state. Touched only from its own loop.
struct Loop {
  asio::io_context* io;
  size_t index = 0;
  std::unique_ptr<io::Acceptor> acceptor;
  using Conn = io::Connection;
  std::list<Conn> conns;
};

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  ServerOptions opt;
  Handler handler;
  std::vector<std::unique_ptr<Loop>> loops;
  std::atomic<bool> draining{false};
  std::atomic<size_t> connections{0};
  std::atomic<size_t> in_flight{0};
  uint16_t port = 0;

  Response error(int status, std::string_view msg) {
    if (opt.error_response) return opt.error_response(status, msg);
    Response r;
    r.status = status;
    r.content_type = "text/plain";
    r.body = std::string(msg);
    return r;
  }

  // The sweep period bounds how late a timeout fires: an eighth of the shortest one.
  Duration sweep_period() const {
    auto shortest = std::min({opt.read_timeout, opt.idle_timeout, opt.write_timeout});
    return std::clamp<Duration>(shortest / 8, Duration(10), Duration(1000));
  }

  asio::awaitable<void> sweep(Loop& loop) {
    auto self = shared_from_this();
    asio::steady_timer timer(*loop.io);
    for (;;) {
      timer.expires_after(sweep_period());
      auto [ec] = co_await timer.async_wait(io::nothrow);
      if (ec || (draining.load() && loop.conns.empty())) break;
      auto now = Clock::now();
      for (auto& c : loop.conns) {
        if (c.deadline.expire(now)) {
          boost::system::error_code ignored;
          c.socket->cancel(ignored);
        }
      }
    }
  }

  // Responses are formatted by hand (Beast's serializer cost about a third of a proxied request's
  // instructions, bench/RESULTS.md) and sent as one gather write, right away when the socket takes it.
  asio::awaitable<void> write(Loop::Conn& conn, std::string& head, Response&& resp, bool keep_alive, unsigned version,
                              bool head_only = false) {
    auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(resp.status));
    head.clear();
    head += "HTTP/1.1 "sv;
    head += std::to_string(resp.status);
    head += ' ';
    head.append(reason.data(), reason.size());
    head += "\r\nServer: nodeops\r\nContent-Type: "sv;
    head += resp.content_type;
    if (resp.status != 204 && resp.status != 304) {
      head += "\r\nContent-Length: "sv;
      head += std::to_string(resp.body.size());
    }
    // A HEAD answer has the head a GET would have, and no body (RFC 9110 9.3.2).
    if (head_only) resp.body.clear();
    for (const auto& [name, value] : resp.headers) {
      head += "\r\n"sv;
      head += name;
      head += ": "sv;
      head += value;
    }
    if (!keep_alive) head += "\r\nConnection: close"sv;
    else if (version < 11) head += "\r\nConnection: keep-alive"sv;
    head += "\r\n\r\n"sv;
    co_await send(conn, {asio::buffer(head), asio::buffer(resp.body)});
  }

  asio::awaitable<bool> send(Loop::Conn& conn, io::Buffers buffers) {
    boost::system::error_code ec;
    auto rest = io::write_now(*conn.socket, buffers, ec);
    if (ec) co_return false;
    if (io::empty(rest)) co_return true;
    conn.deadline.arm(Clock::now() + opt.write_timeout);
    std::tie(ec, std::ignore) = co_await asio::async_write(*conn.socket, rest, io::nothrow);
    conn.deadline.disarm();
    co_return !ec && !conn.deadline.passed;
  }

  // After an error answer the client may still be sending the body we refused. Closing at once
  // would make the kernel answer those bytes with a reset, which can destroy the answer before the
  // client reads it; so stop sending, and read and drop for a while first (nginx's lingering close).
  asio::awaitable<void> linger(Loop::Conn& conn) {
    constexpr auto kLinger = std::chrono::seconds(2);
    constexpr size_t kMaxDrained = 64 << 20;
    boost::system::error_code ec;
    conn.socket->shutdown(tcp::socket::shutdown_send, ec);
    if (ec) co_return;
    conn.deadline.arm(Clock::now() + kLinger);
    std::array<char, 16384> sink;
    for (size_t drained = 0; drained < kMaxDrained && !conn.deadline.passed;) {
      auto [rec, n] = co_await conn.socket->async_read_some(asio::buffer(sink), io::nothrow);
      if (rec) break;
      drained += n;
    }
  }

  static int status_of(MessageReader::Error e) {
    switch (e) {
      case MessageReader::Error::body_too_large: return 413;
      case MessageReader::Error::head_too_large: return 431;
      case MessageReader::Error::unsupported: return 501;
      default: return 400;
    }
  }

  // Reads until one whole request is buffered. Returns false when the connection should close
  // without an answer (the client left, or idled out); `failure` is set when it gets an error answer.
  asio::awaitable<bool> read_request(Loop::Conn& conn, MessageReader& reader, int& failure, std::string& why) {
    auto res = reader.parse();  // a pipelined request may already be buffered
    if (res == MessageReader::Result::incomplete && !reader.buffered()) {
      // Idle keep-alive: wait for the first byte of the next request.
      conn.deadline.arm(Clock::now() + opt.idle_timeout);
      auto [ec, n] = co_await conn.socket->async_read_some(io::read_space(reader), io::nothrow);
      if (ec || conn.deadline.passed || n == 0) co_return false;
      reader.commit(n);
      res = reader.parse();
    }
    conn.busy = true;
    conn.deadline.arm(Clock::now() + opt.read_timeout);  // from the first byte to the last
    bool continued = false;
    while (res == MessageReader::Result::incomplete) {
      if (reader.head_done() && reader.head().expect_continue && !continued) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        continued = true;
        if (!co_await send(conn, {asio::buffer(kContinue), asio::const_buffer()})) co_return false;
      }
      auto [ec, n] = co_await conn.socket->async_read_some(io::read_space(reader), io::nothrow);
      if (conn.deadline.passed) {
        failure = 408;
        why = "request not received in time";
        co_return false;
      }
      if (ec == asio::error::eof) {
        res = reader.finish();
        break;
      }
      if (ec) co_return false;
      reader.commit(n);
      res = reader.parse();
    }
    conn.deadline.disarm();
    if (res == MessageReader::Result::error) {
      failure = status_of(reader.error());
      why = failure == 400 ? "malformed HTTP request: " + reader.error_message() : reader.error_message();
      co_return false;
    }
    co_return true;
  }

  // `remote`: the client's address when the socket is not the client's own (a TLS connection's
  // plain side, below); empty: the socket's peer.
  asio::awaitable<void> session(Loop& loop, io::Socket socket, std::string remote = {}) {
    auto self = shared_from_this();
    auto entry = loop.conns.insert(loop.conns.end(), Loop::Conn{&socket});
    connections.fetch_add(1, std::memory_order_relaxed);
    if (opt.connections_gauge) opt.connections_gauge->inc();
    if (remote.empty()) {
      boost::system::error_code ec;
      auto ep = socket.remote_endpoint(ec);
      if (!ec) remote = ep.address().to_string();
    }
    MessageReader reader(MessageReader::Kind::request, opt.max_body);
    Request r;  // reused: its strings keep their capacity from one request to the next
    std::string head;
    try {
      for (;;) {
        entry->busy = false;
        if (draining.load(std::memory_order_relaxed)) break;
        int failure = 0;
        std::string why;
        if (!co_await read_request(*entry, reader, failure, why)) {
          if (failure) {
            co_await write(*entry, head, error(failure, why), false, 11);
            co_await linger(*entry);
          }
          break;
        }
        const auto& h = reader.head();
        if (opt.websocket && h.upgrade_websocket) {
          co_await upgrade(loop, *entry, socket, reader, r, head, remote);
          break;
        }
        r.method.assign(h.method);
        r.loop = loop.index;
        r.target.assign(h.target);
        r.content_type.assign(h.content_type);
        r.authorization.assign(h.authorization);
        r.cache_control.assign(h.cache_control);
        r.min_block.assign(h.min_block);
        r.api_key.assign(h.api_key);
        r.origin.assign(h.origin);
        r.peer_address.assign(remote);
        r.forwarded_for.assign(h.forwarded_for);
        std::swap(r.body, reader.body());
        bool keep_alive = h.keep_alive;
        unsigned version = h.version;
        reader.next();
        in_flight.fetch_add(1, std::memory_order_relaxed);
        Response resp;
        try {
          resp = co_await handler(r);
        } catch (const std::exception& e) {
          log::error("request handler failed", {{"error", e.what()}, {"target", r.target}});
          resp = error(500, "internal error");
        }
        in_flight.fetch_sub(1, std::memory_order_relaxed);
        keep_alive = keep_alive && !draining.load(std::memory_order_relaxed);
        co_await write(*entry, head, std::move(resp), keep_alive, version, r.method == "HEAD");
        if (!keep_alive || entry->deadline.passed) break;
      }
    } catch (const std::exception& e) {
      log::warn("connection ended by an error", {{"error", e.what()}});
    }
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    loop.conns.erase(entry);
    if (opt.connections_gauge) opt.connections_gauge->dec();
    connections.fetch_sub(1, std::memory_order_relaxed);
  }

  // A request that asks for `Upgrade: websocket`: checked here (RFC 6455), then the application
  // accepts it or answers with a refusal; accepted, the connection is a WebSocket until it closes.
  // `socket` moves to the WebSocket only once accepted: refusals are written on it as it is.
  asio::awaitable<void> upgrade(Loop& loop, Loop::Conn& conn, io::Socket& socket, MessageReader& reader, Request& r,
                                std::string& head, const std::string& remote) {
    const auto& h = reader.head();
    const auto& ws = *opt.websocket;
    std::string why;
    auto verdict = websocket_upgrade(h, &why);
    // The client must wait for our 101 before it sends frames (RFC 6455 4.1).
    if (verdict == WebSocketUpgrade::valid && (!reader.body().empty() || reader.buffered())) {
      verdict = WebSocketUpgrade::bad_request;
      why = "data sent before the WebSocket handshake was answered";
    }
    if (verdict != WebSocketUpgrade::valid) {
      if (ws.metrics.bad_handshakes) ws.metrics.bad_handshakes->inc();
      auto resp = error(verdict == WebSocketUpgrade::bad_version ? 426 : 400, why);
      if (verdict == WebSocketUpgrade::bad_version) resp.headers.emplace_back("Sec-WebSocket-Version", "13");
      co_await write(conn, head, std::move(resp), false, 11);
      co_return;
    }
    r.method.assign(h.method);
    r.loop = loop.index;
    r.target.assign(h.target);
    r.content_type.clear();
    r.authorization.assign(h.authorization);
    r.cache_control.clear();
    r.min_block.clear();
    r.api_key.assign(h.api_key);
    r.origin.assign(h.origin);
    r.peer_address.assign(remote);
    r.forwarded_for.assign(h.forwarded_for);
    r.websocket_extensions.assign(h.websocket_extensions);
    r.body.clear();
    std::string key = h.websocket_key;
    WebSocketAccept accepted;
    try {
      accepted = co_await ws.accept(r);
    } catch (const std::exception& e) {
      log::error("websocket upgrade handler failed", {{"error", e.what()}, {"target", r.target}});
      accepted.refusal = error(500, "internal error");
    }
    if (!accepted.session && !accepted.refusal) accepted.refusal = error(500, "internal error");
    if (accepted.refusal) {
      co_await write(conn, head, std::move(*accepted.refusal), false, 11);
      co_return;
    }
    conn.busy = true;  // not an idle keep-alive: drain closes it through conn.drain
    co_await serve_websocket(std::move(socket), conn, r.target, key, ws, opt.write_timeout,
                             std::move(accepted.session), draining);
  }

  // Client-facing TLS. The handshake is done here; then the decrypted bytes are relayed, both
  // ways, to an ordinary session() over a socket pair. Why a relay and not a session over a TLS
  // stream: the session writes straight to a non-blocking socket (io::write_now, one sendmsg per
  // small answer) and hands its socket to the WebSocket side (websocket.cc), neither of which a
  // TLS stream allows; the relay keeps keep-alive, pipelining, WebSocket, timeouts and drain one
  // code path for both, at the price of one local copy per byte (bench/RESULTS.md).
  // The relay's own entry in the loop's list lets the sweep bound its handshake and its writes
  // to the client (a client that stops reading cannot hold it); it is not counted as a connection:
  // the session it feeds is.
  asio::awaitable<void> tls_session(Loop& loop, io::Socket socket) {
    using namespace asio::experimental::awaitable_operators;
    auto self = shared_from_this();
    std::string remote;
    {
      boost::system::error_code ec;
      auto ep = socket.remote_endpoint(ec);
      if (!ec) remote = ep.address().to_string();
    }
    auto context = opt.tls->current();  // this connection keeps it across a certificate reload
    asio::ssl::stream<io::Socket> tls(std::move(socket), *context);
    auto entry = loop.conns.insert(loop.conns.end(), Loop::Conn{&tls.next_layer()});
    entry->busy = true;
    bool handshaking = true;
    entry->drain = [&tls, &handshaking] {
      boost::system::error_code ignored;
      if (handshaking) tls.next_layer().cancel(ignored);
    };
    io::Socket relay(*loop.io);
    try {
      entry->deadline.arm(Clock::now() + opt.read_timeout);
      auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::server, io::nothrow);
      entry->deadline.disarm();
      handshaking = false;
      int fds[2];
      if (!hec && !entry->deadline.passed &&
          ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0) {
        io::Socket plain(*loop.io);
        boost::system::error_code ec;
        // Both ends are AF_UNIX; the socket type only needs read, write, shutdown and cancel.
        plain.assign(tcp::v4(), fds[0], ec);
        relay.assign(tcp::v4(), fds[1], ec);
        plain.non_blocking(true, ec);  // for io::write_now
        asio::co_spawn(*loop.io, session(loop, std::move(plain), remote), asio::detached);
        auto to_server = [&]() -> asio::awaitable<void> {
          std::array<char, 4096> buf;  // requests are small; each idle connection holds this
          for (;;) {
            auto [rec, n] = co_await tls.async_read_some(asio::buffer(buf), io::nothrow);
            if (rec || n == 0) break;
            auto [wec, wn] = co_await asio::async_write(relay, asio::buffer(buf.data(), n), io::nothrow);
            if (wec) break;
          }
          boost::system::error_code ignored;
          relay.shutdown(tcp::socket::shutdown_send, ignored);  // the session reads the client's end
        };
        auto to_client = [&]() -> asio::awaitable<void> {
          std::array<char, 16384> buf;
          for (;;) {
            auto [rec, n] = co_await relay.async_read_some(asio::buffer(buf), io::nothrow);
            if (rec || n == 0) break;
            entry->deadline.arm(Clock::now() + opt.write_timeout);
            auto [wec, wn] = co_await asio::async_write(tls, asio::buffer(buf.data(), n), io::nothrow);
            entry->deadline.disarm();
            if (wec || entry->deadline.passed) break;
          }
          // The session closed (or the client is gone): stop reading from the client.
          boost::system::error_code ignored;
          tls.next_layer().cancel(ignored);
        };
        co_await (to_server() && to_client());
        // close_notify, so that the client knows the answer was complete; bounded.
        entry->deadline.arm(Clock::now() + std::chrono::seconds(1));
        co_await tls.async_shutdown(io::nothrow);
        entry->deadline.disarm();
      } else if (hec || entry->deadline.passed) {
        opt.tls->handshake_failed();
        log::debug("TLS handshake failed", {{"peer", remote}, {"error", hec.message()}});
      }
    } catch (const std::exception& e) {
      log::warn("TLS connection ended by an error", {{"error", e.what()}});
    }
    boost::system::error_code ignored;
    relay.close(ignored);
    tls.next_layer().close(ignored);
    loop.conns.erase(entry);
  }

  asio::awaitable<void> accept_loop(Loop& loop) {
    auto self = shared_from_this();
    while (loop.acceptor && loop.acceptor->is_open()) {
      auto [ec, socket] = co_await loop.acceptor->async_accept(*loop.io, io::nothrow);
      if (ec) {
        if (ec == asio::error::operation_aborted || !loop.acceptor || !loop.acceptor->is_open()) break;
        // EMFILE and friends: back off briefly instead of spinning.
        asio::steady_timer t(*loop.io, std::chrono::milliseconds(50));
        co_await t.async_wait(io::nothrow);
        continue;
      }
      if (opt.max_connections && connections.load(std::memory_order_relaxed) >= opt.max_connections) {
        if (opt.refused_counter) opt.refused_counter->inc();
        boost::system::error_code ignored;
        socket.close(ignored);
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      if (opt.tls) {
        asio::co_spawn(*loop.io, tls_session(loop, std::move(socket)), asio::detached);
        continue;
      }
      socket.non_blocking(true, ec);  // for io::write_now
      asio::co_spawn(*loop.io, session(loop, std::move(socket)), asio::detached);
    }
  }
};

Server::Server(std::vector<asio::io_context*> loops, ServerOptions options, Handler handler)
    : impl_(std::make_shared<Impl>()) {
  impl_->opt = std::move(options);
  impl_->handler = std::move(handler);
  for (auto* io : loops) {
    auto l = std::make_unique<Loop>();
    l->io = io;
    l->index = impl_->loops.size();
    impl_->loops.push_back(std::move(l));
  }
}

Server::~Server() {
  // Coroutines still suspended on the loops hold the Impl until their io_contexts are destroyed,
  // which is too late for the acceptors it owns: by then the socket service they need is gone.
  // Close them now, while the loops exist (and no longer run).
  for (auto& loop : impl_->loops) loop->acceptor.reset();
}

void Server::start() {
  auto address = asio::ip::make_address(impl_->opt.listen.host);
  uint16_t port = impl_->opt.listen.port;
  for (auto& loop : impl_->loops) {
    auto acc = std::make_unique<io::Acceptor>(*loop->io);
    tcp::endpoint ep(address, port);
    acc->open(ep.protocol());
    acc->set_option(tcp::acceptor::reuse_address(true));
    int one = 1;
    ::setsockopt(acc->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    acc->bind(ep);
    acc->listen(asio::socket_base::max_listen_connections);
    port = acc->local_endpoint().port();  // the rest bind the same port when 0 was asked
    loop->acceptor = std::move(acc);
  }
  impl_->port = port;
  for (auto& loop : impl_->loops) {
    asio::co_spawn(*loop->io, impl_->accept_loop(*loop), asio::detached);
    asio::co_spawn(*loop->io, impl_->sweep(*loop), asio::detached);
  }
}

void Server::begin_drain() {
  impl_->draining.store(true);
  for (auto& loop : impl_->loops) {
    asio::post(*loop->io, [impl = impl_, l = loop.get()] {
      boost::system::error_code ignored;
      if (l->acceptor) l->acceptor->close(ignored);
      for (auto& c : l->conns) {
        if (c.drain) c.drain();
        else if (!c.busy) c.socket->cancel(ignored);
      }
    });
  }
}

size_t Server::connections() const { return impl_->connections.load(); }
size_t Server::in_flight() const { return impl_->in_flight.load(); }
uint16_t Server::port() const { return impl_->port; }

}  // namespace nodeops::http
