// Structured logs: one JSON object per line on stdout (ts, level, msg, then context fields), so
// Loki, Alloy and jq all read them without a parser of their own.
//
//   log::info("upstream left rotation", {{"chain", "ethereum"}, {"upstream", "a"}, {"lag", 7}});
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <variant>

namespace nodeops::log {

enum class Level { debug, info, warn, error };

struct Field {
  using Value = std::variant<std::string_view, int64_t, double, bool>;
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  template <typename I, typename = std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>>>
  Field(std::string_view k, I v) : key(k), value(static_cast<int64_t>(v)) {}
  std::string_view key;
  Value value;
};

void set_level(Level level);
/// Parses "debug", "info", "warn", "error"; returns false for anything else.
bool parse_level(std::string_view text, Level& out);
bool enabled(Level level);

/// Writes one line atomically (a single write(2)), safe from any thread.
void write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});

inline void debug(std::string_view msg, std::initializer_list<Field> f = {}) {
  if (enabled(Level::debug)) write(Level::debug, msg, f);
}
inline void info(std::string_view msg, std::initializer_list<Field> f = {}) { write(Level::info, msg, f); }
inline void warn(std::string_view msg, std::initializer_list<Field> f = {}) { write(Level::warn, msg, f); }
inline void error(std::string_view msg, std::initializer_list<Field> f = {}) { write(Level::error, msg, f); }

/// @brief Decides which occurrences of a repeated event are logged: the first kFirst, then the
/// 2^k-th (Envoy's ENVOY_LOG_EVERY_POW_2), so a flapping upstream cannot flood the log or stall
/// the loop writing it. Thread-safe; one per event source (an upstream, a chain).
///
///   if (auto n = sampler.tick()) log::warn("call failed", {{"occurrences", *n}, ...});
class Pow2Sampler {
 public:
  static constexpr uint64_t kFirst = 8;
  /// The occurrence count when this one should be logged, else 0.
  uint64_t tick() {
    uint64_t n = count_.fetch_add(1, std::memory_order_relaxed) + 1;
    return (n <= kFirst || (n & (n - 1)) == 0) ? n : 0;
  }
  /// Starts over (e.g. when the source recovered), so its next failures are logged again.
  void reset() { count_.store(0, std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> count_{0};
};

}  // namespace nodeops::log
