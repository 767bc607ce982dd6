// A chain for the block follower's tests (follower_test.cc, subscriptions_test.cc): canonical
// blocks are (number, fork) pairs that link to their parent on the same fork unless the fork began
// above it, with a header JSON naming both. Blocks can be made to fail (`fail_at`), and the source
// can report that another node answered (`switch_next`).
#pragma once

#include <boost/asio.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gateway/follower.h"

namespace nodeops::gateway::fake {

inline BlockHash h(uint64_t number, uint8_t fork) {
  BlockHash out{};
  out[0] = fork;
  for (int i = 0; i < 8; ++i) out[31 - i] = static_cast<uint8_t>(number >> (8 * i));
  return out;
}

struct FakeChain : BlockSource {
  std::vector<uint8_t> forks;  // fork id of block i
  std::optional<uint64_t> fail_at;
  uint64_t switched = 0;
  uint64_t switch_next = 0;  // switches the next block() call makes (another node answered)

  void extend(size_t n, uint8_t fork = 0) {
    for (size_t i = 0; i < n; ++i) forks.push_back(fork);
  }
  uint64_t head() const { return forks.size() - 1; }
  boost::asio::awaitable<std::optional<BlockHeader>> block(uint64_t n) override {
    switched += std::exchange(switch_next, 0);
    if (n >= forks.size() || (fail_at && n == *fail_at)) co_return std::nullopt;
    auto json = std::make_shared<const std::string>("{\"number\":" + std::to_string(n) +
                                                    ",\"fork\":" + std::to_string(forks[n]) + "}");
    co_return BlockHeader{n, h(n, forks[n]), n == 0 ? BlockHash{} : h(n - 1, forks[n - 1]), json};
  }
  uint64_t switches() const override { return switched; }
};

/// One step of `f` towards `target`, run to completion.
inline ChainFollower::StepReport step(ChainFollower& f, BlockSource& src, uint64_t target) {
  boost::asio::io_context io;
  ChainFollower::StepReport out;
  boost::asio::co_spawn(
      io, [&]() -> boost::asio::awaitable<void> { out = co_await f.step(src, target); }, boost::asio::detached);
  io.run();
  return out;
}

}  // namespace nodeops::gateway::fake
