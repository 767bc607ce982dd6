#include "core/jsonrpc.h"

#include <simdjson.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/json.h"

namespace nodeops::jsonrpc {
namespace od = simdjson::ondemand;
namespace {

// Parsers are reused per thread: allocation is what costs, not parsing.
simdjson::dom::parser& dom_parser() {
  thread_local simdjson::dom::parser p;
  return p;
}
od::parser& od_parser() {
  thread_local od::parser p;
  return p;
}

// `body` copied into a per-thread buffer with simdjson's padding after it, valid until the next
// call on this thread: a padded_string per parse was an aligned allocation per request. Callers
// translate every view back into `body` before returning.
simdjson::padded_string_view padded_copy(std::string_view body) {
  thread_local std::string scratch;
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
  auto err = dom_parser().parse(padded).get(root);
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
  return dom_parser().parse(copy).get(root);
}

// The raw bytes of any value; consumes it.
simdjson::simdjson_result<std::string_view> raw_of(od::value v) {
  od::json_type t;
  if (auto err = v.type().get(t)) return err;
  if (t == od::json_type::object) {
    od::object o;
    if (auto err = v.get_object().get(o)) return err;
    return o.raw_json();
  }
  if (t == od::json_type::array) {
    od::array a;
    if (auto err = v.get_array().get(a)) return err;
    return a.raw_json();
  }
  std::string_view tok = v.raw_json_token();
  return trim(tok);
}

// Reads one call object. `padded` holds the bytes; views are translated back into `body`.
Call read_call(od::value item, const char* padded_base, std::string_view body) {
  Call call;
  auto rebase = [&](std::string_view v) {
    return std::string_view(body.data() + (v.data() - padded_base), v.size());
  };
  od::object obj;
  if (item.get_object().get(obj)) {
    call.invalid = {kInvalidRequest, "invalid request: a call must be an object"};
    call.id = "null";
    return call;
  }
  bool has_version = false, has_method = false;
  bool bad_version = false;
  std::string_view id_raw;
  bool bad_id = false, bad_method = false, bad_params = false;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) {
      call.invalid = {kInvalidRequest, "invalid request"};
      call.id = "null";
      return call;
    }
    od::value v = field.value();
    if (key == "jsonrpc") {
      std::string_view s;
      has_version = true;
      bad_version = v.get_string().get(s) || s != "2.0";
    } else if (key == "id") {
      od::json_type t;
      if (v.type().get(t)) { bad_id = true; continue; }
      if (t == od::json_type::string || t == od::json_type::number || t == od::json_type::null) {
        std::string_view raw;
        if (raw_of(v).get(raw)) bad_id = true;
        else id_raw = rebase(raw);
      } else {
        bad_id = true;
        (void)raw_of(v);
      }
    } else if (key == "method") {
      std::string_view m;
      has_method = true;
      if (v.get_string().get(m)) bad_method = true;
      else call.method = std::string(m);
    } else if (key == "params") {
      od::json_type t;
      if (v.type().get(t) || (t != od::json_type::array && t != od::json_type::object)) {
        bad_params = true;
        (void)raw_of(v);
        continue;
      }
      std::string_view raw;
      if (raw_of(v).get(raw)) bad_params = true;
      else call.params = rebase(raw);
    } else {
      (void)raw_of(v);  // unknown members are ignored, as the spec allows
    }
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

}  // namespace

ParsedRequest parse_request(std::string_view body) {
  ParsedRequest out;
  auto padded = padded_copy(body);
  // Full validation first: on-demand parsing skips what it is not asked for, and a malformed body
  // must be a -32700, never half-forwarded.
  simdjson::padded_string copy;
  simdjson::dom::element root;
  if (dom_parse(padded, copy, root)) {
    out.fatal = {kParseError, "parse error: the body is not valid JSON"};
    return out;
  }
  od::document doc;
  if (od_parser().iterate(padded).get(doc)) {
    out.fatal = {kParseError, "parse error"};
    return out;
  }
  const char* base = padded.data();
  if (root.is_array()) {
    out.batch = true;
    od::array arr;
    if (doc.get_array().get(arr)) {
      out.fatal = {kParseError, "parse error"};
      return out;
    }
    for (auto item : arr) {
      od::value v;
      if (item.get(v)) {
        out.fatal = {kParseError, "parse error"};
        return out;
      }
      out.calls.push_back(read_call(v, base, body));
    }
    if (out.calls.empty()) out.fatal = {kInvalidRequest, "invalid request: empty batch"};
    return out;
  }
  if (!root.is_object()) {
    out.fatal = {kInvalidRequest, "invalid request: expected an object or an array"};
    return out;
  }
  od::value v;
  if (doc.get_value().get(v)) {
    out.fatal = {kParseError, "parse error"};
    return out;
  }
  out.calls.push_back(read_call(v, base, body));
  return out;
}

std::string error_reply(std::string_view id, int code, std::string_view message) {
  std::string out;
  out.reserve(80 + message.size());
  out += "{\"jsonrpc\":\"2.0\",\"id\":";
  out += id.empty() ? "null" : id;
  out += ",\"error\":{\"code\":";
  out += std::to_string(code);
  out += ",\"message\":";
  json::append_string(out, message);
  out += "}}";
  return out;
}

std::string result_reply(std::string_view id, std::string_view result_raw) {
  std::string out;
  out.reserve(40 + id.size() + result_raw.size());
  out += "{\"jsonrpc\":\"2.0\",\"id\":";
  out += id.empty() ? "null" : id;
  out += ",\"result\":";
  out += result_raw;
  out += "}";
  return out;
}

std::string error_object_reply(std::string_view id, std::string_view error_raw) {
  std::string out;
  out.reserve(40 + id.size() + error_raw.size());
  out += "{\"jsonrpc\":\"2.0\",\"id\":";
  out += id.empty() ? "null" : id;
  out += ",\"error\":";
  out += error_raw;
  out += "}";
  return out;
}

std::string upstream_request(uint64_t id, std::string_view method, std::string_view params) {
  std::string out;
  out.reserve(48 + method.size() + params.size());
  out += "{\"jsonrpc\":\"2.0\",\"id\":";
  out += std::to_string(id);
  out += ",\"method\":";
  json::append_string(out, method);
  if (!params.empty()) {
    out += ",\"params\":";
    out += params;
  }
  out += "}";
  return out;
}

UpstreamReply parse_upstream_reply(std::string_view body, uint64_t expected_id) {
  UpstreamReply out;
  if (trim(body).empty()) {
    out.problem = "empty reply";
    return out;
  }
  auto padded = padded_copy(body);
  simdjson::padded_string copy;
  simdjson::dom::element root;
  if (dom_parse(padded, copy, root)) {
    out.problem = "reply is not JSON";
    return out;
  }
  if (!root.is_object()) {
    out.problem = "reply is not a JSON-RPC object";
    return out;
  }
  uint64_t id = 0;
  auto idv = root["id"];
  if (idv.error() || idv.get_uint64().get(id) || id != expected_id) {
    out.problem = "reply id does not match the request";
    return out;
  }
  auto err = root["error"];
  bool has_result = !root["result"].error();
  if (!err.error() && !err.is_null()) {
    int64_t code = 0;
    std::string_view msg;
    if (!err.is_object() || err["code"].get_int64().get(code) || err["message"].get_string().get(msg)) {
      out.problem = "reply error is not a JSON-RPC error object";
      return out;
    }
    out.kind = UpstreamReply::Kind::error;
    out.error_code = static_cast<int>(code);
    out.error_message = std::string(msg);
  } else if (has_result) {
    out.kind = UpstreamReply::Kind::result;
  } else {
    out.problem = "reply has neither result nor error";
    return out;
  }
  // Second pass, on-demand, only to find the raw bytes of the member we forward.
  const std::string_view wanted = out.kind == UpstreamReply::Kind::result ? "result" : "error";
  od::document doc;
  od::object obj;
  if (od_parser().iterate(padded).get(doc) || doc.get_object().get(obj)) {
    out.kind = UpstreamReply::Kind::invalid;
    out.problem = "reply is not JSON";
    return out;
  }
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) break;
    od::value v = field.value();
    std::string_view raw;
    if (raw_of(v).get(raw)) break;
    if (key == wanted) {
      out.payload = std::string_view(body.data() + (raw.data() - padded.data()), raw.size());
      return out;
    }
  }
  out.kind = UpstreamReply::Kind::invalid;
  out.problem = "reply could not be read";
  return out;
}

}  // namespace nodeops::jsonrpc
