// Runs an Adapter's probe calls over HTTP and hands the replies back to it. Shared by the gateway's
// health tracker and the exporter, so both see a node the same way.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <map>
#include <memory>
#include <string>

#include "chains/adapter.h"
#include "core/http.h"
#include "core/units.h"

namespace nodeops::chains {

/// @brief Keeps one keep-alive pool per origin; lives on one event loop.
class Prober {
 public:
  /// A reply larger than `max_reply_bytes` fails its call (http too_large) before it is buffered.
  explicit Prober(boost::asio::io_context& io, uint64_t max_reply_bytes = 16ull << 20);
  /// Runs every call of the probe (one after the other, on kept-alive connections) within
  /// `timeout` in total, then parses. Never throws.
  boost::asio::awaitable<NodeStatus> probe(const Adapter& adapter, Duration timeout);

 private:
  boost::asio::io_context& io_;
  uint64_t max_reply_bytes_;
  std::map<std::string, std::unique_ptr<http::ClientPool>> pools_;
};

}  // namespace nodeops::chains
