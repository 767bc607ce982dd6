#include "core/jsonrpc.h"

#include <boost/container/small_vector.hpp>
#include <simdjson.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "core/json.h"

namespace nodeops::jsonrpc {
using namespace std::string_view_literals;
namespace {

// Per-thread buffers grow to the largest document seen; past this size they are given back as
// soon as a small document comes, so one 60 MB reply does not pin 60 MB (times the parser's
// own factor) per thread for the life of the process.
constexpr size_t kKeepBytes = 1 << 20;

// Parsers are reused per thread: allocation is what costs, not parsing.
simdjson::dom::parser& dom_parser(size_t size) {
  thread_local simdjson::dom::parser p;
  if (p.capacity() > kKeepBytes && size <= kKeepBytes) p = simdjson::dom::parser();
  return p;
}

// `body` copied into a per-thread buffer with simdjson's padding after it, valid until the next
// call on this thread: a padded_string per parse was an aligned allocation per request.
simdjson::padded_string_view padded_copy(std::string_view body) {
  thread_local std::vector<char> scratch;
  if (scratch.size() > kKeepBytes && body.size() <= kKeepBytes) std::vector<char>().swap(scratch);
  if (scratch.size() < body.size() + simdjson::SIMDJSON_PADDING) scratch.resize(body.size() + simdjson::SIMDJSON_PADDING);
  std::memcpy(scratch.data(), body.data(), body.size());
  std::memset(scratch.data() + body.size(), 0, simdjson::SIMDJSON_PADDING);
  return simdjson::padded_string_view(scratch.data(), body.size(), scratch.size());
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The JSON grammar for a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool is_json_number(std::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') ++i;
  else if (!digits()) return false;
  if (i < s.size() && s[i] == '.' && (++i, !digits())) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

// simdjson's DOM refuses valid JSON numbers it cannot represent (integers from 2^63/2^64 up,
// doubles beyond 1.8e308) with NUMBER_ERROR, yet clients may use such ids and nodes may answer
// such values; the gateway only validates them and passes their bytes on. So on that error, every
// such number outside strings is checked against the JSON grammar and replaced in a copy by a 0 of
// the same length, and the copy is parsed instead: same structure, smaller numbers. The bytes
// forwarded are still read from the original.
simdjson::error_code dom_parse(const simdjson::padded_string_view& padded, simdjson::padded_string& copy,
                               simdjson::dom::element& root) {
  auto err = dom_parser(padded.size()).parse(padded).get(root);
  if (err != simdjson::NUMBER_ERROR) return err;
  std::string text(padded.data(), padded.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (c != '-' && (c < '0' || c > '9')) continue;
    size_t end = i;
    bool integer = true;
    while (end < text.size() && std::string_view("0123456789+-.eE").find(text[end]) != std::string_view::npos) {
      if (text[end] == '.' || text[end] == 'e' || text[end] == 'E') integer = false;
      ++end;
    }
    std::string_view token(text.data() + i, end - i);
    size_t digits = token.size() - (token.front() == '-' ? 1 : 0);
    bool too_big = integer ? digits >= 19 : !std::isfinite(std::strtod(std::string(token).c_str(), nullptr));
    if (too_big) {
      if (!is_json_number(token)) return simdjson::NUMBER_ERROR;
      text.replace(i, token.size(), "0" + std::string(token.size() - 1, ' '));
    }
    i = end - 1;
  }
  copy = simdjson::padded_string(text);
  return dom_parser(copy.size()).parse(copy).get(root);
}

// Where values begin and end in JSON text the DOM parser has already validated: the DOM says what
// each value is, these functions give the bytes to forward. They replace simdjson's on-demand API,
// which in this portable build (no -mavx2) runs its scalar fallback kernel and cost about a tenth
// of a proxied request. On validated text they need no error handling.
size_t skip_ws(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  return i;
}

// `s[i]` is an opening quote; returns the index after the closing one.
size_t string_end(std::string_view s, size_t i) {
  for (size_t from = i + 1;;) {
    auto q = static_cast<size_t>(static_cast<const char*>(std::memchr(s.data() + from, '"', s.size() - from)) - s.data());
    size_t backslashes = 0;
    while (s[q - 1 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 == 0) return q + 1;
    from = q + 1;
  }
}

// `s[i]` starts a value; returns the index after it.
size_t value_end(std::string_view s, size_t i) {
  switch (s[i]) {
    case '"': return string_end(s, i);
    case '{':
    case '[':
      for (int depth = 0;; ++i) {
        char c = s[i];
        if (c == '"') i = string_end(s, i) - 1;
        else if (c == '{' || c == '[') ++depth;
        else if ((c == '}' || c == ']') && --depth == 0) return i + 1;
      }
    default:  // number, true, false, null
      while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' &&
             s[i] != '\n' && s[i] != '\r') {
        ++i;
      }
      return i;
  }
}

// The raw bytes of each member value (object) or element (array) of the container that starts at
// `text[i]`, in order: the order in which the DOM lists them, duplicates included.
using Spans = boost::container::small_vector<std::string_view, 8>;
Spans child_spans(std::string_view text, size_t i) {
  Spans out;
  bool object = text[i] == '{';
  i = skip_ws(text, i + 1);
  if (text[i] == '}' || text[i] == ']') return out;
  for (;;) {
    if (object) i = skip_ws(text, skip_ws(text, string_end(text, i)) + 1);  // key, ':'
    size_t end = value_end(text, i);
    out.push_back(text.substr(i, end - i));
    i = skip_ws(text, end);
    if (text[i] != ',') return out;
    i = skip_ws(text, i + 1);
  }
}

// Reads one call: `item` is its DOM, `raw` its bytes.
Call read_call(simdjson::dom::element item, std::string_view raw) {
  Call call;
  simdjson::dom::object obj;
  if (item.get_object().get(obj)) {
    call.invalid = {kInvalidRequest, "invalid request: a call must be an object"};
    call.id = "null";
    return call;
  }
  auto values = child_spans(raw, 0);
  bool has_version = false, has_method = false;
  bool bad_version = false;
  std::string_view id_raw;
  bool bad_id = false, bad_method = false, bad_params = false;
  size_t k = 0;
  for (auto [key, v] : obj) {
    std::string_view value_raw = values[k++];
    if (key == "jsonrpc") {
      std::string_view s;
      has_version = true;
      bad_version = v.get_string().get(s) || s != "2.0";
    } else if (key == "id") {
      bad_id = !(v.is_string() || v.is_number() || v.is_null());
      if (!bad_id) id_raw = value_raw;
    } else if (key == "method") {
      std::string_view m;
      has_method = true;
      if (v.get_string().get(m)) bad_method = true;
      else call.method = std::string(m);
    } else if (key == "params") {
      bad_params = !(v.is_array() || v.is_object());
      if (!bad_params) call.params = value_raw;
    }  // unknown members are ignored, as the spec allows
  }
  if (!bad_id) call.id = id_raw;
  if (bad_id) call.invalid = {kInvalidRequest, "invalid request: id must be a string, a number or null"};
  else if (!has_version || bad_version) call.invalid = {kInvalidRequest, "invalid request: jsonrpc must be \"2.0\""};
  else if (!has_method || bad_method || call.method.empty()) call.invalid = {kInvalidRequest, "invalid request: method must be a non-empty string"};
  else if (bad_params) call.invalid = {kInvalidRequest, "invalid request: params must be an array or an object"};
  // An invalid call is answered even when it has no id: the spec replies with id null.
  if (call.invalid && call.id.empty()) call.id = "null";
  return call;
}

// The `code` of an error object: an integer that fits in 32 bits, judged on its bytes (the DOM of a
// reply with numbers beyond double range holds a 0 in their place, see dom_parse).
bool integer_code(simdjson::dom::element error, std::string_view error_raw, int64_t& code) {
  auto values = child_spans(error_raw, 0);
  size_t k = 0;
  for (auto [key, v] : error.get_object()) {
    std::string_view raw = values[k++];
    if (key != "code") continue;
    bool digits = !raw.empty() && raw.size() <= 11 &&
                  raw.find_first_not_of("-0123456789") == std::string_view::npos;
    if (!digits || v.get_int64().get(code)) return false;
    return code >= INT32_MIN && code <= INT32_MAX;
  }
  return false;
}

}  // namespace

ParsedRequest parse_request(std::string_view body, size_t max_calls) {
  ParsedRequest out;
  // Full validation first: a malformed body must be a -32700, never half-forwarded.
  simdjson::padded_string copy;
  simdjson::dom::element root;
  if (dom_parse(padded_copy(body), copy, root)) {
    out.fatal = {kParseError, "parse error: the body is not valid JSON"};
    return out;
  }
  size_t start = skip_ws(body, 0);
  if (root.is_array()) {
    out.batch = true;
    // Refused before a Call is built for any item: materialising 300 000 tiny calls costs more
    // than the whole parse.
    size_t n = root.get_array().size();
    if (n > max_calls) {
      out.fatal = {kBatchTooLarge, "batch of " + std::to_string(n) + " calls is over the limit of " +
                                       std::to_string(max_calls)};
      return out;
    }
    auto items = child_spans(body, start);
    size_t k = 0;
    for (auto item : root.get_array()) out.calls.push_back(read_call(item, items[k++]));
    if (out.calls.empty()) out.fatal = {kInvalidRequest, "invalid request: empty batch"};
    return out;
  }
  if (!root.is_object()) {
    out.fatal = {kInvalidRequest, "invalid request: expected an object or an array"};
    return out;
  }
  out.calls.push_back(read_call(root, body.substr(start)));
  return out;
}

std::string error_reply(std::string_view id, int code, std::string_view message) {
  std::string out;
  out.reserve(80 + message.size());
  out += "{\"jsonrpc\":\"2.0\",\"id\":"sv;
  out += id.empty() ? "null" : id;
  out += ",\"error\":{\"code\":"sv;
  out += std::to_string(code);
  out += ",\"message\":"sv;
  json::append_string(out, message);
  out += "}}"sv;
  return out;
}

std::string result_reply(std::string_view id, std::string_view result_raw) {
  std::string out;
  out.reserve(40 + id.size() + result_raw.size());
  out += "{\"jsonrpc\":\"2.0\",\"id\":"sv;
  out += id.empty() ? "null" : id;
  out += ",\"result\":"sv;
  out += result_raw;
  out += "}"sv;
  return out;
}

std::string error_object_reply(std::string_view id, std::string_view error_raw) {
  std::string out;
  out.reserve(40 + id.size() + error_raw.size());
  out += "{\"jsonrpc\":\"2.0\",\"id\":"sv;
  out += id.empty() ? "null" : id;
  out += ",\"error\":"sv;
  out += error_raw;
  out += "}"sv;
  return out;
}

std::string reply_in_place(std::string&& body, std::string_view payload, std::string_view id, bool error) {
  std::string prefix = "{\"jsonrpc\":\"2.0\",\"id\":";
  prefix += id.empty() ? "null" : id;
  prefix += error ? ",\"error\":" : ",\"result\":";
  std::string out = std::move(body);
  size_t at = static_cast<size_t>(payload.data() - out.data());
  size_t n = payload.size();
  out.resize(at + n);       // drop what follows the payload
  out.replace(0, at, prefix);  // and put our head before it, in place
  out += '}';
  return out;
}

std::string upstream_request(uint64_t id, std::string_view method, std::string_view params) {
  std::string out;
  out.reserve(48 + method.size() + params.size());
  out += "{\"jsonrpc\":\"2.0\",\"id\":"sv;
  out += std::to_string(id);
  out += ",\"method\":"sv;
  json::append_string(out, method);
  if (!params.empty()) {
    out += ",\"params\":"sv;
    out += params;
  }
  out += "}"sv;
  return out;
}

namespace {

// An upstream's reply body parsed into `root` (`copy` keeps what it points into); else why not.
std::optional<std::string> parse_reply_root(std::string_view body, simdjson::padded_string& copy,
                                            simdjson::dom::element& root) {
  if (trim(body).empty()) return "empty reply";
  if (dom_parse(padded_copy(body), copy, root)) return "reply is not JSON";
  return std::nullopt;
}

}  // namespace

UpstreamReply parse_upstream_reply(std::string_view body, uint64_t expected_id) {
  UpstreamReply out;
  simdjson::padded_string copy;
  simdjson::dom::element root;
  if (auto problem = parse_reply_root(body, copy, root)) {
    out.problem = std::move(*problem);
    return out;
  }
  if (!root.is_object()) {
    out.problem = "reply is not a JSON-RPC object";
    return out;
  }
  // One pass over the members, the DOM for what they are and the scan for their bytes; the first
  // member of a name counts.
  auto values = child_spans(body, skip_ws(body, 0));
  std::optional<simdjson::dom::element> id, error;
  std::string_view error_raw, result_raw;
  bool has_result = false;
  size_t k = 0;
  for (auto [key, v] : root.get_object()) {
    std::string_view raw = values[k++];
    if (key == "id" && !id) {
      id = v;
    } else if (key == "error" && !error) {
      error = v;
      error_raw = raw;
    } else if (key == "result" && !has_result) {
      has_result = true;
      result_raw = raw;
    }
  }
  uint64_t id_value = 0;
  if (!id || id->get_uint64().get(id_value) || id_value != expected_id) {
    out.problem = "reply id does not match the request";
    return out;
  }
  if (error && !error->is_null()) {
    int64_t code = 0;
    std::string_view msg;
    if (!error->is_object() || !integer_code(*error, error_raw, code) || (*error)["message"].get_string().get(msg)) {
      out.problem = "reply error is not a JSON-RPC error object";
      return out;
    }
    out.kind = UpstreamReply::Kind::error;
    out.error_code = static_cast<int>(code);
    out.error_message = std::string(msg);
    out.payload = error_raw;
  } else if (has_result) {
    out.kind = UpstreamReply::Kind::result;
    out.payload = result_raw;
  } else {
    out.problem = "reply has neither result nor error";
  }
  return out;
}

BatchReply split_batch_reply(std::string_view body) {
  BatchReply out;
  simdjson::padded_string copy;
  simdjson::dom::element root;
  if (auto problem = parse_reply_root(body, copy, root)) {
    out.problem = std::move(*problem);
    return out;
  }
  if (!root.is_array()) {
    out.problem = "a batch was answered with something other than an array";
    return out;
  }
  out.is_array = true;
  auto spans = child_spans(body, skip_ws(body, 0));
  size_t k = 0;
  for (auto item : root.get_array()) {
    std::string_view raw = spans[k++];
    uint64_t id = 0;
    if (item.is_object() && !item["id"].get_uint64().get(id)) out.items.emplace_back(id, raw);
  }
  return out;
}

MessageId message_id(std::string_view message) {
  MessageId out;
  simdjson::padded_string copy;
  simdjson::dom::element root;
  if (parse_reply_root(message, copy, root)) return out;
  out.json = true;
  uint64_t id = 0;
  if (root.is_object()) {
    if (!root["id"].get_uint64().get(id)) out.id = id;
  } else if (root.is_array()) {
    for (auto item : root.get_array()) {
      if (item.is_object() && !item["id"].get_uint64().get(id)) {
        out.id = id;
        break;
      }
    }
  }
  return out;
}

std::optional<uint64_t> unsigned_id(std::string_view raw) {
  if (raw.empty() || raw.size() > 20 || (raw.size() > 1 && raw[0] == '0')) return std::nullopt;
  uint64_t v = 0;
  for (char c : raw) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

namespace {
constexpr std::string_view kLeadingId = R"({"jsonrpc":"2.0","id":)";
}  // namespace

std::optional<uint64_t> leading_reply_id(std::string_view text) {
  if (text.starts_with('[')) text.remove_prefix(1);
  if (!text.starts_with(kLeadingId)) return std::nullopt;
  auto rest = text.substr(kLeadingId.size());
  auto comma = rest.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  return unsigned_id(rest.substr(0, comma));
}

bool upstream_request_ids(std::string_view body, std::vector<uint64_t>& ids) {
  size_t i = 0, n = body.size();
  bool batch = !body.empty() && body[0] == '[';
  if (batch) i = 1;
  for (;;) {
    if (body.substr(i, kLeadingId.size()) != kLeadingId) return false;
    i += kLeadingId.size();
    size_t comma = body.find(',', i);
    if (comma == std::string_view::npos) return false;
    auto id = unsigned_id(body.substr(i, comma - i));
    if (!id) return false;
    ids.push_back(*id);
    // The rest of the object: strings skipped whole (escapes included), brackets counted.
    int depth = 1;
    for (i = comma; i < n && depth > 0; ++i) {
      char c = body[i];
      if (c == '"') {
        for (++i; i < n && body[i] != '"'; ++i) {
          if (body[i] == '\\') ++i;
        }
        if (i >= n) return false;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        --depth;
      }
    }
    if (depth != 0) return false;
    if (!batch) return i == n;
    if (i < n && body[i] == ',') {
      ++i;
      continue;
    }
    return i + 1 == n && body[i] == ']';
  }
}

}  // namespace nodeops::jsonrpc
