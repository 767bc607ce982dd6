// Socket types and the write helper shared by http_server.cc and http_client.cc (internal).
#pragma once

#include <boost/asio.hpp>

#include <array>
#include <chrono>
#include <functional>

namespace nodeops::http::io {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Bound to the concrete io_context executor: the type-erased any_io_executor that tcp::socket
// carries cost ~5% of a proxied request's instructions (bench/RESULTS.md).
using Socket = asio::basic_stream_socket<tcp, asio::io_context::executor_type>;
using Acceptor = asio::basic_socket_acceptor<tcp, asio::io_context::executor_type>;
using Buffers = std::array<asio::const_buffer, 2>;  // a head and a body, sent with one sendmsg

inline constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

using Clock = std::chrono::steady_clock;

/// When a connection's current operation must end. Instead of a timer per connection and
/// operation, an operation arms its deadline (a clock read) and one timer sweeps many of them,
/// cancelling the socket's operations the first time expire() says so; the operation then finds
/// `passed` set.
struct Deadline {
  Clock::time_point at = Clock::time_point::max();
  bool passed = false;

  void arm(Clock::time_point when) {
    at = when;
    passed = false;
  }
  void disarm() { at = Clock::time_point::max(); }
  bool expire(Clock::time_point now) {
    if (passed || now < at) return false;
    passed = true;
    return true;
  }
};

/// One client connection as its loop's sweep and drain see it.
struct Connection {
  Socket* socket;
  bool busy = false;
  Deadline deadline;  // swept by one timer per loop (http_server.cc: Server::Impl::sweep)
  /// Set while the connection is a WebSocket: begin_drain() calls it instead of cancelling.
  std::function<void()> drain;
};

/// Writes what the (non-blocking) socket takes right now and returns what is left, usually
/// nothing: a small answer then costs one sendmsg and no trip through the event loop.
/// `ec` is set only for real errors, not for a full socket buffer.
inline Buffers write_now(Socket& socket, Buffers buffers, boost::system::error_code& ec) {
  size_t n = socket.write_some(buffers, ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) ec = {};
  for (auto& b : buffers) {
    size_t take = std::min(n, b.size());
    b += take;
    n -= take;
  }
  return buffers;
}

/// The reader's free space as an Asio buffer, for async_read_some.
template <typename Reader>
asio::mutable_buffer read_space(Reader& reader) {
  auto [data, size] = reader.space();
  return {data, size};
}

inline bool empty(const Buffers& buffers) { return buffers[0].size() == 0 && buffers[1].size() == 0; }

}  // namespace nodeops::http::io
