#include <boost/asio.hpp>
#include <boost/intrusive/list.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>

#include <deque>
#include <optional>

#include "core/http.h"
#include "core/http_io.h"
#include "core/http_message.h"
#include "core/metrics.h"
#include "core/tls_client.h"

namespace nodeops::http {
using namespace std::string_view_literals;
using tcp = asio::ip::tcp;

std::string_view to_string(ClientResponse::Error e) {
  switch (e) {
    case ClientResponse::Error::none: return "none";
    case ClientResponse::Error::connect: return "connect";
    case ClientResponse::Error::timeout: return "timeout";
    case ClientResponse::Error::io: return "io";
    case ClientResponse::Error::too_large: return "too_large";
    case ClientResponse::Error::protocol: return "protocol";
    case ClientResponse::Error::over_budget: return "over_budget";
    case ClientResponse::Error::tls: return "tls";
  }
  return "io";
}

namespace {

using io::Clock;
namespace bi = boost::intrusive;
// TLS is OpenSSL doing the socket I/O itself (SSL_set_fd on the non-blocking socket), with Asio
// only waiting for readiness: a request then costs one SSL_write and one SSL_read beside the same
// epoll waits as a plain one. Asio's ssl::stream copies every byte through a BIO pair and runs a
// composed operation per read and write: twice the instructions of this (bench/RESULTS.md).
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
using SslPtr = std::unique_ptr<SSL, SslFree>;

/// A connection's TLS session, as the stream type exchange() is instantiated for.
struct TlsSession {
  io::Socket& socket;
  SSL* ssl;
};

// SSL_get_error needs the thread's OpenSSL error queue empty before each call. Clearing it before
// every read and write cost ~5% of a TLS request (a thread-local lookup each time), so instead
// this file never leaves an error there: every failure drains it (ssl_outcome, ssl_error_text),
// and only the rare paths (context, handshake) clear it beforehand. Nothing else here uses OpenSSL.
//
// What an SSL_read/SSL_write/SSL_connect result `n` means when it is not progress: a readiness to
// wait for (`wait` set, ec clear), the end of the stream (eof), or an error.
struct SslOutcome {
  std::optional<io::Socket::wait_type> wait;
  boost::system::error_code ec;
  std::string why;  // for SSL errors: OpenSSL's text
};
SslOutcome ssl_outcome(SSL* ssl, int n) {
  int saved_errno = errno;
  SslOutcome out;
  switch (SSL_get_error(ssl, n)) {
    case SSL_ERROR_WANT_READ: out.wait = io::Socket::wait_read; return out;
    case SSL_ERROR_WANT_WRITE: out.wait = io::Socket::wait_write; return out;
    case SSL_ERROR_ZERO_RETURN: out.ec = asio::error::eof; return out;
    case SSL_ERROR_SYSCALL:
      out.ec = saved_errno ? boost::system::error_code(saved_errno, boost::system::system_category())
                           : boost::system::error_code(asio::error::eof);
      ERR_clear_error();
      return out;
    default:
      out.why = tls::error_text();  // drains the queue
      out.ec = asio::error::fault;
      return out;
  }
}

// One keep-alive connection to the origin with its read buffer. While an exchange (or the connect)
// runs, it is on its pool's busy list with a deadline.
struct Connection : bi::list_base_hook<bi::link_mode<bi::auto_unlink>> {
  io::Socket socket;
  SslPtr tls;  // https connections only: a null pointer on plain ones
  MessageReader reader;
  io::Deadline deadline;
  Connection(asio::io_context& io, uint64_t max_response)
      : socket(io), reader(MessageReader::Kind::response, max_response, 64 * 1024) {}
};
using ConnectionPtr = std::unique_ptr<Connection>;

}  // namespace

struct ClientPool::Impl : std::enable_shared_from_this<ClientPool::Impl> {
  // Deadlines are checked by one timer per pool that runs only while an exchange does, every
  // kSweep: a timer armed and cancelled per exchange cost ~3% of a proxied request.
  static constexpr Duration kSweep{10};

  asio::io_context& io;
  std::string host;
  uint16_t port;
  std::string host_header;
  size_t max_idle;
  uint64_t max_response;
  std::deque<ConnectionPtr> idle;
  bi::list<Connection, bi::constant_time_size<false>> busy;
  bool sweeping = false;
  size_t open = 0;
  metrics::Gauge* gauge = nullptr;
  Headers headers;  // sent with every request
  // TLS (https): the context this pool's connections share, or why it could not be built.
  tls::ContextPtr tls;
  std::string tls_error;

  Impl(asio::io_context& i) : io(i) {}
  ~Impl() { busy.clear(); }  // connections destroyed later (at shutdown) then have nothing to unlink from

