// Our HTTP/1.1 reader against Boost.Beast's parser on the same bytes. Ours is deliberately
// stricter (no obs-fold, no bare LF, no whitespace before a colon, one Content-Length...), so the
// property is one-way: whatever ours accepts, Beast accepts too, as the same message — the same
// method, target, status and body. A request ours reads differently from a conforming parser is a
// smuggling hole; this finds it. (Found and fixed so far: framing fields in chunked trailers, chunk
// extensions outside the RFC grammar. Still more lenient than Beast, knowingly: a response status
// line without the space after the code, which upstream nodes never send.)
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/http_message.h"

namespace {

namespace bhttp = boost::beast::http;
using nodeops::http::MessageReader;

constexpr uint64_t kMaxBody = 1 << 20;
constexpr size_t kMaxHead = 16 * 1024;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

template <bool isRequest>
void compare(std::string_view in) {
  MessageReader ours(isRequest ? MessageReader::Kind::request : MessageReader::Kind::response, kMaxBody, kMaxHead);
  auto [data, size] = ours.space(in.size());
  std::memcpy(data, in.data(), in.size());
  ours.commit(in.size());
  auto verdict = ours.parse();
  if (verdict == MessageReader::Result::incomplete && !isRequest) verdict = ours.finish();
  if (verdict != MessageReader::Result::done) return;

  boost::beast::error_code ec;
  std::string_view rest = in;
  // RFC 9112 2.2: a server should ignore empty lines before a request line; ours does, Beast not.
  if constexpr (isRequest) {
    while (rest.starts_with("\r\n")) rest.remove_prefix(2);
  }
  // Interim (1xx) answers are skipped by ours and are messages of their own to Beast.
  for (;;) {
    bhttp::parser<isRequest, bhttp::string_body> one;
    one.eager(true);
    one.body_limit(kMaxBody);
    one.header_limit(static_cast<uint32_t>(kMaxHead));
    while (!one.is_done()) {
      size_t n = rest.empty() ? 0 : one.put(boost::asio::buffer(rest.data(), rest.size()), ec);
      rest.remove_prefix(n);
      if (ec == bhttp::error::need_more) ec = {};
      if (ec) break;
      if (n > 0) continue;
      // All the input is in: a response may end with the connection, a request may not.
      if (isRequest) return;  // Beast wants more than the input holds: nothing to compare
      one.put_eof(ec);
      break;
    }
    check(!ec);  // ours read a whole message: Beast must not call the same bytes malformed
    check(one.is_done());
    if constexpr (!isRequest) {
      if (one.get().result_int() < 200) continue;
      check(static_cast<int>(one.get().result_int()) == ours.head().status);
    } else {
      check(std::string_view(one.get().method_string()) == ours.head().method);
      check(std::string_view(one.get().target()) == ours.head().target);
    }
    check(one.get().body() == ours.body());
    return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  compare<true>(in);
  compare<false>(in);
  return 0;
}
