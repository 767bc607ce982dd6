#include <boost/asio.hpp>

#include <deque>

#include "core/http.h"
#include "core/http_io.h"
#include "core/http_message.h"
#include "core/metrics.h"

namespace nodeops::http {
using tcp = asio::ip::tcp;

std::string_view to_string(ClientResponse::Error e) {
  switch (e) {
    case ClientResponse::Error::none: return "none";
    case ClientResponse::Error::connect: return "connect";
    case ClientResponse::Error::timeout: return "timeout";
    case ClientResponse::Error::io: return "io";
    case ClientResponse::Error::too_large: return "too_large";
    case ClientResponse::Error::protocol: return "protocol";
  }
  return "io";
}

namespace {

using Clock = std::chrono::steady_clock;

// One keep-alive connection to the origin with its read buffer and the timer that bounds an exchange.
struct Connection {
  io::Socket socket;
  MessageReader reader;
  asio::steady_timer timer;
  uint64_t generation = 0;  // a timer expiry queued before re-arming must not cancel the next exchange
  bool timed_out = false;
  Connection(asio::io_context& io, uint64_t max_response)
      : socket(io), reader(MessageReader::Kind::response, max_response, 64 * 1024), timer(io) {}
};
using ConnectionPtr = std::shared_ptr<Connection>;

void arm(const ConnectionPtr& c, Clock::time_point deadline) {
  c->timed_out = false;
  c->timer.expires_at(deadline);
  c->timer.async_wait([c, generation = ++c->generation](const boost::system::error_code& ec) {
    if (ec || c->generation != generation) return;
    c->timed_out = true;
    boost::system::error_code ignored;
    c->socket.cancel(ignored);
  });
}

void disarm(Connection& c) {
  ++c.generation;
  c.timer.cancel();
}

}  // namespace

struct ClientPool::Impl {
  asio::io_context& io;
  std::string host;
  uint16_t port;
  std::string host_header;
  size_t max_idle;
  uint64_t max_response;
  std::deque<ConnectionPtr> idle;
  size_t open = 0;
  metrics::Gauge* gauge = nullptr;

  Impl(asio::io_context& i) : io(i) {}

  void opened() {
    ++open;
    if (gauge) gauge->inc();
  }
  void closed() {
    --open;
    if (gauge) gauge->dec();
  }

  asio::awaitable<ConnectionPtr> connect(Clock::time_point deadline, ClientResponse& out) {
    auto c = std::make_shared<Connection>(io, max_response);
    arm(c, deadline);
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(host, ec);
    if (!ec) {
      std::tie(ec) = co_await c->socket.async_connect(tcp::endpoint(addr, port), io::nothrow);
    } else {
      tcp::resolver resolver(io);
      auto [rec, results] = co_await resolver.async_resolve(host, std::to_string(port), io::nothrow);
      if (rec) {
        disarm(*c);
        out.error = c->timed_out ? ClientResponse::Error::timeout : ClientResponse::Error::connect;
        out.message = "resolve " + host + ": " + rec.message();
        co_return nullptr;
      }
      std::tie(ec, std::ignore) = co_await asio::async_connect(c->socket, results, io::nothrow);
    }
    disarm(*c);
    if (ec || c->timed_out) {
      out.error = c->timed_out ? ClientResponse::Error::timeout : ClientResponse::Error::connect;
      out.message = "connect " + host + ":" + std::to_string(port) + ": " +
                    (c->timed_out ? std::string("timed out") : ec.message());
      co_return nullptr;
    }
    c->socket.set_option(tcp::no_delay(true), ec);
    c->socket.non_blocking(true, ec);  // for io::write_now
    opened();
    co_return c;
  }

  // One exchange on one connection. `stale` is set when it failed before any byte of the answer
  // arrived (on a reused connection that is a keep-alive the peer had closed).
  asio::awaitable<ClientResponse> exchange(const ConnectionPtr& c, const std::string& head, const std::string& body,
                                           Clock::time_point deadline, bool& stale, bool& keep) {
    ClientResponse out;
    arm(c, deadline);
    boost::system::error_code ec;
    auto rest = io::write_now(c->socket, {asio::buffer(head), asio::buffer(body)}, ec);
    if (!ec && !io::empty(rest)) std::tie(ec, std::ignore) = co_await asio::async_write(c->socket, rest, io::nothrow);
    if (ec || c->timed_out) {
      disarm(*c);
      stale = !c->timed_out;
      out.error = c->timed_out ? ClientResponse::Error::timeout : ClientResponse::Error::io;
      out.message = "write: " + (c->timed_out ? std::string("timed out") : ec.message());
      co_return out;
    }
    auto& reader = c->reader;
    bool got_some = false;
    auto res = reader.parse();
    while (res == MessageReader::Result::incomplete) {
      auto [rec, n] = co_await c->socket.async_read_some(io::read_space(reader), io::nothrow);
      if (c->timed_out) {
        disarm(*c);
        out.error = ClientResponse::Error::timeout;
        out.message = "read: timed out";
        co_return out;
      }
      if (rec == asio::error::eof) {
        res = reader.finish();
        break;
      }
      if (rec) {
        disarm(*c);
        stale = !got_some && rec == asio::error::connection_reset;
        out.error = ClientResponse::Error::io;
        out.message = "read: " + rec.message();
        co_return out;
      }
      got_some = true;
      reader.commit(n);
      res = reader.parse();
    }
    disarm(*c);
    if (res == MessageReader::Result::error) {
      switch (reader.error()) {
        case MessageReader::Error::body_too_large: out.error = ClientResponse::Error::too_large; break;
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
    out.body = std::move(reader.body());
    keep = reader.head().keep_alive && !reader.buffered();
    reader.next();
    co_return out;
  }
};

ClientPool::ClientPool(asio::io_context& io, std::string host, uint16_t port, size_t max_idle, uint64_t max_response)
    : impl_(std::make_shared<Impl>(io)) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->host_header = impl_->host + ":" + std::to_string(port);
  impl_->max_idle = max_idle;
  impl_->max_response = max_response;
}

ClientPool::~ClientPool() {
  if (impl_->gauge) impl_->gauge->dec(static_cast<double>(impl_->open));
}

void ClientPool::set_connections_gauge(metrics::Gauge* gauge) { impl_->gauge = gauge; }

asio::awaitable<ClientResponse> ClientPool::request(std::string_view method, std::string_view target, std::string body,
                                                    Duration timeout, std::string_view content_type,
                                                    const Headers& headers) {
  auto impl = impl_;  // keeps the pool's state alive across suspension
  // The request head is formatted by hand (see http_server.cc's write() for why).
  std::string head;
  head.reserve(128 + target.size());
  head.append(method.data(), method.size());
  head += ' ';
  head.append(target.data(), target.size());
  head += " HTTP/1.1\r\nHost: ";
  head += impl->host_header;
  head += "\r\nUser-Agent: nodeops";
  for (const auto& [name, value] : headers) {
    head += "\r\n";
    head += name;
    head += ": ";
    head += value;
  }
  if (!body.empty() || method == "POST") {
    head += "\r\nContent-Type: ";
    head.append(content_type.data(), content_type.size());
    head += "\r\nContent-Length: ";
    head += std::to_string(body.size());
  }
  head += "\r\n\r\n";

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
    out = co_await impl->exchange(c, head, body, deadline, stale, keep);
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
