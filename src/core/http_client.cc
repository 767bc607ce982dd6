#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <deque>

#include "core/http.h"
#include "core/metrics.h"

namespace nodeops::http {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
namespace {
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
}

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

struct ClientPool::Impl {
  asio::any_io_executor ex;
  std::string host;
  uint16_t port;
  std::string host_header;
  size_t max_idle;
  uint64_t max_response;
  std::deque<std::unique_ptr<beast::tcp_stream>> idle;
  size_t open = 0;
  metrics::Gauge* gauge = nullptr;

  void opened() {
    ++open;
    if (gauge) gauge->inc();
  }
  void closed() {
    --open;
    if (gauge) gauge->dec();
  }

  asio::awaitable<std::unique_ptr<beast::tcp_stream>> connect(Duration timeout, ClientResponse& out) {
    auto stream = std::make_unique<beast::tcp_stream>(ex);
    stream->expires_after(timeout);
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(host, ec);
    if (!ec) {
      std::tie(ec) = co_await stream->async_connect(tcp::endpoint(addr, port), nothrow);
    } else {
      tcp::resolver resolver(ex);
      auto [rec, results] = co_await resolver.async_resolve(host, std::to_string(port), nothrow);
      if (rec) {
        out.error = ClientResponse::Error::connect;
        out.message = "resolve " + host + ": " + rec.message();
        co_return nullptr;
      }
      tcp::endpoint ep;
      std::tie(ec, ep) = co_await stream->async_connect(results, nothrow);
    }
    if (ec) {
      out.error = ec == beast::error::timeout ? ClientResponse::Error::timeout : ClientResponse::Error::connect;
      out.message = "connect " + host + ":" + std::to_string(port) + ": " + ec.message();
      co_return nullptr;
    }
    stream->socket().set_option(tcp::no_delay(true), ec);
    opened();
    co_return stream;
  }

  // One exchange on one connection. `reused` marks a keep-alive connection taken from the idle
  // list; `stale` is set when it failed before any byte of the answer arrived.
  asio::awaitable<ClientResponse> exchange(beast::tcp_stream& stream, const std::string& head, const std::string& body,
                                           Duration timeout, bool& stale, bool& keep) {
    ClientResponse out;
    stream.expires_after(timeout);
    std::array<asio::const_buffer, 2> buffers{asio::buffer(head), asio::buffer(body)};
    auto [wec, wn] = co_await asio::async_write(stream, buffers, nothrow);
    (void)wn;
    if (wec) {
      stale = true;
      out.error = wec == beast::error::timeout ? ClientResponse::Error::timeout : ClientResponse::Error::io;
      out.message = "write: " + wec.message();
      co_return out;
    }
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(max_response);
    auto [rec, rn] = co_await bhttp::async_read(stream, buffer, parser, nothrow);
    (void)rn;
    if (rec) {
      if (rec == beast::error::timeout) {
        out.error = ClientResponse::Error::timeout;
      } else if (rec == bhttp::error::body_limit) {
        out.error = ClientResponse::Error::too_large;
      } else if (rec == bhttp::error::end_of_stream || rec == asio::error::eof ||
                 rec == asio::error::connection_reset) {
        stale = buffer.size() == 0 && !parser.got_some();
        out.error = ClientResponse::Error::io;
      } else {
        out.error = ClientResponse::Error::protocol;
      }
      out.message = "read: " + rec.message();
      co_return out;
    }
    auto& res = parser.get();
    out.status = static_cast<int>(res.result_int());
    out.body = std::move(res.body());
    keep = res.keep_alive() && buffer.size() == 0;
    co_return out;
  }
};

ClientPool::ClientPool(asio::any_io_executor executor, std::string host, uint16_t port, size_t max_idle,
                       uint64_t max_response)
    : impl_(std::make_shared<Impl>()) {
  impl_->ex = std::move(executor);
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

  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<beast::tcp_stream> stream;
    bool reused = false;
    ClientResponse out;
    if (!impl->idle.empty()) {
      stream = std::move(impl->idle.back());
      impl->idle.pop_back();
      reused = true;
    } else {
      stream = co_await impl->connect(std::chrono::duration_cast<Duration>(deadline - std::chrono::steady_clock::now()), out);
      if (!stream) co_return out;
    }
    bool stale = false;
    bool keep = false;
    auto left = std::chrono::duration_cast<Duration>(deadline - std::chrono::steady_clock::now());
    if (left <= Duration(0)) left = Duration(1);
    out = co_await impl->exchange(*stream, head, body, left, stale, keep);
    if (out.ok() && keep && impl->idle.size() < impl->max_idle) {
      stream->expires_never();
      impl->idle.push_back(std::move(stream));
    } else {
      boost::system::error_code ignored;
      stream->socket().close(ignored);
      impl->closed();
    }
    if (!out.ok() && reused && stale && attempt == 0) continue;  // the peer closed an idle connection
    co_return out;
  }
}

}  // namespace nodeops::http
