#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <list>

#include "core/http.h"
#include "core/log.h"
#include "core/metrics.h"

namespace nodeops::http {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
namespace {
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
}

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

// Shared between a request read and the timer that bounds it (both on the connection's loop).
struct ReadDeadline {
  bool armed = true;
  bool fired = false;
};

// Per-loop state. Touched only from its own loop.
struct Loop {
  asio::io_context* io;
  std::unique_ptr<tcp::acceptor> acceptor;
  struct Conn {
    beast::tcp_stream* stream;
    bool busy;
  };
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

  // Responses are formatted by hand and sent as one gather write: Beast's serializer costs about
  // a third of a proxied request's instructions (bench/RESULTS.md), and our headers are simple.
  asio::awaitable<void> write(beast::tcp_stream& stream, Response&& resp, bool keep_alive, unsigned version) {
    auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(resp.status));
    std::string head;
    head.reserve(160);
    head += "HTTP/1.1 ";
    head += std::to_string(resp.status);
    head += ' ';
    head.append(reason.data(), reason.size());
    head += "\r\nServer: nodeops\r\nContent-Type: ";
    head += resp.content_type;
    if (resp.status != 204 && resp.status != 304) {
      head += "\r\nContent-Length: ";
      head += std::to_string(resp.body.size());
    }
    for (const auto& [name, value] : resp.headers) {
      head += "\r\n";
      head += name;
      head += ": ";
      head += value;
    }
    if (!keep_alive) head += "\r\nConnection: close";
    else if (version < 11) head += "\r\nConnection: keep-alive";
    head += "\r\n\r\n";
    std::array<asio::const_buffer, 2> buffers{asio::buffer(head), asio::buffer(resp.body)};
    stream.expires_after(opt.write_timeout);
    co_await asio::async_write(stream, buffers, nothrow);
  }

  asio::awaitable<void> session(Loop& loop, tcp::socket socket) {
    auto self = shared_from_this();
    beast::tcp_stream stream(std::move(socket));
    auto entry = loop.conns.insert(loop.conns.end(), Loop::Conn{&stream, false});
    connections.fetch_add(1, std::memory_order_relaxed);
    if (opt.connections_gauge) opt.connections_gauge->inc();
    std::string remote;
    {
      boost::system::error_code ec;
      auto ep = stream.socket().remote_endpoint(ec);
      if (!ec) remote = ep.address().to_string();
    }
    beast::flat_buffer buffer;
    try {
      for (;;) {
        entry->busy = false;
        if (draining.load(std::memory_order_relaxed)) break;
        if (buffer.size() == 0) {
          // Idle keep-alive: wait for the first byte of the next request.
          stream.expires_after(opt.idle_timeout);
          auto [ec, n] = co_await stream.async_read_some(buffer.prepare(8192), nothrow);
          if (ec) break;
          buffer.commit(n);
        }
        entry->busy = true;
        bhttp::request_parser<bhttp::string_body> parser;
        parser.body_limit(opt.max_body);
        parser.header_limit(16 * 1024);
        // Not the stream's own expiry: on timeout it closes the socket, and the 408 could never be
        // sent. A timer cancels the read instead; the connection stays open for the answer.
        stream.expires_never();
        auto read_deadline = std::make_shared<ReadDeadline>();
        asio::steady_timer read_timer(*loop.io, opt.read_timeout);
        read_timer.async_wait([read_deadline, &stream](const boost::system::error_code& tec) {
          if (tec || !read_deadline->armed) return;
          read_deadline->fired = true;
          boost::system::error_code ignored;
          stream.socket().cancel(ignored);
        });
        auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, nothrow);
        (void)n;
        read_deadline->armed = false;  // a completion already queued must not touch the stream
        read_timer.cancel();
        if (read_deadline->fired) ec = beast::error::timeout;
        if (ec) {
          if (ec == bhttp::error::body_limit) {
            co_await write(stream, error(413, "request body is larger than " + std::to_string(opt.max_body) + " bytes"),
                           false, 11);
          } else if (ec == beast::error::timeout) {
            co_await write(stream, error(408, "request not received in time"), false, 11);
          } else if (ec != bhttp::error::end_of_stream && ec != asio::error::eof &&
                     ec != asio::error::connection_reset && ec != asio::error::operation_aborted) {
            co_await write(stream, error(400, "malformed HTTP request: " + ec.message()), false, 11);
          }
          break;
        }
        auto& req = parser.get();
        Request r;
        r.method = std::string(req.method_string());
        r.target = std::string(req.target());
        r.content_type = std::string(req[bhttp::field::content_type]);
        r.authorization = std::string(req[bhttp::field::authorization]);
        auto xff = req["X-Forwarded-For"];
        r.remote_address = xff.empty() ? remote : std::string(xff.substr(0, xff.find(',')));
        r.body = std::move(req.body());
        bool keep_alive = req.keep_alive();
        unsigned version = req.version();
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
        co_await write(stream, std::move(resp), keep_alive, version);
        if (!keep_alive) break;
      }
    } catch (const std::exception& e) {
      log::warn("connection ended by an error", {{"error", e.what()}});
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.socket().close(ignored);
    loop.conns.erase(entry);
    if (opt.connections_gauge) opt.connections_gauge->dec();
    connections.fetch_sub(1, std::memory_order_relaxed);
  }

  asio::awaitable<void> accept_loop(Loop& loop) {
    auto self = shared_from_this();
    while (loop.acceptor && loop.acceptor->is_open()) {
      auto [ec, socket] = co_await loop.acceptor->async_accept(nothrow);
      if (ec) {
        if (ec == asio::error::operation_aborted || !loop.acceptor || !loop.acceptor->is_open()) break;
        // EMFILE and friends: back off briefly instead of spinning.
        asio::steady_timer t(*loop.io, std::chrono::milliseconds(50));
        co_await t.async_wait(nothrow);
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
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
    impl_->loops.push_back(std::move(l));
  }
}

Server::~Server() = default;

void Server::start() {
  auto address = asio::ip::make_address(impl_->opt.listen.host);
  uint16_t port = impl_->opt.listen.port;
  for (auto& loop : impl_->loops) {
    auto acc = std::make_unique<tcp::acceptor>(*loop->io);
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
  }
}

void Server::begin_drain() {
  impl_->draining.store(true);
  for (auto& loop : impl_->loops) {
    asio::post(*loop->io, [impl = impl_, l = loop.get()] {
      boost::system::error_code ignored;
      if (l->acceptor) l->acceptor->close(ignored);
      for (auto& c : l->conns) {
        if (!c.busy) c.stream->socket().cancel(ignored);
      }
    });
  }
}

size_t Server::connections() const { return impl_->connections.load(); }
size_t Server::in_flight() const { return impl_->in_flight.load(); }
uint16_t Server::port() const { return impl_->port; }

}  // namespace nodeops::http