  void begin(Connection& c, Clock::time_point deadline) {
    c.deadline.arm(deadline);
    busy.push_back(c);
    if (!sweeping) {
      sweeping = true;
      asio::co_spawn(io, sweep(shared_from_this()), asio::detached);
    }
  }
  static void end(Connection& c) { c.unlink(); }

  asio::awaitable<void> sweep([[maybe_unused]] std::shared_ptr<Impl> self) {  // keeps the pool alive while it runs
    asio::steady_timer timer(io);
    while (!busy.empty()) {
      timer.expires_after(kSweep);
      co_await timer.async_wait(io::nothrow);
      auto now = Clock::now();
      for (auto& c : busy) {
        if (c.deadline.expire(now)) {
          boost::system::error_code ignored;
          c.socket.cancel(ignored);
        }
      }
    }
    sweeping = false;
  }

  // Host names are resolved within the caller's deadline (getaddrinfo runs on Asio's resolver
  // thread and cannot be cancelled, so the wait for it is what is bounded) and the answer is kept
  // for kDnsTtl, so a slow resolver costs one attempt, not every connect.
  static constexpr Duration kDnsTtl{30000};
  std::vector<tcp::endpoint> resolved;
  Clock::time_point resolved_until{};

  asio::awaitable<std::vector<tcp::endpoint>> resolve(Clock::time_point deadline, std::string& why) {
    if (Clock::now() < resolved_until) co_return resolved;
    struct Lookup {
      bool done = false;
      boost::system::error_code ec;
      std::vector<tcp::endpoint> endpoints;
    };
    auto lookup = std::make_shared<Lookup>();
    auto timer = std::make_shared<asio::steady_timer>(io, deadline);
    auto resolver = std::make_shared<tcp::resolver>(io);
    resolver->async_resolve(host, std::to_string(port),
                            [lookup, timer, resolver](boost::system::error_code ec, tcp::resolver::results_type r) {
                              lookup->done = true;
                              lookup->ec = ec;
                              for (const auto& e : r) lookup->endpoints.push_back(e.endpoint());
                              timer->cancel();
                            });
    co_await timer->async_wait(io::nothrow);
    if (!lookup->done) {
      resolver->cancel();
      why = "timed out";
      co_return std::vector<tcp::endpoint>{};
    }
    if (lookup->ec || lookup->endpoints.empty()) {
      why = lookup->ec ? lookup->ec.message() : "no address";
      co_return std::vector<tcp::endpoint>{};
    }
    resolved = lookup->endpoints;
    resolved_until = Clock::now() + kDnsTtl;
    co_return resolved;
  }

  void opened() {
    ++open;
    if (gauge) gauge->inc();
  }
  void closed() {
    --open;
    if (gauge) gauge->dec();
  }

  asio::awaitable<ConnectionPtr> connect(Clock::time_point deadline, ClientResponse& out) {
    auto c = std::make_unique<Connection>(io, max_response);
    begin(*c, deadline);
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(host, ec);
    if (!ec) {
      std::tie(ec) = co_await c->socket.async_connect(tcp::endpoint(addr, port), io::nothrow);
    } else {
      std::string why;
      auto endpoints = co_await resolve(deadline, why);
      if (endpoints.empty()) {
        end(*c);
        out.error = Clock::now() >= deadline ? ClientResponse::Error::timeout : ClientResponse::Error::connect;
        out.message = "resolve " + host + ": " + why;
        co_return nullptr;
      }
      std::tie(ec, std::ignore) = co_await asio::async_connect(c->socket, endpoints, io::nothrow);
    }
    if (ec || c->deadline.passed) {
      end(*c);
      out.error = c->deadline.passed ? ClientResponse::Error::timeout : ClientResponse::Error::connect;
      out.message = "connect " + host + ":" + std::to_string(port) + ": " +
                    (c->deadline.passed ? std::string("timed out") : ec.message());
      co_return nullptr;
    }
    c->socket.set_option(tcp::no_delay(true), ec);
    if (tls && !co_await handshake(*c, out)) {
      end(*c);
      co_return nullptr;
    }
    end(*c);
    c->socket.non_blocking(true, ec);  // for io::write_now
    opened();
    co_return c;
  }

