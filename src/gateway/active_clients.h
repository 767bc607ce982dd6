// Distinct client addresses over the last five minutes, estimated by linear counting over one
// bitmap per minute: lock-free on the request path, a few KiB whatever the traffic.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

namespace nodeops::gateway {

class ActiveClients {
 public:
  void seen(std::string_view address, int64_t now_seconds);
  /// Estimated distinct addresses in the current minute and the four before it.
  double estimate(int64_t now_seconds) const;

 private:
  static constexpr size_t kBits = 8192;
  static constexpr size_t kWords = kBits / 64;
  struct Minute {
    std::atomic<int64_t> minute{-1};
    std::array<std::atomic<uint64_t>, kWords> bits{};
  };
  std::array<Minute, 5> minutes_;
};

}  // namespace nodeops::gateway
