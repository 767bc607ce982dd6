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
  explicit Prober(boost::asio::io_context& io);
  /// Runs every call of the probe (one after the other, on kept-alive connections) within
  /// `timeout` in total, then parses. Never throws.
  boost::asio::awaitable<NodeStatus> probe(const Adapter& adapter, Duration timeout);

 private:
  boost::asio::io_context& io_;
  std::map<std::string, std::unique_ptr<http::ClientPool>> pools_;
};

}  // namespace nodeops::chains
