#include "core/http_message.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

using namespace nodeops::http;
using Reader = MessageReader;
using Kind = MessageReader::Kind;
using Result = MessageReader::Result;
using Error = MessageReader::Error;

namespace {

constexpr uint64_t kMaxBody = 1 << 20;

// What a reader made of one message: everything a caller can observe, as one comparable string.
struct Outcome {
  Result result = Result::incomplete;
  Error error = Error::none;
  MessageHead head;
  std::string body;
  bool buffered = false;

  std::string describe() const {
    std::string s;
    s += "result=" + std::to_string(static_cast<int>(result));
    s += " error=" + std::to_string(static_cast<int>(error));
    s += " method=" + head.method + " target=" + head.target;
    s += " status=" + std::to_string(head.status) + " version=" + std::to_string(head.version);
    s += " content_type=" + head.content_type + " authorization=" + head.authorization;
    s += " forwarded_for=" + head.forwarded_for;
    s += " keep_alive=" + std::to_string(head.keep_alive) + " expect_continue=" + std::to_string(head.expect_continue);
    if (result == Result::done) s += " body=[" + body + "]";
    s += " buffered=" + std::to_string(buffered);
    return s;
  }
};

void feed(Reader& r, std::string_view bytes) {
  if (bytes.empty()) return;
  auto [data, size] = r.space(bytes.size());
  ASSERT_GE(size, bytes.size());
  std::memcpy(data, bytes.data(), bytes.size());
  r.commit(bytes.size());
}

// Feeds `input` in pieces that end at `cuts` (and at the end), parsing after each piece, as a
// socket loop would; `close` then tells the reader the peer closed. Once parse() has answered done
// or error, every later parse() must answer the same (the verdict is sticky).
Outcome run(Kind kind, std::string_view input, const std::vector<size_t>& cuts, bool close = false,
            uint64_t max_body = kMaxBody, size_t max_head = 16 * 1024) {
  Reader r(kind, max_body, max_head);
  Outcome out;
  size_t at = 0;
  auto ends = cuts;
  ends.push_back(input.size());
  for (size_t end : ends) {
    feed(r, input.substr(at, end - at));
    at = end;
    auto res = r.parse();
    if (out.result != Result::incomplete) {
      EXPECT_EQ(res, out.result) << "parse() changed its verdict after more bytes";
    }
    out.result = res;
  }
  if (out.result == Result::incomplete && close) out.result = r.finish();
  out.error = r.error();
  out.head = r.head();
  out.body = r.body();
  out.buffered = r.buffered();
  return out;
}

Outcome whole(Kind kind, std::string_view input, bool close = false, uint64_t max_body = kMaxBody,
              size_t max_head = 16 * 1024) {
  return run(kind, input, {}, close, max_body, max_head);
}

std::vector<size_t> every_byte(std::string_view input) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < input.size(); ++i) cuts.push_back(i);
  return cuts;
}

// The same message fed whole, one byte at a time, and cut in two at every position gives the same
// outcome: framing must never depend on how TCP segmented the bytes.
void expect_split_independent(Kind kind, std::string_view input, bool close = false, uint64_t max_body = kMaxBody,
                              size_t max_head = 16 * 1024) {
  auto want = whole(kind, input, close, max_body, max_head).describe();
  EXPECT_EQ(run(kind, input, every_byte(input), close, max_body, max_head).describe(), want) << "one byte at a time";
  for (size_t cut = 1; cut < input.size(); ++cut) {
    ASSERT_EQ(run(kind, input, {cut}, close, max_body, max_head).describe(), want) << "cut at byte " << cut;
  }
}

Error request_error(std::string_view input, uint64_t max_body = kMaxBody, size_t max_head = 16 * 1024) {
  auto out = whole(Kind::request, input, false, max_body, max_head);
  EXPECT_EQ(out.result, Result::error) << input;
  return out.error;
}

Error response_error(std::string_view input, bool close = false, uint64_t max_body = kMaxBody) {
  auto out = whole(Kind::response, input, close, max_body);
  EXPECT_EQ(out.result, Result::error) << input;
  return out.error;
}

const std::string kPost =
    "POST /ethereum?x=1 HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n"
    R"({"id":1,"a":2})";

}  // namespace

// --- simple messages -----------------------------------------------------------------------------

TEST(HttpMessage, ParsesARequest) {
  auto out = whole(Kind::request, kPost + "G");
  ASSERT_EQ(out.result, Result::done) << out.describe();
  EXPECT_EQ(out.head.method, "POST");
  EXPECT_EQ(out.head.target, "/ethereum?x=1");
  EXPECT_EQ(out.head.version, 11u);
  EXPECT_EQ(out.head.content_type, "application/json");
  EXPECT_TRUE(out.head.keep_alive);
  EXPECT_FALSE(out.head.expect_continue);
  EXPECT_EQ(out.body, R"({"id":1,"a":2})");
  EXPECT_TRUE(out.buffered) << "the byte after the 14-byte body belongs to the next message";
}

