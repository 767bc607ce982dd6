// Structured logs: one JSON object per line on stdout (ts, level, msg, then context fields), so
// Loki, Alloy and jq all read them without a parser of their own.
//
//   log::info("upstream left rotation", {{"chain", "ethereum"}, {"upstream", "a"}, {"lag", 7}});
#pragma once

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

}  // namespace nodeops::log
