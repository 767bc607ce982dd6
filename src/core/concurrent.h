// Running several coroutines at once on one event loop and waiting for all of them.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <memory>

namespace nodeops {

/// Runs `fn(0) ... fn(n - 1)` (each returning asio::awaitable<void>) concurrently on `io` and
/// returns when every one has finished. An exception from one is swallowed so the others and the
/// caller still complete: callers report failures through their results, not by throwing.
template <typename Fn>
boost::asio::awaitable<void> for_each_concurrently(boost::asio::io_context& io, size_t n, Fn fn) {
  namespace asio = boost::asio;
  if (n == 0) co_return;
  auto remaining = std::make_shared<size_t>(n);
  // A timer that never fires on its own: the last finisher cancels it, which wakes the caller.
  asio::steady_timer all_done(io, asio::steady_timer::time_point::max());
  for (size_t i = 0; i < n; ++i) {
    asio::co_spawn(
        io,
        [&fn, &all_done, remaining, i]() -> asio::awaitable<void> {
          try {
            co_await fn(i);
          } catch (...) {
          }
          if (--*remaining == 0) all_done.cancel();
        },
        asio::detached);
  }
  co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
}

}  // namespace nodeops
