// NodeRpc over JSON-RPC/HTTP to a local anvil node: the real side of the lockstep miner's seam.
// Blocking calls, each with its own deadline; Asio and Beast stay inside anvil_rpc.cc.
#pragma once

#include <cstdint>
#include <memory>

#include "core/units.h"
#include "stack/lockstep.h"

namespace nodeops::stack {

/// A client of the anvil node at 127.0.0.1:`port`. Owns its own event loop, so each follower
/// thread can own its clients without sharing anything.
std::unique_ptr<NodeRpc> make_anvil_rpc(uint16_t port, Duration timeout);

}  // namespace nodeops::stack
