// Small text helpers shared by the chain adapters.
#pragma once

#include <string>
#include <string_view>

namespace nodeops::chains {

/// "http://host:1/" -> "http://host:1", so paths can be appended.
inline std::string trim_slash(std::string_view url) {
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  return std::string(url);
}

/// A node-supplied string made safe for a metric label, a log line or the status page: printable
/// ASCII only (anything else, control characters and UTF-8 included, becomes '?'), at most `max`
/// bytes. A node decides what it sends; it must not decide how long a label is or what it contains.
inline std::string printable(std::string_view s, size_t max = 64) {
  std::string out(s.substr(0, max));
  for (auto& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

/// @brief Collects the first problem of a probe and counts the others, so `error` stays one line.
class ErrorLine {
 public:
  void add(std::string_view what, std::string_view why) {
    if (first_.empty()) {
      first_ = std::string(what) + ": " + std::string(why);
    } else {
      ++more_;
    }
  }
  std::string str() const { return more_ == 0 ? first_ : first_ + " (+" + std::to_string(more_) + " more)"; }

 private:
  std::string first_;
  int more_ = 0;
};

}  // namespace nodeops::chains
