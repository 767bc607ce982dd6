// Durations ("500ms", "5s", "2m", "1h") and sizes ("64KiB", "1MiB", "512") as written in configs.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nodeops {

using Duration = std::chrono::milliseconds;

/// Parses "250ms", "5s", "1.5s", "2m", "1h". A bare number is rejected: units are mandatory.
std::optional<Duration> parse_duration(std::string_view text);
/// Parses "512", "64KiB", "1MiB", "2GiB" (also "KB"/"MB" as powers of 1000).
std::optional<uint64_t> parse_size(std::string_view text);
/// "1.5s", "250ms", "2m" — the inverse of parse_duration, for logs and status.
std::string format_duration(Duration d);

}  // namespace nodeops
