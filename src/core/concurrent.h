// Running coroutines without losing their failures: several at once on one event loop with a
// bound on how many run together, and detached ones whose exceptions are logged, not swallowed.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <string>

#include "core/log.h"

namespace nodeops {

/// Completion handler for co_spawn of a coroutine nobody awaits: an exception that ends it is
/// logged as an error with `what` (which component, which task), never dropped in silence.
/// `on_failure`, when given, runs after the log line (e.g. to roll back or exit).
inline auto log_failure(std::string what, std::function<void()> on_failure = {}) {
  return [what = std::move(what), on_failure = std::move(on_failure)](std::exception_ptr e) {
    if (!e) return;
    std::string why = "unknown exception";
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      why = ex.what();
    } catch (...) {
    }
    log::error("background task failed", {{"task", what}, {"error", why}});
    if (on_failure) on_failure();
  };
}

/// Calls `tick()` every `interval` on `io` for as long as `io` runs (a file watched for changes);
/// an exception that ends it is logged with `what`. Whatever `tick` refers to must outlive `io`'s run.
template <typename Tick>
void every(boost::asio::io_context& io, std::chrono::milliseconds interval, Tick tick, std::string what) {
  namespace asio = boost::asio;
  asio::co_spawn(
      io,
      [&io, interval, tick = std::move(tick)]() -> asio::awaitable<void> {
        asio::steady_timer timer(io);
        for (;;) {
          timer.expires_after(interval);
          co_await timer.async_wait(asio::use_awaitable);
          tick();
        }
      },
      log_failure(std::move(what)));
}

/// Runs `fn(0) ... fn(n - 1)` (each returning asio::awaitable<void>) on `io`, at most
/// `max_concurrent` at a time (0: all at once), and returns when every one has finished. An
/// exception from one is logged with `what` and does not stop the others: callers report failures
/// through their results, not by throwing.
template <typename Fn>
boost::asio::awaitable<void> for_each_concurrently(boost::asio::io_context& io, size_t n, Fn fn,
                                                   size_t max_concurrent = 0, std::string_view what = "concurrent task") {
  namespace asio = boost::asio;
  if (n == 0) co_return;
  size_t workers = max_concurrent == 0 ? n : std::min(n, max_concurrent);
  struct Shared {
    size_t next = 0;
    size_t running;
  };
  auto shared = std::make_shared<Shared>(Shared{0, workers});
  // A timer that never fires on its own: the last worker to finish cancels it, waking the caller.
  asio::steady_timer all_done(io, asio::steady_timer::time_point::max());
  for (size_t w = 0; w < workers; ++w) {
    asio::co_spawn(
        io,
        [&fn, &all_done, shared, n, what]() -> asio::awaitable<void> {
          // Each worker takes the next index until none is left: a bounded pool over the n tasks.
          while (shared->next < n) {
            size_t i = shared->next++;
            try {
              co_await fn(i);
            } catch (const std::exception& e) {
              log::error("concurrent task failed", {{"task", what}, {"index", i}, {"error", e.what()}});
            }
          }
          if (--shared->running == 0) all_done.cancel();
        },
        asio::detached);
  }
  // co_spawn may run a worker inline up to its first suspension: when none suspends (every call
  // refused by policy, say), all have finished already, and the cancel() found no wait to wake.
  if (shared->running > 0) co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
}

}  // namespace nodeops
