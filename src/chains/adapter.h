// A chain adapter knows how to ask one kind of node about its health and how to read the answers.
// It does no I/O: it lists HTTP calls and parses their replies, so it is tested with recorded
// responses alone. chains/prober.h runs the calls.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chains/node_status.h"

namespace nodeops::chains {

/// @brief One HTTP call of a probe. `url` is absolute so an adapter may use several bases
/// (Heimdall's CometBFT RPC and its REST API).
struct HttpCall {
  std::string method;  // "GET" or "POST"
  std::string url;
  std::string body;    // JSON for POST, empty for GET
};

/// @brief The reply to one HttpCall. `ok` is false on a transport error (then `error` says why).
struct HttpReply {
  bool ok = false;
  int status = 0;
  std::string body;
  std::string error;
};

class Adapter {
 public:
  virtual ~Adapter() = default;
  /// The calls of one probe; replies come back in the same order.
  virtual std::vector<HttpCall> probe_calls() const = 0;
  /// Never throws and never crashes on garbage: what cannot be read stays unset and `error` says so.
  virtual NodeStatus parse_probe(std::span<const HttpReply> replies) const = 0;
};

/// Target/upstream types: "evm", "beacon", "heimdall", "solana".
/// `extra_url` is an optional second base (Heimdall REST); empty when not used.
/// Returns nullptr for an unknown type.
std::unique_ptr<Adapter> make_adapter(std::string_view type, std::string_view url,
                                      std::string_view extra_url = {});

}  // namespace nodeops::chains
