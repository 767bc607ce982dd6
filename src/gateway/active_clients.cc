#include "gateway/active_clients.h"

#include <cmath>
#include <functional>

namespace nodeops::gateway {

void ActiveClients::seen(std::string_view address, int64_t now_seconds) {
  int64_t minute = now_seconds / 60;
  auto& slot = minutes_[static_cast<size_t>(minute % 5)];
  int64_t current = slot.minute.load(std::memory_order_relaxed);
  if (current != minute && slot.minute.compare_exchange_strong(current, minute)) {
    for (auto& w : slot.bits) w.store(0, std::memory_order_relaxed);
  }
  size_t h = std::hash<std::string_view>{}(address) % kBits;
  // Read first: a returning client's bit is already set, and a write would pull the cache line
  // away from the other event loops on every request.
  auto& word = slot.bits[h / 64];
  uint64_t bit = uint64_t{1} << (h % 64);
  if ((word.load(std::memory_order_relaxed) & bit) == 0) word.fetch_or(bit, std::memory_order_relaxed);
}

double ActiveClients::estimate(int64_t now_seconds) const {
  int64_t minute = now_seconds / 60;
  std::array<uint64_t, kWords> merged{};
  for (const auto& slot : minutes_) {
    int64_t m = slot.minute.load(std::memory_order_relaxed);
    if (m < 0 || minute - m >= 5) continue;
    for (size_t i = 0; i < kWords; ++i) merged[i] |= slot.bits[i].load(std::memory_order_relaxed);
  }
  size_t zeros = 0;
  for (auto w : merged) zeros += static_cast<size_t>(64 - __builtin_popcountll(w));
  if (zeros == 0) return static_cast<double>(kBits);  // saturated; the estimate is a floor
  return std::round(-static_cast<double>(kBits) * std::log(static_cast<double>(zeros) / kBits));
}

}  // namespace nodeops::gateway