  // The TLS handshake on a connected socket, within the connection's deadline. A failure is
  // Error::tls with OpenSSL's reason, the certificate's own when verification refused it.
  asio::awaitable<bool> handshake(Connection& c, ClientResponse& out) {
    boost::system::error_code ec;
    c.socket.non_blocking(true, ec);  // OpenSSL reads and writes it directly
    c.tls.reset(SSL_new(tls.get()));
    SSL* s = c.tls.get();
    std::string why;
    if (!s || !SSL_set_fd(s, c.socket.native_handle())) why = "cannot create a TLS session: " + tls::error_text();
    if (why.empty()) {
      tls::expect_peer(s, host);
      SSL_set_connect_state(s);
    }
    while (why.empty() && !c.deadline.passed) {
      ERR_clear_error();
      errno = 0;
      int n = SSL_do_handshake(s);
      if (n == 1) co_return true;
      auto r = ssl_outcome(s, n);
      if (r.wait) {
        auto [wec] = co_await c.socket.async_wait(*r.wait, io::nothrow);
        if (wec && !c.deadline.passed) why = wec.message();
        continue;
      }
      why = tls::handshake_failure(
          s, !r.why.empty() ? r.why : r.ec == asio::error::eof ? "the peer closed the connection" : r.ec.message());
    }
    out.error = c.deadline.passed ? ClientResponse::Error::timeout : ClientResponse::Error::tls;
    if (c.deadline.passed) why = "timed out";
    out.message = "tls handshake with " + host + ":" + std::to_string(port) + ": " + why;
    co_return false;
  }

