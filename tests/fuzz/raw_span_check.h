// Shared by the JSON-RPC fuzz targets: a raw span the codec hands out must lie inside the body and
// be one whole JSON value of the expected kind, so that what is forwarded is what was received.
#pragma once

#include <simdjson.h>

#include <string_view>

inline void check_raw_span(std::string_view body, std::string_view span, std::string_view first_chars) {
  if (span.empty() || span.data() < body.data() || span.data() + span.size() > body.data() + body.size()) {
    __builtin_trap();
  }
  if (first_chars.find(span.front()) == std::string_view::npos) __builtin_trap();
  simdjson::dom::parser parser;
  auto err = parser.parse(simdjson::padded_string(span)).error();
  // Numbers past 64 bits are valid JSON that simdjson's DOM refuses; the codec accepts them.
  if (err && err != simdjson::NUMBER_ERROR) __builtin_trap();
}
