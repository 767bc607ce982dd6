#include "core/http_message.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

namespace nodeops::http {
namespace {

// RFC 9110 token characters (method and field names).
constexpr std::array<bool, 256> kTokenChar = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

// Field values, reason phrases and chunk extensions: visible characters, obs-text, space and tab.
constexpr std::array<bool, 256> kTextChar = [] {
  std::array<bool, 256> t{};
  t['\t'] = true;
  for (int c = 0x20; c < 0x100; ++c) t[c] = c != 0x7f;
  return t;
}();

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!kTokenChar[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

bool is_field_text(std::string_view s) {
  for (char c : s) {
    if (!kTextChar[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

// RFC 9112 7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ),
// chunk-ext-val = token / quoted-string. Parsers that disagree on where an extension ends disagree
// on where the chunk data starts, so anything else is refused.
bool is_chunk_ext(std::string_view s) {
  size_t i = 0;
  auto ows = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  };
  auto token = [&] {
    size_t start = i;
    while (i < s.size() && kTokenChar[static_cast<unsigned char>(s[i])]) ++i;
    return i > start;
  };
  while (ows(), i < s.size()) {
    if (s[i++] != ';') return false;
    ows();
    if (!token()) return false;
    ows();
    if (i < s.size() && s[i] == '=') {
      ++i;
      ows();
      if (i < s.size() && s[i] == '"') {
        for (++i;; ++i) {
          if (i >= s.size()) return false;
          if (s[i] == '"') break;
          if (s[i] == '\\' && ++i >= s.size()) return false;
        }
        ++i;
      } else if (!token()) {
        return false;
      }
    }
  }
  return true;
}

// True when [p, end) holds only text characters. Eight bytes at a time: a word with no byte below
// 0x20 and none equal to 0x7f is clean (the usual "has a byte less than n" bit trick); only words
// that have one, usually a tab, are looked at byte by byte. Header values are most of a head.
bool is_text_run(const char* p, const char* end) {
  constexpr uint64_t ones = 0x0101010101010101ull;
  constexpr uint64_t highs = 0x8080808080808080ull;
  for (; end - p >= 8; p += 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    uint64_t below_space = (w - ones * 0x20) & ~w & highs;
    uint64_t x = w ^ (ones * 0x7f);
    uint64_t del = (x - ones) & ~x & highs;
    if ((below_space | del) != 0 && !is_field_text(std::string_view(p, 8))) return false;
  }
  return is_field_text(std::string_view(p, static_cast<size_t>(end - p)));
}

// `lower` is lowercase; `a` has been checked to hold only token or text characters, which cannot
// become a letter, '-' or a digit by setting bit 5 unless they already were one in either case.
bool iequals(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if ((a[i] | 0x20) != lower[i]) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parse_version(std::string_view v, unsigned& out) {
  if (v == "HTTP/1.1") out = 11;
  else if (v == "HTTP/1.0") out = 10;
  else return false;
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr size_t kMaxChunkLine = 4096;

}  // namespace

MessageReader::MessageReader(Kind kind, uint64_t max_body, size_t max_head)
    : kind_(kind), max_body_(max_body), max_head_(max_head) {}

MessageReader::~MessageReader() { uncharge(); }

bool MessageReader::charge(size_t n) {
  if (!counter_ || n == 0) return true;
  charged_ += n;
  return counter_->fetch_add(n, std::memory_order_relaxed) + n <= cap_;
}

void MessageReader::uncharge() {
  if (counter_ && charged_) counter_->fetch_sub(charged_, std::memory_order_relaxed);
  charged_ = 0;
}

std::pair<char*, size_t> MessageReader::space(size_t min) {
  // A large body is read in large pieces (up to 1 MiB) rather than `min` bytes per read, but the
  // piece grows with what has arrived, never with what Content-Length announces: a peer that
  // announces 1 MiB and sends one byte must not pin 1 MiB.
  constexpr uint64_t kLargeRead = 1 << 20;
  if (phase_ == Phase::length) {
    uint64_t arrived = body_.size() + (size_ - begin_);
    uint64_t piece = std::clamp<uint64_t>(arrived, 16 * 1024, kLargeRead);
    min = std::max<uint64_t>(min, std::min(content_length_ - body_.size(), piece));
  } else if (phase_ == Phase::chunk_data || phase_ == Phase::until_close) {
    min = std::max<uint64_t>(min, 64 * 1024);
  }
  if (begin_ == size_) begin_ = size_ = 0;
  if (buf_.size() - size_ < min) {
    if (begin_ > 0) {  // drop what was consumed
      std::memmove(buf_.data(), buf_.data() + begin_, size_ - begin_);
      size_ -= begin_;
      begin_ = 0;
    }
    if (buf_.size() - size_ < min) buf_.resize(size_ + std::max(min, buf_.size()));
  }
  return {buf_.data() + size_, buf_.size() - size_};
}

MessageReader::Result MessageReader::fail(Error e, std::string message) {
  uncharge();  // the body is dropped with the message
  phase_ = Phase::failed;
  error_ = e;
  message_ = std::move(message);
  return Result::error;
}

void MessageReader::next() {
  // Cleared, not reassigned: the strings keep their capacity for the next message.
  head_.method.clear();
  head_.target.clear();
  head_.status = 0;
  head_.version = 11;
  head_.content_type.clear();
  head_.authorization.clear();
  head_.cache_control.clear();
  head_.min_block.clear();
  head_.forwarded_for.clear();
  head_.api_key.clear();
  head_.origin.clear();
  head_.retry_after.clear();
  head_.keep_alive = true;
  head_.expect_continue = false;
  head_.upgrade_websocket = false;
  head_.connection_upgrade = false;
  head_.websocket_key.clear();
  head_.websocket_version.clear();
  head_.websocket_extensions.clear();
  uncharge();  // not taken by the caller: dropped here
  body_.clear();
  if (buf_.size() > 64 * 1024 && begin_ == size_) {  // a large body grew it: do not keep that per idle connection
    std::string().swap(buf_);
    begin_ = size_ = 0;
  }
  phase_ = Phase::head;
  scan_ = 0;
  interim_ = 0;
  content_length_ = 0;
  has_length_ = false;
  chunked_ = false;
  chunk_left_ = 0;
  trailer_bytes_ = 0;
  error_ = Error::none;
  message_.clear();
}

MessageReader::Result MessageReader::parse() {
  while (phase_ == Phase::head) {
    std::string_view avail(buf_.data() + begin_, size_ - begin_);
    if (kind_ == Kind::request) {
      // RFC 9112 2.2: a server should ignore empty lines before a request line.
      while (avail.starts_with("\r\n")) {
        avail.remove_prefix(2);
        begin_ += 2;
        scan_ = 0;
      }
    }
    auto end = avail.find("\r\n\r\n", scan_ > 3 ? scan_ - 3 : 0);
    if (end == std::string_view::npos) {
      scan_ = avail.size();
      if (avail.size() > max_head_) return fail(Error::head_too_large, "header larger than " + std::to_string(max_head_) + " bytes");
      return Result::incomplete;
    }
    if (end + 4 > max_head_) return fail(Error::head_too_large, "header larger than " + std::to_string(max_head_) + " bytes");
    begin_ += end + 4;
    scan_ = 0;
    if (parse_head(avail.substr(0, end + 2)) == Result::error) return Result::error;
    if (kind_ == Kind::response && head_.status < 200) {  // interim (1xx): the real answer follows
      // A real server sends one or two (100 Continue, 103 Early Hints); an endless stream of
      // them would keep an exchange alive forever.
      uint32_t interim = interim_ + 1;
      if (interim > kMaxInterim) return fail(Error::malformed, "more than " + std::to_string(kMaxInterim) + " interim (1xx) answers");
      next();
      interim_ = interim;
    }
  }
  return parse_body();
}

MessageReader::Result MessageReader::parse_head(std::string_view head) {
  auto eol = head.find("\r\n");
  if (parse_start_line(head.substr(0, eol)) == Result::error) return Result::error;
  head.remove_prefix(eol + 2);
  bool close = false;
  bool keep_alive = false;
  // One pass per field line: name (token characters) up to the colon, then the value with its
  // surrounding spaces and tabs left out. `head` ends with the last line's CRLF.
  const char* p = head.data();
  const char* const end = p + head.size();
  while (p < end) {
    const char* name_begin = p;
    while (kTokenChar[static_cast<unsigned char>(*p)]) ++p;  // stops at the CR at the latest
    if (p == name_begin) {
      return fail(Error::malformed, *p == ' ' || *p == '\t' ? "folded header line" : "invalid header name");
    }
    if (*p != ':') return fail(Error::malformed, *p == '\r' ? "header line without a colon" : "invalid header name");
    std::string_view name(name_begin, static_cast<size_t>(p - name_begin));
    ++p;
    while (*p == ' ' || *p == '\t') ++p;
    const char* value_begin = p;
    p = static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(end - p)));  // found: the head ends in CRLF
    if (!is_text_run(value_begin, p)) return fail(Error::malformed, "control character in a header value");
    if (p[1] != '\n') return fail(Error::malformed, "bare CR in a header line");
    const char* value_end = p;
    while (value_end > value_begin && (value_end[-1] == ' ' || value_end[-1] == '\t')) --value_end;
    p += 2;
    std::string_view value(value_begin, static_cast<size_t>(value_end - value_begin));
    if (name.size() == 10 && iequals(name, "connection")) {
      // A token list: "close" wins, "keep-alive" matters for HTTP/1.0.
      for (std::string_view rest = value; !rest.empty();) {
        auto comma = rest.find(',');
        auto token = trim(rest.substr(0, comma));
        if (iequals(token, "close")) close = true;
        else if (iequals(token, "keep-alive")) keep_alive = true;
        else if (iequals(token, "upgrade")) head_.connection_upgrade = true;
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
    } else if (parse_field(name, value) == Result::error) {
      return Result::error;
    }
  }
  head_.keep_alive = !close && (head_.version == 11 || keep_alive);

  if (chunked_ && has_length_) return fail(Error::malformed, "both Transfer-Encoding and Content-Length");
  if (chunked_ && head_.version == 10) return fail(Error::malformed, "Transfer-Encoding in an HTTP/1.0 message");
  bool no_body = kind_ == Kind::response && (head_.status < 200 || head_.status == 204 || head_.status == 304);
  if (no_body) {
    phase_ = Phase::done;
  } else if (chunked_) {
    phase_ = Phase::chunk_size;
  } else if (has_length_) {
    if (content_length_ > max_body_) {
      return fail(Error::body_too_large, "body of " + std::to_string(content_length_) + " bytes is larger than " +
                                             std::to_string(max_body_));
    }
    phase_ = content_length_ == 0 ? Phase::done : Phase::length;
    // Only what a small body needs: a large one grows (geometrically) as its bytes arrive.
    body_.reserve(std::min<uint64_t>(content_length_, 16 * 1024));
  } else if (kind_ == Kind::response) {
    phase_ = Phase::until_close;  // RFC 9112 6.3: no framing means the body ends when the connection does
    head_.keep_alive = false;
  } else {
    phase_ = Phase::done;
  }
  return Result::incomplete;
}

MessageReader::Result MessageReader::parse_start_line(std::string_view line) {
  auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return fail(Error::malformed, "malformed start line");
  auto first = line.substr(0, sp1);
  auto rest = line.substr(sp1 + 1);
  if (kind_ == Kind::request) {
    auto sp2 = rest.find(' ');
    if (sp2 == std::string_view::npos) return fail(Error::malformed, "malformed request line");
    auto target = rest.substr(0, sp2);
    if (!is_token(first)) return fail(Error::malformed, "invalid method");
    if (target.empty() || !std::all_of(target.begin(), target.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
      return fail(Error::malformed, "invalid request target");
    }
    if (!parse_version(rest.substr(sp2 + 1), head_.version)) return fail(Error::malformed, "unsupported HTTP version");
    head_.method.assign(first);
    head_.target.assign(target);
    return Result::incomplete;
  }
  if (!parse_version(first, head_.version)) return fail(Error::malformed, "unsupported HTTP version");
  auto code = rest.substr(0, 3);
  if (code.size() != 3 || !std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      (rest.size() > 3 && rest[3] != ' ') || code[0] == '0') {
    return fail(Error::malformed, "malformed status line");
  }
  if (!is_field_text(rest)) return fail(Error::malformed, "control character in the reason phrase");
  head_.status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
  return Result::incomplete;
}

MessageReader::Result MessageReader::parse_field(std::string_view name, std::string_view value) {
  switch (name.size()) {
    case 6:
      if (iequals(name, "expect")) head_.expect_continue = head_.version == 11 && iequals(value, "100-continue");
      else if (iequals(name, "origin") && head_.origin.empty()) head_.origin.assign(value);
      break;
    case 7:
      if (iequals(name, "upgrade")) {
        // A token list of protocols, each maybe with a /version: "websocket" is the one we serve.
        for (std::string_view rest = value; !rest.empty();) {
          auto comma = rest.find(',');
          if (iequals(trim(rest.substr(0, comma)), "websocket")) head_.upgrade_websocket = true;
          rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        }
      }
      break;
    case 9:
      if (iequals(name, "x-api-key") && head_.api_key.empty()) head_.api_key.assign(value);
      break;
    case 11:
      if (kind_ == Kind::response && iequals(name, "retry-after") && head_.retry_after.empty()) {
        head_.retry_after.assign(value);
      } else if (kind_ == Kind::request && iequals(name, "x-min-block") && head_.min_block.empty()) {
        head_.min_block.assign(value);
      }
      break;
    case 12:
      if (iequals(name, "content-type") && head_.content_type.empty()) head_.content_type.assign(value);
      break;
    case 13:
      if (iequals(name, "authorization") && head_.authorization.empty()) head_.authorization.assign(value);
      else if (iequals(name, "cache-control") && head_.cache_control.empty()) head_.cache_control.assign(value);
      break;
    case 14:
      if (iequals(name, "content-length")) {
        if (value.empty() || value.size() > 19 ||
            !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
          return fail(Error::malformed, "invalid Content-Length");
        }
        uint64_t n = 0;
        for (char c : value) n = n * 10 + static_cast<uint64_t>(c - '0');  // 19 digits cannot overflow
        if (has_length_ && n != content_length_) return fail(Error::malformed, "conflicting Content-Length values");
        has_length_ = true;
        content_length_ = n;
      }
      break;
    case 15:
      if (iequals(name, "x-forwarded-for")) {
        if (!head_.forwarded_for.empty()) head_.forwarded_for.append(", ");
        head_.forwarded_for.append(value);
      }
      break;
    case 17:
      if (iequals(name, "transfer-encoding")) {
        if (chunked_) return fail(Error::malformed, "repeated Transfer-Encoding");
        if (!iequals(value, "chunked")) {
          return fail(Error::unsupported, "transfer coding '" + std::string(value) + "' is not supported");
        }
        chunked_ = true;
      } else if (iequals(name, "sec-websocket-key")) {
        if (!head_.websocket_key.empty()) return fail(Error::malformed, "repeated Sec-WebSocket-Key");
        head_.websocket_key.assign(value);
      }
      break;
    case 21:
      if (iequals(name, "sec-websocket-version") && head_.websocket_version.empty()) head_.websocket_version.assign(value);
      break;
    case 24:
      if (iequals(name, "sec-websocket-extensions")) {
        if (!head_.websocket_extensions.empty()) head_.websocket_extensions.append(", ");
        head_.websocket_extensions.append(value);
      }
      break;
    default:
      break;
  }
  return Result::incomplete;
}

MessageReader::Result MessageReader::parse_body() {
  switch (phase_) {
    case Phase::length: {
      size_t n = std::min<uint64_t>(size_ - begin_, content_length_ - body_.size());
      if (!charge(n)) return fail(Error::over_budget, "the replies held by this process are over their budget");
      body_.append(buf_.data() + begin_, n);
      begin_ += n;
      if (body_.size() < content_length_) return Result::incomplete;
      phase_ = Phase::done;
      return Result::done;
    }
    case Phase::until_close:
      if (size_ - begin_ > max_body_ - body_.size()) {
        return fail(Error::body_too_large, "body larger than " + std::to_string(max_body_) + " bytes");
      }
      if (!charge(size_ - begin_)) return fail(Error::over_budget, "the replies held by this process are over their budget");
      body_.append(buf_.data() + begin_, size_ - begin_);
      begin_ = size_;
      return Result::incomplete;
    case Phase::done: return Result::done;
    case Phase::failed: return Result::error;
    default: return parse_chunked();
  }
}

MessageReader::Result MessageReader::parse_chunked() {
  for (;;) {
    std::string_view avail(buf_.data() + begin_, size_ - begin_);
    switch (phase_) {
      case Phase::chunk_size: {
        auto eol = avail.find("\r\n");
        // The limits count a line without its CRLF, also when only its CR has arrived, so that the
        // verdict does not depend on how the bytes were split into reads.
        if (eol == std::string_view::npos) {
          if (avail.size() > kMaxChunkLine + 1) return fail(Error::malformed, "chunk size line too long");
          return Result::incomplete;
        }
        if (eol > kMaxChunkLine) return fail(Error::malformed, "chunk size line too long");
        auto line = avail.substr(0, eol);
        uint64_t size = 0;
        size_t i = 0;
        for (; i < line.size() && hex_value(line[i]) >= 0; ++i) {
          if (i == 15) return fail(Error::body_too_large, "chunk size too large");
          size = size * 16 + static_cast<uint64_t>(hex_value(line[i]));
        }
        auto ext = trim(line.substr(i));
        if (i == 0 || !is_field_text(ext) || !is_chunk_ext(ext)) {
          return fail(Error::malformed, "malformed chunk size line");
        }
        begin_ += eol + 2;
        if (size == 0) {
          phase_ = Phase::trailers;
        } else {
          if (size > max_body_ - body_.size()) {
            return fail(Error::body_too_large, "body larger than " + std::to_string(max_body_) + " bytes");
          }
          chunk_left_ = size;
          phase_ = Phase::chunk_data;
        }
        break;
      }
      case Phase::chunk_data: {
        size_t n = std::min<uint64_t>(avail.size(), chunk_left_);
        if (!charge(n)) return fail(Error::over_budget, "the replies held by this process are over their budget");
        body_.append(avail.data(), n);
        begin_ += n;
        chunk_left_ -= n;
        if (chunk_left_ > 0) return Result::incomplete;
        phase_ = Phase::chunk_end;
        break;
      }
      case Phase::chunk_end:
        if (avail.size() < 2) return Result::incomplete;
        if (!avail.starts_with("\r\n")) return fail(Error::malformed, "chunk not followed by CRLF");
        begin_ += 2;
        phase_ = Phase::chunk_size;
        break;
      case Phase::trailers: {
        auto eol = avail.find("\r\n");
        if (eol == std::string_view::npos) {
          if (trailer_bytes_ + avail.size() > max_head_ + 1) return fail(Error::head_too_large, "trailers too large");
          return Result::incomplete;
        }
        auto line = avail.substr(0, eol);
        begin_ += eol + 2;
        if (line.empty()) {
          phase_ = Phase::done;
          return Result::done;
        }
        trailer_bytes_ += eol + 2;
        auto colon = line.find(':');
        if (trailer_bytes_ > max_head_) return fail(Error::head_too_large, "trailers too large");
        if (colon == std::string_view::npos || !is_token(line.substr(0, colon)) ||
            !is_field_text(line.substr(colon + 1))) {
          return fail(Error::malformed, "malformed trailer line");
        }
        // Framing fields belong in the head only (RFC 9110 6.5.1); one in the trailers means the
        // sender and some parser on the way disagree about the message: refuse, like Beast does.
        if (auto name = line.substr(0, colon); iequals(name, "transfer-encoding") || iequals(name, "content-length")) {
          return fail(Error::malformed, "framing field in the trailers");
        }
        break;  // trailers are read and dropped
      }
      default: return phase_ == Phase::done ? Result::done : Result::error;
    }
  }
}

MessageReader::Result MessageReader::finish() {
  if (phase_ == Phase::until_close) {
    phase_ = Phase::done;
    return Result::done;
  }
  if (phase_ == Phase::done) return Result::done;
  if (phase_ == Phase::failed) return Result::error;
  return fail(Error::truncated, "connection closed before the end of the message");
}

WebSocketUpgrade websocket_upgrade(const MessageHead& head, std::string* why) {
  if (!head.upgrade_websocket) return WebSocketUpgrade::none;
  auto bad = [why](WebSocketUpgrade verdict, const char* message) {
    if (why) *why = message;
    return verdict;
  };
  if (head.method != "GET") return bad(WebSocketUpgrade::bad_request, "a WebSocket upgrade takes GET");
  if (head.version != 11) return bad(WebSocketUpgrade::bad_request, "a WebSocket upgrade takes HTTP/1.1");
  if (!head.connection_upgrade) return bad(WebSocketUpgrade::bad_request, "a WebSocket upgrade needs Connection: upgrade");
  if (head.websocket_version != "13") {
    return bad(WebSocketUpgrade::bad_version, "Sec-WebSocket-Version must be 13");
  }
  // RFC 6455 4.1: the key is 16 random bytes in base64: 22 characters and "==".
  const auto& key = head.websocket_key;
  bool key_ok = key.size() == 24 && key.ends_with("==") &&
                std::all_of(key.begin(), key.end() - 2, [](char c) {
                  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                         c == '/';
                });
  // The last character before "==" carries 2 bits of the 16th byte: the other 4 are zero.
  if (key_ok) key_ok = std::string_view("AQgw").find(key[21]) != std::string_view::npos;
  if (!key_ok) return bad(WebSocketUpgrade::bad_request, "Sec-WebSocket-Key must be 16 bytes in base64");
  return WebSocketUpgrade::valid;
}

}  // namespace nodeops::http