  // One exchange on one connection. `stale` is set when it failed before any byte of the answer
  // arrived (on a reused connection that is a keep-alive the peer had closed).
  // `Stream` is the plain socket or its TLS session: one code path, no indirection per read.
  template <typename Stream>
  asio::awaitable<ClientResponse> exchange(Stream& stream, Connection* c, const std::string& head,
                                           const std::string& body, Clock::time_point deadline, bool& stale,
                                           bool& keep) {
    ClientResponse out;
    begin(*c, deadline);
    boost::system::error_code ec;
    if constexpr (std::is_same_v<Stream, io::Socket>) {
      auto rest = io::write_now(stream, {asio::buffer(head), asio::buffer(body)}, ec);
      if (!ec && !io::empty(rest)) std::tie(ec, std::ignore) = co_await asio::async_write(stream, rest, io::nothrow);
    } else {
      // request() put the body into `head`: one record, one send.
      size_t sent = 0;
      while (!ec && sent < head.size() && !c->deadline.passed) {
        errno = 0;
        int n = SSL_write(stream.ssl, head.data() + sent, static_cast<int>(head.size() - sent));
        if (n > 0) {
          sent += static_cast<size_t>(n);
          continue;
        }
        auto r = ssl_outcome(stream.ssl, n);
        if (r.wait) std::tie(ec) = co_await stream.socket.async_wait(*r.wait, io::nothrow);
        else ec = r.ec;
      }
    }
    if (ec || c->deadline.passed) {
      end(*c);
      stale = !c->deadline.passed;
      out.error = c->deadline.passed ? ClientResponse::Error::timeout : ClientResponse::Error::io;
      out.message = "write: " + (c->deadline.passed ? std::string("timed out") : ec.message());
      co_return out;
    }
    auto& reader = c->reader;
    bool got_some = false;
    auto res = reader.parse();
    while (res == MessageReader::Result::incomplete) {
      boost::system::error_code rec;
      size_t n = 0;
      if constexpr (std::is_same_v<Stream, io::Socket>) {
        std::tie(rec, n) = co_await stream.async_read_some(io::read_space(reader), io::nothrow);
      } else {
        auto space = io::read_space(reader);
        for (;;) {
          errno = 0;
          int got = SSL_read(stream.ssl, space.data(), static_cast<int>(std::min<size_t>(space.size(), INT32_MAX)));
          if (got > 0) {
            n = static_cast<size_t>(got);
            break;
          }
          auto r = ssl_outcome(stream.ssl, got);
          if (!r.wait) {
            rec = r.ec;
            break;
          }
          std::tie(rec) = co_await stream.socket.async_wait(*r.wait, io::nothrow);
          if (rec || c->deadline.passed) break;
        }
      }
      if (c->deadline.passed) {
        end(*c);
        out.error = ClientResponse::Error::timeout;
        out.message = "read: timed out";
        co_return out;
      }
      // A TLS peer that closes without close_notify ends the stream as a plain one does (the
      // context ignores the missing close_notify; HTTP framing says whether the answer is whole).
      if (rec == asio::error::eof) {
        res = reader.finish();
        break;
      }
      if (rec) {
        end(*c);
        stale = !got_some && rec == asio::error::connection_reset;
        out.error = ClientResponse::Error::io;
        out.message = "read: " + rec.message();
        co_return out;
      }
      got_some = true;
      reader.commit(n);
      res = reader.parse();
    }
    end(*c);
    if (res == MessageReader::Result::error) {
      switch (reader.error()) {
        case MessageReader::Error::body_too_large: out.error = ClientResponse::Error::too_large; break;
        case MessageReader::Error::over_budget: out.error = ClientResponse::Error::over_budget; break;
        case MessageReader::Error::truncated:
          stale = !got_some;
          out.error = ClientResponse::Error::io;
          break;
        default: out.error = ClientResponse::Error::protocol; break;
      }
      out.message = "read: " + reader.error_message();
      co_return out;
    }
    out.status = reader.head().status;
    if (!reader.head().retry_after.empty()) out.retry_after = reader.head().retry_after;
    out.body = std::move(reader.body());
    out.charged = reader.take_charge();
    keep = reader.head().keep_alive && !reader.buffered();
    reader.next();
    co_return out;
  }
};


ClientPool::ClientPool(asio::io_context& io, std::string host, uint16_t port, size_t max_idle, uint64_t max_response,
                       TlsOptions tls, Headers headers)
    : impl_(std::make_shared<Impl>(io)) {
  impl_->host = std::move(host);
  impl_->port = port;
  bool default_port = port == (tls.enabled ? 443 : 80);
  std::string bracketed = impl_->host.find(':') != std::string::npos ? "[" + impl_->host + "]" : impl_->host;
  // Virtual hosts (providers behind a CDN) match the Host header exactly: no default port in it.
  impl_->host_header = default_port ? bracketed : bracketed + ":" + std::to_string(port);
  impl_->max_idle = max_idle;
  impl_->max_response = max_response;
  impl_->headers = std::move(headers);
  if (tls.enabled) {
    impl_->tls = tls::make_context(tls, impl_->tls_error);
    // Read what the socket has in one read(2), not a record's 5-byte header and then its body.
    if (impl_->tls) SSL_CTX_set_read_ahead(impl_->tls.get(), 1);
  }
}

ClientPool::~ClientPool() {
  if (impl_->gauge) impl_->gauge->dec(static_cast<double>(impl_->open));
}

void ClientPool::set_connections_gauge(metrics::Gauge* gauge) { impl_->gauge = gauge; }

asio::awaitable<ClientResponse> ClientPool::request(std::string_view method, std::string_view target, std::string body,
                                                    Duration timeout, std::string_view content_type,
                                                    const Headers& headers, ReplyLimits limits) {
  auto impl = impl_;  // keeps the pool's state alive across suspension
  // The request head is formatted by hand (see http_server.cc's write() for why).
  std::string head;
  head.reserve(128 + target.size());
  head.append(method.data(), method.size());
  head += ' ';
  head.append(target.data(), target.size());
  head += " HTTP/1.1\r\nHost: "sv;
  head += impl->host_header;
  head += "\r\nUser-Agent: nodeops"sv;
  for (const auto& [name, value] : impl->headers) {
    head += "\r\n"sv;
    head += name;
    head += ": "sv;
    head += value;
  }
  for (const auto& [name, value] : headers) {
    head += "\r\n"sv;
    head += name;
    head += ": "sv;
    head += value;
  }
  if (!body.empty() || method == "POST") {
    head += "\r\nContent-Type: "sv;
    head.append(content_type.data(), content_type.size());
    head += "\r\nContent-Length: "sv;
    head += std::to_string(body.size());
  }
  head += "\r\n\r\n"sv;
  if (impl->tls) {
    if (!impl->tls_error.empty()) co_return ClientResponse{ClientResponse::Error::tls, impl->tls_error};
    // One TLS record (and one send) for head and body, rather than one each.
    head += body;
    body.clear();
  }

  auto deadline = Clock::now() + timeout;
  for (int attempt = 0;; ++attempt) {
    ConnectionPtr c;
    bool reused = false;
    ClientResponse out;
    if (!impl->idle.empty()) {
      c = std::move(impl->idle.back());
      impl->idle.pop_back();
      reused = true;
    } else {
      c = co_await impl->connect(deadline, out);
      if (!c) co_return out;
    }
    bool stale = false;
    bool keep = false;
    c->reader.set_max_body(limits.max_body ? std::min(limits.max_body, impl->max_response) : impl->max_response);
    c->reader.charge_to(limits.buffered, limits.max_buffered);
    if (c->tls) {
      TlsSession session{c->socket, c->tls.get()};
      out = co_await impl->exchange(session, c.get(), head, body, deadline, stale, keep);
    } else {
      out = co_await impl->exchange(c->socket, c.get(), head, body, deadline, stale, keep);
    }
    if (out.ok() && keep && impl->idle.size() < impl->max_idle) {
      impl->idle.push_back(std::move(c));
    } else {
      boost::system::error_code ignored;
      c->socket.close(ignored);
      impl->closed();
    }
    if (!out.ok() && reused && stale && attempt == 0) continue;  // the peer closed an idle connection
    co_return out;
  }
}

}  // namespace nodeops::http
