// A small Redis client (RESP2) for the response cache's shared tier: GET and SET on one pipelined
// connection per event loop. Commands are written as they come and answered in order by one
// reader; a GET waits for its answer at most its timeout. While Redis is down or slow, calls fail
// fast (GET answers "error", SET is dropped) and the client reconnects by itself with back-off:
// the cache it serves keeps working from its local tier and the upstreams.
//
// Threads: one per event loop; every method runs on that loop.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <optional>
#include <span>
#include <string>

#include "core/units.h"

namespace nodeops::redis {

/// `redis://host:port[/db]` (port 6379 by default); nullopt with `why` set when it is not one.
struct Address {
  std::string host;
  uint16_t port = 6379;
  int db = 0;
};
std::optional<Address> parse_address(std::string_view url, std::string* why);

/// @brief What a GET found: the value, nothing (a miss), or no answer (Redis down, slow or refusing).
struct Lookup {
  enum class Result { hit, miss, error };
  Result result = Result::error;
  std::string value;
};

class Client {
 public:
  struct Options {
    Address address;
    Duration connect_timeout{1000};
    size_t max_pending = 4096;       // commands awaiting their answers; more fail at once
    uint64_t max_value = 64 << 20;   // a larger reply is a broken connection
  };
  Client(boost::asio::io_context& io, Options options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Connects, and keeps reconnecting, until the client is destroyed.
  void start();
  boost::asio::awaitable<Lookup> get(std::string_view key, Duration timeout);
  /// Any command whose answer is a bulk string, e.g. EVAL of a script that returns one (the shared
  /// rate limits, gateway/rate_limit_shared.h); answered like get(): hit with the string, miss on
  /// a nil, error when Redis is down, slow, or answers with an error.
  boost::asio::awaitable<Lookup> call(std::span<const std::string_view> args, Duration timeout);
  /// Stores `value` with a time to live; fire and forget. False when it could not be sent.
  bool set(std::string_view key, std::string_view value, Duration ttl);
  bool connected() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace nodeops::redis
