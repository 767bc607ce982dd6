// Small helpers for writing JSON text by hand where building a DOM would be waste.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace nodeops::json {

/// Appends `s` as a JSON string literal (with quotes), escaping what RFC 8259 requires.
void append_string(std::string& out, std::string_view s);
inline std::string quote(std::string_view s) {
  std::string out;
  append_string(out, s);
  return out;
}
/// Appends a finite number; NaN and infinities become null (JSON has no spelling for them).
void append_number(std::string& out, double v);
/// Appends `[v0,v1,...]`, each as append_number() writes it.
void append_numbers(std::string& out, std::span<const double> values);

}  // namespace nodeops::json
