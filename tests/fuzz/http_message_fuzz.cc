// Whatever bytes a client or an upstream sends, the HTTP/1.1 message reader never crashes, its
// verdicts are sticky (once done or error, parse() and finish() keep saying so) and consistent with
// error(), and what it makes of a byte stream does not depend on how the stream was cut into reads.
//
// Each input is read as a request stream and as a response stream, with the default limits and
// with small ones, fed whole, one byte at a time, and in pieces whose sizes come from the input.
// Up to kMaxMessages messages are read from one stream (pipelining); each one's outcome is written
// to a trace, and the traces of every feeding must be equal.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "core/http_message.h"

namespace {

using nodeops::http::MessageReader;
using Result = MessageReader::Result;
using Error = MessageReader::Error;

constexpr int kMaxMessages = 16;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

struct Limits {
  uint64_t max_body;
  size_t max_head;
};

void describe(std::string& trace, Result r, MessageReader& reader) {
  trace += "result=" + std::to_string(static_cast<int>(r)) + " error=" + std::to_string(static_cast<int>(reader.error()));
  if (r != Result::done) return;
  const auto& h = reader.head();
  trace += " " + h.method + " " + h.target + " " + std::to_string(h.status) + " " + std::to_string(h.version) + " ";
  trace += h.content_type + "|" + h.authorization + "|" + h.forwarded_for + "|";
  trace += std::to_string(h.keep_alive) + std::to_string(h.expect_continue) + " body=" + reader.body() + "\n";
}

// A verdict, once given, is given again by every later call, and error() agrees with it.
void check_verdict(MessageReader& reader, Result r, const Limits& limits) {
  if (r == Result::done) {
    check(reader.error() == Error::none);
    check(reader.head_done());
    check(reader.body().size() <= limits.max_body);
    check(reader.parse() == Result::done);
  } else if (r == Result::error) {
    check(reader.error() != Error::none);
    check(!reader.error_message().empty());
    check(reader.parse() == Result::error);
    check(reader.finish() == Result::error);
  } else {
    check(reader.error() == Error::none);
  }
}

// Feeds `input` cut at `cuts`, parsing after every piece; closes at the end.
std::string run(MessageReader::Kind kind, const Limits& limits, std::string_view input, const std::vector<size_t>& cuts) {
  MessageReader reader(kind, limits.max_body, limits.max_head);
  std::string trace;
  int messages = 0;
  bool failed = false;
  size_t at = 0;
  auto consume = [&] {
    // Reads every message the buffered bytes complete.
    while (!failed && messages < kMaxMessages) {
      auto r = reader.parse();
      check_verdict(reader, r, limits);
      if (r == Result::incomplete) return;
      describe(trace, r, reader);
      ++messages;
      if (r == Result::error) {
        failed = true;
        return;
      }
      reader.next();
    }
  };
  for (size_t i = 0; i <= cuts.size(); ++i) {
    size_t end = i < cuts.size() ? cuts[i] : input.size();
    size_t n = end - at;
    if (n > 0) {
      auto [data, size] = reader.space(n);
      check(size >= n);
      std::memcpy(data, input.data() + at, n);
      reader.commit(n);
    }
    at = end;
    consume();
  }
  if (!failed && messages < kMaxMessages) {
    auto r = reader.finish();
    check(r != Result::incomplete);
    check(r == Result::done || reader.error() == Error::truncated);
    check_verdict(reader, r, limits);
    check(reader.finish() == r);
    describe(trace, r, reader);
  }
  return trace;
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);

  // Piece sizes from the input itself (1..64 bytes), so the fuzzer can steer them.
  std::vector<size_t> pieces;
  uint64_t state = fnv1a(input) | 1;
  for (size_t at = 0;;) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    at += 1 + state % 64;
    if (at >= size) break;
    pieces.push_back(at);
  }
  std::vector<size_t> bytes;
  if (size <= 8192) {
    for (size_t i = 1; i < size; ++i) bytes.push_back(i);
  }

  for (auto kind : {MessageReader::Kind::request, MessageReader::Kind::response}) {
    for (Limits limits : {Limits{1 << 20, 16 * 1024}, Limits{16, 96}}) {
      auto want = run(kind, limits, input, {});
      check(run(kind, limits, input, pieces) == want);
      if (!bytes.empty()) check(run(kind, limits, input, bytes) == want);
    }
  }
  return 0;
}