TEST(HttpMessage, ParsesARequestWithoutBody) {
  auto out = whole(Kind::request, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(out.result, Result::done);
  EXPECT_EQ(out.head.method, "GET");
  EXPECT_EQ(out.head.target, "/healthz");
  EXPECT_EQ(out.body, "");
  EXPECT_FALSE(out.buffered);
  EXPECT_EQ(whole(Kind::request, "GET / HTTP/1.1\r\n\r\n").result, Result::done) << "no header fields at all";
}

TEST(HttpMessage, ParsesAResponse) {
  auto out = whole(Kind::response, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
  ASSERT_EQ(out.result, Result::done);
  EXPECT_EQ(out.head.status, 200);
  EXPECT_EQ(out.head.content_type, "application/json");
  EXPECT_EQ(out.body, "{}");
  EXPECT_TRUE(out.head.keep_alive);
  EXPECT_FALSE(out.buffered);
  // The reason phrase is optional; the status code is not.
  EXPECT_EQ(whole(Kind::response, "HTTP/1.1 503\r\nContent-Length: 0\r\n\r\n").head.status, 503);
  EXPECT_EQ(response_error("HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n"), Error::malformed);
  EXPECT_EQ(response_error("HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n"), Error::malformed);
  EXPECT_EQ(response_error("HTTP/1.1 099 OK\r\nContent-Length: 0\r\n\r\n"), Error::malformed);
}

TEST(HttpMessage, IncompleteUntilTheLastByte) {
  Reader r(Kind::request, kMaxBody);
  feed(r, std::string_view(kPost).substr(0, kPost.size() - 1));
  EXPECT_EQ(r.parse(), Result::incomplete);
  EXPECT_TRUE(r.head_done());
  feed(r, std::string_view(kPost).substr(kPost.size() - 1));
  EXPECT_EQ(r.parse(), Result::done);
  EXPECT_EQ(r.body(), R"({"id":1,"a":2})");
}

TEST(HttpMessage, ContentLengthZeroIsDoneAfterTheHead) {
  auto out = whole(Kind::request, "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(out.result, Result::done);
  EXPECT_EQ(out.body, "");
  auto resp = whole(Kind::response, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(resp.result, Result::done) << "a response with length 0 does not run until close";
  EXPECT_TRUE(resp.head.keep_alive);
}

// --- split at every byte ---------------------------------------------------------------------------

TEST(HttpMessage, EveryMessageGivesTheSameResultWhateverTheSplit) {
  const std::vector<std::string> requests = {
      kPost,
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
      "\r\n\r\nGET / HTTP/1.1\r\n\r\n",  // empty lines before a request line are ignored
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX-Forwarded-For: 10.0.0.1, 10.0.0.2\r\n"
      "Authorization: Bearer t\r\n\r\n"
      "5;name=value\r\nhello\r\n1\r\n \r\n6 ; ext\r\nworld!\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n",
      "POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc",
      "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody",
      kPost + "GET /second HTTP/1.1\r\n\r\n",
      // Errors must not depend on the split either.
      "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
      "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
  };
  for (const auto& m : requests) {
    SCOPED_TRACE(m);
    expect_split_independent(Kind::request, m);
    expect_split_independent(Kind::request, m, /*close=*/true);
  }
  const std::vector<std::string> responses = {
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"until\":\"close\"}",
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: y\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
      "HTTP/1.1 204 No Content\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
  };
  for (const auto& m : responses) {
    SCOPED_TRACE(m);
    expect_split_independent(Kind::response, m);
    expect_split_independent(Kind::response, m, /*close=*/true);
  }
}

TEST(HttpMessage, LimitsDoNotDependOnTheSplit) {
  // Heads and bodies right at and just over the limits.
  std::string head = "GET / HTTP/1.1\r\nX: " + std::string(40, 'a') + "\r\n\r\n";
  expect_split_independent(Kind::request, head, false, kMaxBody, head.size());
  expect_split_independent(Kind::request, head, false, kMaxBody, head.size() - 1);
  std::string chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n";
  expect_split_independent(Kind::request, chunked, false, 7);
  expect_split_independent(Kind::request, chunked, false, 6);
  std::string trailers = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: " + std::string(50, 't') + "\r\n\r\n";
  expect_split_independent(Kind::request, trailers, false, kMaxBody, 56);
  expect_split_independent(Kind::request, trailers, false, kMaxBody, 54);
}

// Trailer field lines of exactly max_head bytes were accepted when the empty line that ends the
// trailer section arrived in the same read, and refused as head_too_large when its CR arrived alone
// (the partial empty line counted against the limit, the complete one did not).
TEST(HttpMessage, TrailerLimitDoesNotDependOnTheSplit) {
  std::string m = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: " + std::string(50, 't') + "\r\n\r\n";
  size_t trailer_lines = 55;  // "T: " + 50 bytes + CRLF
  auto at_once = whole(Kind::request, m, false, kMaxBody, trailer_lines);
  EXPECT_EQ(at_once.result, Result::done);
  auto cr_alone = run(Kind::request, m, {m.size() - 1}, false, kMaxBody, trailer_lines);
  EXPECT_EQ(cr_alone.describe(), at_once.describe());
}

// A chunk-size line (size plus extensions) longer than the reader's limit for it (4 KiB) was refused
// when it arrived over several reads but accepted when one read held all of it.
TEST(HttpMessage, LongChunkSizeLineDoesNotDependOnTheSplit) {
  std::string m = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;ext=" + std::string(5000, 'e') +
                  "\r\nx\r\n0\r\n\r\n";
  auto at_once = whole(Kind::request, m);
  auto size_line_start = m.find("1;ext");
  auto in_two_reads = run(Kind::request, m, {size_line_start + 4500});
  EXPECT_EQ(in_two_reads.describe(), at_once.describe());
  auto byte_by_byte = run(Kind::request, m, every_byte(m));
  EXPECT_EQ(byte_by_byte.describe(), at_once.describe());
}

// --- pipelining ------------------------------------------------------------------------------------

TEST(HttpMessage, PipelinedRequestsInOneBuffer) {
  Reader r(Kind::request, kMaxBody);
  feed(r, kPost + "POST /second HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc" + "GET /third HTTP/1.1\r\n\r\n");
  ASSERT_EQ(r.parse(), Result::done);
  EXPECT_EQ(r.head().target, "/ethereum?x=1");
  EXPECT_EQ(r.body(), R"({"id":1,"a":2})");
  EXPECT_TRUE(r.buffered());
  r.next();
  ASSERT_EQ(r.parse(), Result::done) << r.error_message();
  EXPECT_EQ(r.head().target, "/second");
  EXPECT_EQ(r.body(), "abc");
  EXPECT_EQ(r.head().content_type, "") << "next() clears the previous head";
  r.next();
  ASSERT_EQ(r.parse(), Result::done);
  EXPECT_EQ(r.head().method, "GET");
  EXPECT_EQ(r.head().target, "/third");
  EXPECT_EQ(r.body(), "");
  EXPECT_FALSE(r.buffered());
  r.next();
  EXPECT_EQ(r.parse(), Result::incomplete);
}

TEST(HttpMessage, PipelinedChunkedThenPartialRequest) {
  Reader r(Kind::request, kMaxBody);
  feed(r, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\nGET /next HT");
  ASSERT_EQ(r.parse(), Result::done);
  EXPECT_EQ(r.body(), "ab");
  EXPECT_TRUE(r.buffered());
  r.next();
  EXPECT_EQ(r.parse(), Result::incomplete);
  feed(r, "TP/1.1\r\n\r\n");
  ASSERT_EQ(r.parse(), Result::done);
  EXPECT_EQ(r.head().target, "/next");
}

TEST(HttpMessage, ReaderIsReusableAfterManyMessages) {
  Reader r(Kind::request, kMaxBody);
  for (int i = 0; i < 200; ++i) {
    std::string body = std::string(static_cast<size_t>(i * 37 % 3000), 'b');
    feed(r, "POST /" + std::to_string(i) + " HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                body);
    ASSERT_EQ(r.parse(), Result::done) << i;
    EXPECT_EQ(r.head().target, "/" + std::to_string(i));
    EXPECT_EQ(r.body(), body);
    r.next();
  }
}

TEST(HttpMessage, LargeBodiesReadInPiecesLeaveTheReaderReusable) {
  // Large bodies grow the read buffer; next() must keep bytes of the following message either way.
  const std::string big(300 * 1024, 'b');
  std::string chunked_body;
  for (size_t at = 0; at < big.size(); at += 70000) {
    auto piece = big.substr(at, 70000);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    chunked_body += size + piece + "\r\n";
  }
  const std::string stream = "POST /a HTTP/1.1\r\nContent-Length: " + std::to_string(big.size()) + "\r\n\r\n" + big +
                             "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked_body +
                             "0\r\n\r\nGET /c HTTP/1.1\r\n\r\n";
  for (size_t piece : {size_t{1000}, size_t{7000}, size_t{65536}, stream.size()}) {
    SCOPED_TRACE(piece);
    Reader r(Kind::request, kMaxBody);
    std::vector<std::string> targets;
    for (size_t at = 0; at < stream.size(); at += piece) {
      feed(r, std::string_view(stream).substr(at, piece));
      for (Result res; (res = r.parse()) == Result::done; r.next()) {
        targets.push_back(r.head().target);
        EXPECT_EQ(r.body(), targets.back() == "/c" ? "" : big) << targets.back();
      }
      ASSERT_EQ(r.error(), Error::none) << r.error_message();
    }
    EXPECT_EQ(targets, (std::vector<std::string>{"/a", "/b", "/c"}));
    EXPECT_FALSE(r.buffered());
  }
}

// --- chunked ---------------------------------------------------------------------------------------

TEST(HttpMessage, ChunkedWithExtensionsAndTrailers) {
  auto out = whole(Kind::request,
                   "POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"
                   "5;a=1;b=\"x y\"\r\nhello\r\n1 ; c\r\n,\r\n6\r\n world\r\n0;last\r\n"
                   "X-Checksum: abc\r\nOther: 1\r\n\r\n");
  ASSERT_EQ(out.result, Result::done) << out.describe();
  EXPECT_EQ(out.body, "hello, world");
  EXPECT_FALSE(out.buffered);
  EXPECT_EQ(out.head.content_type, "") << "trailers are dropped, not merged into the head";
}

TEST(HttpMessage, ChunkedUppercaseHexAndLeadingZeros) {
  auto out = whole(Kind::response, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00A\r\n0123456789\r\n000\r\n\r\n");
  ASSERT_EQ(out.result, Result::done) << out.describe();
  EXPECT_EQ(out.body, "0123456789");
}

TEST(HttpMessage, ChunkedSplitAcrossReads) {
  Reader r(Kind::response, kMaxBody);
  feed(r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1");
  EXPECT_EQ(r.parse(), Result::incomplete);
  EXPECT_TRUE(r.head_done());
  feed(r, "0\r\n0123456");
  EXPECT_EQ(r.parse(), Result::incomplete);
  feed(r, "789abcdef\r");
  EXPECT_EQ(r.parse(), Result::incomplete);
  feed(r, "\n0\r\n");
  EXPECT_EQ(r.parse(), Result::incomplete) << "the last chunk is followed by the trailer section";
  feed(r, "\r\n");
  ASSERT_EQ(r.parse(), Result::done);
  EXPECT_EQ(r.body(), "0123456789abcdef");
}

TEST(HttpMessage, BadChunkSizes) {
  const std::string head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(request_error(head + "zz\r\n"), Error::malformed);
  EXPECT_EQ(request_error(head + "\r\n"), Error::malformed) << "empty size";
  EXPECT_EQ(request_error(head + "-1\r\n"), Error::malformed);
  EXPECT_EQ(request_error(head + "0x5\r\nhello\r\n0\r\n\r\n"), Error::malformed);
  EXPECT_EQ(request_error(head + "5 z\r\nhello\r\n0\r\n\r\n"), Error::malformed) << "junk after the size";
  EXPECT_EQ(request_error(head + "5\nhello\r\n0\r\n\r\n"), Error::malformed) << "bare LF after the size";
  // More hex digits than a 64-bit size can hold: refused, never wrapped around to a small size.
  auto too_many = whole(Kind::request, head + "10000000000000005\r\nhello\r\n0\r\n\r\n");
  EXPECT_EQ(too_many.result, Result::error);
  EXPECT_NE(too_many.error, Error::none);
  auto wraps = whole(Kind::request, head + "ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n");
  EXPECT_EQ(wraps.result, Result::error);
  // An endless size line is refused, not buffered forever.
  Reader r(Kind::request, kMaxBody);
  feed(r, head + "1;");
  EXPECT_EQ(r.parse(), Result::incomplete);
  Result res = Result::incomplete;
  for (int i = 0; i < 100 && res == Result::incomplete; ++i) {
    feed(r, std::string(1000, 'e'));
    res = r.parse();
  }
  EXPECT_EQ(res, Result::error);
  EXPECT_EQ(r.error(), Error::malformed);
}

TEST(HttpMessage, ChunkDataMustEndWithCrlf) {
  const std::string head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(request_error(head + "5\r\nhelloX\r\n0\r\n\r\n"), Error::malformed);
  EXPECT_EQ(request_error(head + "5\r\nhello\n0\r\n\r\n"), Error::malformed);
  EXPECT_EQ(request_error(head + "5\r\nhello0\r\n\r\n"), Error::malformed);
  // A chunk longer than announced is not silently read as the next size line.
  EXPECT_EQ(request_error(head + "3\r\nhello\r\n0\r\n\r\n"), Error::malformed);
}

TEST(HttpMessage, MalformedTrailerIsRefused) {
  const std::string head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
  EXPECT_EQ(request_error(head + "no colon\r\n\r\n"), Error::malformed);
  EXPECT_EQ(request_error(head + "Bad Name: x\r\n\r\n"), Error::malformed);
  EXPECT_EQ(request_error(head + "X: a\x01z\r\n\r\n"), Error::malformed);
  EXPECT_EQ(request_error(head + "X: " + std::string(200, 'a') + "\r\n\r\n", kMaxBody, 128), Error::head_too_large);
}

// --- body until close, truncation --------------------------------------------------------------------

TEST(HttpMessage, ResponseBodyRunsUntilClose) {
  Reader r(Kind::response, kMaxBody);
  feed(r, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"res");
  EXPECT_EQ(r.parse(), Result::incomplete);
  feed(r, "ult\":1}");
  EXPECT_EQ(r.parse(), Result::incomplete) << "no framing: only the close ends it";
  EXPECT_EQ(r.finish(), Result::done);
  EXPECT_EQ(r.body(), "{\"result\":1}");
  EXPECT_FALSE(r.head().keep_alive) << "a body until close cannot leave the connection reusable";
  EXPECT_EQ(r.error(), Error::none);
  EXPECT_EQ(r.parse(), Result::done);
  EXPECT_EQ(r.finish(), Result::done);
}

TEST(HttpMessage, ResponseBodyUntilCloseIsLimited) {
  Reader r(Kind::response, 10);
  feed(r, "HTTP/1.1 200 OK\r\n\r\n0123456789");
  EXPECT_EQ(r.parse(), Result::incomplete);
  feed(r, "x");
  EXPECT_EQ(r.parse(), Result::error);
  EXPECT_EQ(r.error(), Error::body_too_large);
}

TEST(HttpMessage, RequestWithoutLengthHasNoBody) {
  // Only responses run until close; a request without framing has an empty body (RFC 9112 6.3).
  Reader r(Kind::request, kMaxBody);
  feed(r, "POST / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n\r\n");
  ASSERT_EQ(r.parse(), Result::done);
  EXPECT_EQ(r.body(), "");
  EXPECT_TRUE(r.buffered());
}

TEST(HttpMessage, TruncatedMessagesAreTruncated) {
  const std::vector<std::pair<Kind, std::string>> cases = {
      {Kind::request, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"},
      {Kind::request, "POST / HTTP/1.1\r\nContent-Le"},
      {Kind::request, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"},
      {Kind::request, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello"},
      {Kind::request, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"},
      {Kind::response, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"},
      {Kind::response, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"},
      {Kind::response, "HTTP/1.1 100 Continue\r\n\r\n"},
      {Kind::response, "HTTP/1.1 20"},
      {Kind::response, ""},
  };
  for (const auto& [kind, m] : cases) {
    SCOPED_TRACE(m);
    auto out = whole(kind, m, /*close=*/true);
    EXPECT_EQ(out.result, Result::error);
    EXPECT_EQ(out.error, Error::truncated);
  }
  Reader r(Kind::request, kMaxBody);
  feed(r, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
  EXPECT_EQ(r.parse(), Result::incomplete);
  EXPECT_EQ(r.finish(), Result::error);
  EXPECT_FALSE(r.error_message().empty());
  EXPECT_EQ(r.parse(), Result::error) << "the error is sticky";
  EXPECT_EQ(r.finish(), Result::error);
}

// --- interim and bodiless responses ------------------------------------------------------------------

TEST(HttpMessage, InterimResponsesAreSkipped) {
  auto out = whole(Kind::response,
                   "HTTP/1.1 100 Continue\r\n\r\n"
                   "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\nContent-Type: text/html\r\n\r\n"
                   "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
  ASSERT_EQ(out.result, Result::done) << out.describe();
  EXPECT_EQ(out.head.status, 200);
  EXPECT_EQ(out.head.content_type, "application/json") << "nothing of the interim heads leaks into the answer";
  EXPECT_EQ(out.body, "{}");

  Reader r(Kind::response, kMaxBody);
  feed(r, "HTTP/1.1 100 Continue\r\n\r\n");
  EXPECT_EQ(r.parse(), Result::incomplete) << "an interim response is not the answer";
  EXPECT_FALSE(r.buffered());
  feed(r, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
  ASSERT_EQ(r.parse(), Result::done);
  EXPECT_EQ(r.head().status, 200);
  EXPECT_EQ(r.body(), "x");
}

TEST(HttpMessage, AStormOfInterimResponsesIsRefused) {
  std::string storm;
  for (int i = 0; i < 9; ++i) storm += "HTTP/1.1 100 Continue\r\n\r\n";
  auto out = whole(Kind::response, storm + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_EQ(out.result, Result::error) << out.describe();
  // Eight are still a (strange) answer; the count starts over with each message.
  storm.clear();
  for (int i = 0; i < 8; ++i) storm += "HTTP/1.1 100 Continue\r\n\r\n";
  std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
  Reader r(Kind::response, kMaxBody);
  for (int round = 0; round < 2; ++round) {
    feed(r, storm + ok);
    ASSERT_EQ(r.parse(), Result::done) << round;
    r.next();
  }
}

TEST(HttpMessage, MemoryGrowsWithTheBodyThatArrivesNotWithContentLength) {
  Reader r(Kind::request, 64 << 20);
  feed(r, "POST / HTTP/1.1\r\nContent-Length: 60000000\r\n\r\nx");
  EXPECT_EQ(r.parse(), Result::incomplete);
  auto [data, size] = r.space();
  (void)data;
  EXPECT_LE(size, 64u * 1024) << "one byte of a 60 MB body must not reserve megabytes";
}

TEST(HttpMessage, ResponsesWithoutBody) {
  for (const char* status : {"204 No Content", "304 Not Modified"}) {
    SCOPED_TRACE(status);
    Reader r(Kind::response, kMaxBody);
    feed(r, std::string("HTTP/1.1 ") + status + "\r\nContent-Type: text/plain\r\n\r\n");
    ASSERT_EQ(r.parse(), Result::done) << "no Content-Length, yet the body is empty, not until close";
    EXPECT_EQ(r.body(), "");
    EXPECT_TRUE(r.head().keep_alive);
  }
  // A 204 that carries bytes anyway: they are not its body; they stay buffered (the caller then
  // does not reuse the connection).
  auto out = whole(Kind::response, "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_EQ(out.result, Result::done);
  EXPECT_EQ(out.body, "");
  EXPECT_TRUE(out.buffered);
  // Nor does its Content-Length count against the body limit: there is no body to limit.
  auto large = whole(Kind::response, "HTTP/1.1 304 Not Modified\r\nContent-Length: 99999999\r\n\r\n", false, 10);
  EXPECT_EQ(large.result, Result::done) << large.describe();
}

// --- keep-alive and Expect ----------------------------------------------------------------------------

TEST(HttpMessage, KeepAliveRules) {
  auto keep_alive = [](Kind kind, const std::string& start, const std::string& fields) {
    auto out = whole(kind, start + "\r\n" + fields + "Content-Length: 0\r\n\r\n");
    EXPECT_EQ(out.result, Result::done) << out.describe();
    return out.head.keep_alive;
  };
  for (auto [kind, v11, v10] : {std::tuple{Kind::request, "GET / HTTP/1.1", "GET / HTTP/1.0"},
                                std::tuple{Kind::response, "HTTP/1.1 200 OK", "HTTP/1.0 200 OK"}}) {
    std::string s11 = v11, s10 = v10;
    SCOPED_TRACE(s11);
    EXPECT_TRUE(keep_alive(kind, s11, ""));
    EXPECT_FALSE(keep_alive(kind, s11, "Connection: close\r\n"));
    EXPECT_FALSE(keep_alive(kind, s11, "Connection: CLOSE\r\n"));
    EXPECT_FALSE(keep_alive(kind, s11, "Connection: Upgrade, close\r\n"));
    EXPECT_FALSE(keep_alive(kind, s11, "Connection: keep-alive\r\nConnection: close\r\n"));
    EXPECT_TRUE(keep_alive(kind, s11, "Connection: keep-alive, Upgrade\r\n"));
    EXPECT_TRUE(keep_alive(kind, s11, "Connection: closed\r\n")) << "a token, not a prefix";
    EXPECT_FALSE(keep_alive(kind, s10, ""));
    EXPECT_TRUE(keep_alive(kind, s10, "Connection: keep-alive\r\n"));
    EXPECT_TRUE(keep_alive(kind, s10, "Connection: Keep-Alive\r\n"));
    EXPECT_TRUE(keep_alive(kind, s10, "Connection: Upgrade ,  keep-alive \r\n"));
    EXPECT_TRUE(keep_alive(kind, s10, "Connection: foo\r\nConnection: keep-alive\r\n"));
    EXPECT_FALSE(keep_alive(kind, s10, "Connection: keep-alive, close\r\n"));
    EXPECT_FALSE(keep_alive(kind, s10, "Connection: keep-alivex\r\n"));
  }
  auto v10 = whole(Kind::request, "GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(v10.head.version, 10u);
}

TEST(HttpMessage, ExpectContinue) {
  Reader r(Kind::request, kMaxBody);
  feed(r, "POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 4\r\n\r\n");
  EXPECT_EQ(r.parse(), Result::incomplete);
  EXPECT_TRUE(r.head_done()) << "the server must see the head before the body to answer 100 Continue";
  EXPECT_TRUE(r.head().expect_continue);
  feed(r, "body");
  ASSERT_EQ(r.parse(), Result::done);
  EXPECT_EQ(r.body(), "body");
  r.next();
  EXPECT_FALSE(r.head().expect_continue) << "next() clears it";

  EXPECT_FALSE(whole(Kind::request, "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").head.expect_continue);
  EXPECT_FALSE(whole(Kind::request, "POST / HTTP/1.1\r\nExpect: something\r\nContent-Length: 0\r\n\r\n")
                   .head.expect_continue);
  // HTTP/1.0 clients do not understand 100 Continue (RFC 9110 10.1.1).
  EXPECT_FALSE(whole(Kind::request, "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n")
                   .head.expect_continue);
}

// --- limits ----------------------------------------------------------------------------------------

TEST(HttpMessage, HeadTooLarge) {
  std::string big = "GET / HTTP/1.1\r\nX-Big: " + std::string(20 * 1024, 'a') + "\r\n\r\n";
  EXPECT_EQ(request_error(big), Error::head_too_large);
  // Without an end of head in sight, it fails as soon as the limit is passed, not at the end.
  Reader r(Kind::request, kMaxBody, 1024);
  feed(r, "GET / HTTP/1.1\r\nX-Big: ");
  Result res = Result::incomplete;
  size_t fed = 0;
  while (res == Result::incomplete && fed < 100 * 1024) {
    feed(r, std::string(100, 'a'));
    fed += 100;
    res = r.parse();
  }
  EXPECT_EQ(res, Result::error);
  EXPECT_EQ(r.error(), Error::head_too_large);
  EXPECT_LE(fed, 1100u);
  // Exactly at the limit is fine.
  std::string head = "GET / HTTP/1.1\r\nX: y\r\n\r\n";
  EXPECT_EQ(whole(Kind::request, head, false, kMaxBody, head.size()).result, Result::done);
  EXPECT_EQ(whole(Kind::request, head, false, kMaxBody, head.size() - 1).error, Error::head_too_large);
}

TEST(HttpMessage, AnnouncedBodyTooLargeFailsRightAfterTheHead) {
  Reader r(Kind::request, 100);
  feed(r, "POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n");
  EXPECT_EQ(r.parse(), Result::error) << "refused before any body byte arrives";
  EXPECT_EQ(r.error(), Error::body_too_large);
  EXPECT_EQ(whole(Kind::request, "POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'b'), false, 100)
                .result,
            Result::done);
  EXPECT_EQ(response_error("HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n", false, 100), Error::body_too_large);
  // The largest value that still parses (19 digits) is a length, not an overflow.
  EXPECT_EQ(request_error("POST / HTTP/1.1\r\nContent-Length: 9999999999999999999\r\n\r\n"), Error::body_too_large);
}

TEST(HttpMessage, DecodedChunkedBodyTooLarge) {
  const std::string head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(whole(Kind::request, head + "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", false, 10).result, Result::done);
  EXPECT_EQ(request_error(head + "5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n", 10), Error::body_too_large);
  EXPECT_EQ(request_error(head + "b\r\n", 10), Error::body_too_large) << "refused when announced, before the data";
  // Many small chunks add up.
  std::string many = head;
  for (int i = 0; i < 11; ++i) many += "1\r\nx\r\n";
  EXPECT_EQ(request_error(many, 10), Error::body_too_large);
}

// --- request smuggling ----------------------------------------------------------------------------------

TEST(HttpMessage, ContentLengthAndTransferEncodingTogetherAreRefused) {
  EXPECT_EQ(request_error("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n"),
            Error::malformed);
  EXPECT_EQ(request_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
            Error::malformed);
  EXPECT_EQ(response_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
            Error::malformed);
}

TEST(HttpMessage, ContentLengthValues) {
  auto length_of = [](const std::string& fields) {
    auto out = whole(Kind::request, "POST / HTTP/1.1\r\n" + fields + "\r\n" + std::string(10, 'b'));
    EXPECT_EQ(out.result, Result::done) << fields;
    return out.body.size();
  };
  EXPECT_EQ(length_of("Content-Length: 5\r\nContent-Length: 5\r\n"), 5u) << "the same value twice is fine";
  EXPECT_EQ(length_of("content-length:7\r\n"), 7u);
  EXPECT_EQ(length_of("CONTENT-LENGTH: \t 3 \t\r\n"), 3u) << "optional whitespace around the value";
  EXPECT_EQ(length_of("Content-Length: 0003\r\n"), 3u);

  for (const char* bad : {"Content-Length: 5\r\nContent-Length: 6\r\n", "Content-Length: 1,1\r\n",
                          "Content-Length: 1, 1\r\n", "Content-Length: +5\r\n", "Content-Length: -1\r\n",
                          "Content-Length: 12345678901234567890\r\n", "Content-Length: 99999999999999999999\r\n",
                          "Content-Length: 0x10\r\n", "Content-Length: 5 5\r\n", "Content-Length: \r\n",
                          "Content-Length: 1e3\r\n", "Content-Length: 5\r\nContent-Length: 05x\r\n"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(request_error(std::string("POST / HTTP/1.1\r\n") + bad + "\r\n" + std::string(10, 'b')),
              Error::malformed);
  }
}

TEST(HttpMessage, TransferEncodingOtherThanChunked) {
  for (const char* te : {"gzip", "chunked, gzip", "gzip, chunked", "identity", "chunked;q=1", "xchunked", ""}) {
    SCOPED_TRACE(te);
    auto out = whole(Kind::request, std::string("POST / HTTP/1.1\r\nTransfer-Encoding: ") + te + "\r\n\r\n0\r\n\r\n");
    EXPECT_EQ(out.result, Result::error);
    EXPECT_EQ(out.error, Error::unsupported);
  }
  EXPECT_EQ(response_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"), Error::unsupported);
  // Repeated, even with the same value: a second parser might read the list as "chunked, chunked".
  EXPECT_EQ(request_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Error::malformed);
  EXPECT_NE(whole(Kind::request, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n")
                .result,
            Result::done);
  // Chunked in HTTP/1.0 is not a framing a 1.0 peer knows.
  EXPECT_EQ(request_error("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), Error::malformed);
}

TEST(HttpMessage, StrictHeaderSyntax) {
  static constexpr char kNulInValue[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
  const std::vector<std::string> bad = {
      "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",       // obs-fold
      "GET / HTTP/1.1\r\nHost: x\r\n\tfolded\r\n\r\n",      // obs-fold with a tab
      "GET / HTTP/1.1\r\n Host: x\r\n\r\n",                 // first field line starting with whitespace
      "GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\nhello",  // space before the colon
      "GET / HTTP/1.1\r\nHost\t: x\r\n\r\n",                // tab before the colon
      "GET / HTTP/1.1\r\nHost x\r\n\r\n",                   // no colon
      "GET / HTTP/1.1\r\n: x\r\n\r\n",                      // empty name
      "GET / HTTP/1.1\r\nX(y): x\r\n\r\n",                  // not a token
      "GET / HTTP/1.1\r\nHost: x\nContent-Length: 5\r\n\r\nhello",  // bare LF inside the head
      "GET / HTTP/1.1\nHost: x\r\n\r\n",                            // bare LF after the request line
      "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",                          // bare CR in a value
      std::string(kNulInValue, sizeof(kNulInValue) - 1),             // NUL in a value
      "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n",                         // DEL in a value
      "GET / HTTP/1.1\r\nX: a\x01\r\n\r\n",
  };
  for (const auto& m : bad) {
    SCOPED_TRACE(m);
    EXPECT_EQ(request_error(m), Error::malformed);
  }
  // Tabs and obs-text are allowed in values.
  auto ok = whole(Kind::request, "GET / HTTP/1.1\r\nX: a\tb \xe2\x82\xac\r\n\r\n");
  EXPECT_EQ(ok.result, Result::done);
  // A head with bare LF line endings only never ends: it is not taken as a message.
  auto lf = whole(Kind::request, "GET / HTTP/1.1\nHost: x\nContent-Length: 0\n\n", /*close=*/true);
  EXPECT_EQ(lf.result, Result::error);
  EXPECT_NE(lf.error, Error::none);
  Reader r(Kind::request, kMaxBody, 64);
  feed(r, "GET / HTTP/1.1\nHost: x\nContent-Length: 0\n\n");
  EXPECT_EQ(r.parse(), Result::incomplete);
  feed(r, std::string(100, '\n'));
  EXPECT_EQ(r.parse(), Result::error);
  EXPECT_EQ(r.error(), Error::head_too_large);
}

TEST(HttpMessage, StrictStartLine) {
  for (const char* line : {"GET / HTTP/2.0", "GET / HTTP/1.2", "GET / HTTP/0.9", "GET / http/1.1", "GET / HTTP/1.1 ",
                           "GET  / HTTP/1.1", "GET /", "GET", "G(T / HTTP/1.1", "GET /a\x01 HTTP/1.1", "GET /\x80 HTTP/1.1",
                           " GET / HTTP/1.1"}) {
    SCOPED_TRACE(line);
    EXPECT_EQ(request_error(std::string(line) + "\r\nHost: x\r\n\r\n"), Error::malformed);
  }
  for (const char* line : {"HTTP/2.0 200 OK", "HTTP/1.2 200 OK", "HTTP/1.1  200 OK", "HTTP/1.1 2x0 OK", "ICY 200 OK",
                           "HTTP/1.1 200 O\x01K"}) {
    SCOPED_TRACE(line);
    EXPECT_EQ(response_error(std::string(line) + "\r\nContent-Length: 0\r\n\r\n"), Error::malformed);
  }
}

// --- captured header fields -------------------------------------------------------------------------------

TEST(HttpMessage, CapturesTheFieldsTheGatewayNeeds) {
  auto out = whole(Kind::request,
                   "POST / HTTP/1.1\r\ncontent-TYPE:   application/json; charset=utf-8  \r\n"
                   "AUTHORIZATION: Bearer abc\r\nx-forwarded-for: 203.0.113.7, 10.0.0.1\r\n"
                   "X-Forwarded-For: 198.51.100.1\r\nContent-Type: text/plain\r\nAuthorization: Basic zzz\r\n"
                   "X-Forwarded-Forx: nope\r\nContent-Types: nope\r\nx-api-KEY: k1\r\nX-API-Key: k2\r\n"
                   "Origin: https://app.example\r\n\r\n");
  ASSERT_EQ(out.result, Result::done) << out.describe();
  EXPECT_EQ(out.head.content_type, "application/json; charset=utf-8") << "trimmed, first occurrence";
  EXPECT_EQ(out.head.authorization, "Bearer abc");
  EXPECT_EQ(out.head.forwarded_for, "203.0.113.7, 10.0.0.1, 198.51.100.1") << "every field line, joined in order";
  EXPECT_EQ(out.head.api_key, "k1") << "first occurrence";
  EXPECT_EQ(out.head.origin, "https://app.example");
}

TEST(HttpMessage, ErrorsAreStickyAndNamed) {
  Reader r(Kind::request, kMaxBody);
  feed(r, "GET / HTTP/1.1\r\nHost : x\r\n\r\n");
  EXPECT_EQ(r.parse(), Result::error);
  EXPECT_EQ(r.error(), Error::malformed);
  EXPECT_FALSE(r.error_message().empty());
  feed(r, "GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.parse(), Result::error) << "nothing after an error is parsed";
  EXPECT_EQ(r.finish(), Result::error);
  EXPECT_EQ(r.error(), Error::malformed);
  r.next();  // a caller that goes on after an error does not see the old one
  EXPECT_EQ(r.error(), Error::none);
  EXPECT_TRUE(r.error_message().empty());
}

TEST(HttpMessage, BodiesAreChargedToASharedBudgetAndGiveItBack) {
  std::atomic<uint64_t> held{0};
  std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 600\r\n\r\n" + std::string(600, 'a');
  Reader a(Kind::response, kMaxBody), b(Kind::response, kMaxBody);
  a.charge_to(&held, 1000);
  b.charge_to(&held, 1000);
  feed(a, ok);
  ASSERT_EQ(a.parse(), Result::done);
  EXPECT_EQ(held.load(), 600u);
  // A second body would take the shared total over 1000: refused, and its bytes given back.
  feed(b, ok);
  EXPECT_EQ(b.parse(), Result::error);
  EXPECT_EQ(b.error(), MessageReader::Error::over_budget);
  EXPECT_EQ(held.load(), 600u);
  // The taker of a body takes its charge; a body dropped by next() gives it back.
  EXPECT_EQ(a.take_charge(), 600u);
  held -= 600;
  Reader c(Kind::response, kMaxBody);
  c.charge_to(&held, 1000);
  feed(c, ok);
  ASSERT_EQ(c.parse(), Result::done);
  EXPECT_EQ(held.load(), 600u);
  c.next();
  EXPECT_EQ(held.load(), 0u);
}

// --- WebSocket upgrade requests (RFC 6455 4.2.1) ------------------------------------------------

namespace {

constexpr std::string_view kKey = "dGhlIHNhbXBsZSBub25jZQ==";  // RFC 6455's own example key

std::string upgrade_request(std::string_view method = "GET", std::string_view version = "HTTP/1.1",
                            std::string_view connection = "keep-alive, Upgrade", std::string_view upgrade = "websocket",
                            std::string_view key = kKey, std::string_view ws_version = "13") {
  std::string r = std::string(method) + " /eth " + std::string(version) + "\r\nHost: gw\r\n";
  if (!connection.empty()) r += "Connection: " + std::string(connection) + "\r\n";
  if (!upgrade.empty()) r += "Upgrade: " + std::string(upgrade) + "\r\n";
  if (!key.empty()) r += "Sec-WebSocket-Key: " + std::string(key) + "\r\n";
  if (!ws_version.empty()) r += "Sec-WebSocket-Version: " + std::string(ws_version) + "\r\n";
  return r + "\r\n";
}

WebSocketUpgrade verdict_of(const std::string& request, std::string* why = nullptr) {
  auto out = whole(Kind::request, request);
  EXPECT_EQ(out.result, Result::done) << request;
  return websocket_upgrade(out.head, why);
}

}  // namespace

TEST(WebSocketUpgrade, AValidHandshakeIsRecognisedWhateverTheCaseOfItsTokens) {
  EXPECT_EQ(verdict_of(upgrade_request()), WebSocketUpgrade::valid);
  EXPECT_EQ(verdict_of(upgrade_request("GET", "HTTP/1.1", "UPGRADE", "WebSocket")), WebSocketUpgrade::valid);
  EXPECT_EQ(verdict_of(upgrade_request("GET", "HTTP/1.1", "upgrade", "h2c, websocket")), WebSocketUpgrade::valid);
  auto out = whole(Kind::request, upgrade_request());
  EXPECT_EQ(out.head.websocket_key, kKey);
  EXPECT_TRUE(out.head.keep_alive);
}

TEST(WebSocketUpgrade, AnOrdinaryRequestIsNotAnUpgrade) {
  EXPECT_EQ(verdict_of("POST /eth HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), WebSocketUpgrade::none);
  EXPECT_EQ(verdict_of(upgrade_request("GET", "HTTP/1.1", "upgrade", "h2c")), WebSocketUpgrade::none);
}

TEST(WebSocketUpgrade, ABrokenHandshakeIsABadRequestThatSaysWhy) {
  std::string why;
  EXPECT_EQ(verdict_of(upgrade_request("POST"), &why), WebSocketUpgrade::bad_request);
  EXPECT_NE(why.find("GET"), std::string::npos);
  EXPECT_EQ(verdict_of(upgrade_request("GET", "HTTP/1.0"), &why), WebSocketUpgrade::bad_request);
  EXPECT_EQ(verdict_of(upgrade_request("GET", "HTTP/1.1", "keep-alive"), &why), WebSocketUpgrade::bad_request);
  EXPECT_NE(why.find("Connection"), std::string::npos);
  for (std::string_view key : {"", "short==", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ=x",
                               "dGhlIHNhbXBsZSBub25jZR==", "dGhlIHNhbXBsZSBub25j*Q==",
                               "dGhlIHNhbXBsZSBub25jZQ==dGhl"}) {
    EXPECT_EQ(verdict_of(upgrade_request("GET", "HTTP/1.1", "Upgrade", "websocket", key), &why),
              WebSocketUpgrade::bad_request)
        << key;
    EXPECT_NE(why.find("Sec-WebSocket-Key"), std::string::npos) << key;
  }
  auto twice = upgrade_request();
  twice.insert(twice.size() - 2, "Sec-WebSocket-Key: " + std::string(kKey) + "\r\n");
  EXPECT_EQ(request_error(twice), Error::malformed) << "two keys: which one would a proxy have answered?";
}

TEST(WebSocketUpgrade, AnotherProtocolVersionIsToldWhichOneWeSpeak) {
  for (std::string_view v : {"", "8", "12", "13, 8"}) {
    EXPECT_EQ(verdict_of(upgrade_request("GET", "HTTP/1.1", "Upgrade", "websocket", kKey, v)),
              WebSocketUpgrade::bad_version)
        << v;
  }
}

TEST(WebSocketUpgrade, TheNextRequestOnTheConnectionStartsClean) {
  MessageReader reader(Kind::request, kMaxBody);
  auto input = upgrade_request() + "GET /healthz HTTP/1.1\r\n\r\n";
  auto [data, size] = reader.space(input.size());
  std::memcpy(data, input.data(), input.size());
  reader.commit(input.size());
  ASSERT_EQ(reader.parse(), Result::done);
  EXPECT_EQ(websocket_upgrade(reader.head()), WebSocketUpgrade::valid);
  reader.next();
  ASSERT_EQ(reader.parse(), Result::done);
  EXPECT_EQ(websocket_upgrade(reader.head()), WebSocketUpgrade::none);
  EXPECT_TRUE(reader.head().websocket_key.empty());
  EXPECT_FALSE(reader.head().connection_upgrade);
}

TEST(WebSocketUpgrade, ExtensionOffersAreKeptJoinedAndClearedForTheNextRequest) {
  auto offer = upgrade_request();
  offer.insert(offer.size() - 2, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                                 "sec-websocket-extensions: x-webkit-deflate-frame\r\n");
  auto out = whole(Kind::request, offer);
  EXPECT_EQ(out.head.websocket_extensions, "permessage-deflate; client_max_window_bits, x-webkit-deflate-frame");
  EXPECT_TRUE(whole(Kind::request, upgrade_request()).head.websocket_extensions.empty());
  MessageReader reader(Kind::request, kMaxBody);
  auto input = offer + "GET /healthz HTTP/1.1\r\n\r\n";
  auto [data, size] = reader.space(input.size());
  std::memcpy(data, input.data(), input.size());
  reader.commit(input.size());
  ASSERT_EQ(reader.parse(), Result::done);
  EXPECT_FALSE(reader.head().websocket_extensions.empty());
  reader.next();
  ASSERT_EQ(reader.parse(), Result::done);
  EXPECT_TRUE(reader.head().websocket_extensions.empty());
}
