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
