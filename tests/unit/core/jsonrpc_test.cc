#include "core/jsonrpc.h"

#include <gtest/gtest.h>

using namespace nodeops::jsonrpc;

TEST(JsonRpc, SingleCallKeepsRawIdAndParams) {
  std::string body = R"({"jsonrpc":"2.0","id":"abc","method":"eth_getBalance","params":["0x1", "latest"]})";
  auto r = parse_request(body);
  ASSERT_FALSE(r.fatal);
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_FALSE(r.batch);
  EXPECT_EQ(r.calls[0].id, "\"abc\"");
  EXPECT_EQ(r.calls[0].method, "eth_getBalance");
  EXPECT_EQ(r.calls[0].params, R"(["0x1", "latest"])");
  EXPECT_FALSE(r.calls[0].invalid);
}

TEST(JsonRpc, IdsOfEveryAllowedKind) {
  auto r = parse_request(R"([{"jsonrpc":"2.0","id":7,"method":"a"},{"jsonrpc":"2.0","id":null,"method":"b"},
                             {"jsonrpc":"2.0","method":"c"},{"jsonrpc":"2.0","id":1.5e3,"method":"d"}])");
  ASSERT_EQ(r.calls.size(), 4u);
  EXPECT_TRUE(r.batch);
  EXPECT_EQ(r.calls[0].id, "7");
  EXPECT_EQ(r.calls[1].id, "null");
  EXPECT_TRUE(r.calls[2].notification());
  EXPECT_EQ(r.calls[3].id, "1.5e3");
}

TEST(JsonRpc, MalformedBodyIsAParseError) {
  for (const char* bad : {"{", "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":[tru]}", "", "nope", "[1,]"}) {
    auto r = parse_request(bad);
    ASSERT_TRUE(r.fatal) << bad;
    EXPECT_EQ(r.fatal->first, kParseError) << bad;
  }
}

TEST(JsonRpc, InvalidRequests) {
  auto empty = parse_request("[]");
  ASSERT_TRUE(empty.fatal);
  EXPECT_EQ(empty.fatal->first, kInvalidRequest);
  auto scalar = parse_request("42");
  ASSERT_TRUE(scalar.fatal);
  EXPECT_EQ(scalar.fatal->first, kInvalidRequest);

  auto r = parse_request(R"([1, {"jsonrpc":"1.0","id":1,"method":"a"}, {"jsonrpc":"2.0","id":{},"method":"a"},
                            {"jsonrpc":"2.0","id":2}, {"jsonrpc":"2.0","id":3,"method":"a","params":5}])");
  ASSERT_FALSE(r.fatal);
  ASSERT_EQ(r.calls.size(), 5u);
  for (auto& c : r.calls) {
    ASSERT_TRUE(c.invalid);
    EXPECT_EQ(c.invalid->first, kInvalidRequest);
  }
  EXPECT_EQ(r.calls[0].id, "null");
  EXPECT_EQ(r.calls[1].id, "1");
  EXPECT_EQ(r.calls[2].id, "null");
  EXPECT_EQ(r.calls[4].id, "3");
}

TEST(JsonRpc, RepliesWrapRawBytes) {
  EXPECT_EQ(result_reply("\"x\"", R"({"a": 1 })"), R"({"jsonrpc":"2.0","id":"x","result":{"a": 1 }})");
  EXPECT_EQ(error_reply("", kMethodNotFound, "no \"such\""),
            R"({"jsonrpc":"2.0","id":null,"error":{"code":-32601,"message":"no \"such\""}})");
  EXPECT_EQ(upstream_request(9, "eth_call", R"([{}, "latest"])"),
            R"({"jsonrpc":"2.0","id":9,"method":"eth_call","params":[{}, "latest"]})");
  EXPECT_EQ(upstream_request(1, "eth_blockNumber", ""), R"({"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"})");
}

TEST(JsonRpc, UpstreamReplyResultIsForwardedByteForByte) {
  std::string body = R"({"jsonrpc":"2.0","id":4,"result":{"number":"0x10",  "hash" : "0xab"}})";
  auto r = parse_upstream_reply(body, 4);
  ASSERT_EQ(r.kind, UpstreamReply::Kind::result) << r.problem;
  EXPECT_EQ(r.payload, R"({"number":"0x10",  "hash" : "0xab"})");
  auto n = parse_upstream_reply(R"({"jsonrpc":"2.0","id":4,"result":null})", 4);
  ASSERT_EQ(n.kind, UpstreamReply::Kind::result);
  EXPECT_EQ(n.payload, "null");
}

TEST(JsonRpc, UpstreamErrorsAreReadAndKept) {
  auto r = parse_upstream_reply(R"({"jsonrpc":"2.0","id":2,"error":{"code":-32000,"message":"already known"}})", 2);
  ASSERT_EQ(r.kind, UpstreamReply::Kind::error);
  EXPECT_EQ(r.error_code, -32000);
  EXPECT_EQ(r.error_message, "already known");
  EXPECT_EQ(r.payload, R"({"code":-32000,"message":"already known"})");
}

TEST(JsonRpc, LyingOrBrokenUpstreamRepliesAreInvalid) {
  for (const char* bad : {"", "<html>502</html>", R"({"jsonrpc":"2.0","id":2,"result":1})",
                          R"({"jsonrpc":"2.0","id":1})", R"({"jsonrpc":"2.0","id":1,"result":[1,2)",
                          R"([{"jsonrpc":"2.0","id":1,"result":1}])", R"({"jsonrpc":"2.0","id":1,"error":"boom"})"}) {
    auto r = parse_upstream_reply(bad, 1);
    EXPECT_EQ(r.kind, UpstreamReply::Kind::invalid) << bad;
    EXPECT_FALSE(r.problem.empty()) << bad;
  }
}

// The raw spans come from a scan of the validated text, not from simdjson: strings that hold
// quotes, backslashes and brackets, whitespace everywhere, nesting and huge numbers must not
// move a boundary.
TEST(JsonRpc, RawSpansSurviveTrickyText) {
  std::string params = R"([ {"data":"a\"]}[{\\", "x\\\\":[1,{"y":"}"}]} , "\\", -1.5E+3, 123456789012345678901234567890 ])";
  std::string body = " \n{ \"id\" :\t\"i\\\"d\" , \"jsonrpc\":\"2.0\", \"method\" : \"eth_call\", \"params\" : " + params + " }\n";
  auto r = parse_request(body);
  ASSERT_FALSE(r.fatal);
  ASSERT_EQ(r.calls.size(), 1u);
  ASSERT_FALSE(r.calls[0].invalid) << r.calls[0].invalid->second;
  EXPECT_EQ(r.calls[0].id, R"("i\"d")");
  EXPECT_EQ(r.calls[0].params, params);

  std::string batch_body = "[ " + body + " ,{\"jsonrpc\":\"2.0\",\"id\":[],\"method\":\"x\"}, " + body + "]";
  auto batch = parse_request(batch_body);  // the views point into the body: it must outlive them
  ASSERT_EQ(batch.calls.size(), 3u);
  EXPECT_EQ(batch.calls[0].params, params);
  EXPECT_TRUE(batch.calls[1].invalid);
  EXPECT_EQ(batch.calls[2].params, params);
}

TEST(JsonRpc, RawReplySpanIsTheFirstMemberOfItsName) {
  std::string result = R"({"logs":[{"topics":["0x\"]"],"data":"}"}], "n": 18446744073709551616 })";
  std::string body = R"({"jsonrpc":"2.0", "note":"result", "id":3 ,"result" : )" + result + R"( , "result":"second"})";
  auto r = parse_upstream_reply(body, 3);
  ASSERT_EQ(r.kind, UpstreamReply::Kind::result) << r.problem;
  EXPECT_EQ(r.payload, result);
}

TEST(JsonRpc, ReplyInPlaceEqualsTheCopyingReply) {
  using namespace nodeops::jsonrpc;
  for (std::string body : {std::string(R"({"jsonrpc":"2.0","id":123456789,"result":{"a":[1,2,3]}})"),
                           std::string(R"( {"id":1,"jsonrpc":"2.0","result":"0x1"}  )"),
                           std::string(R"({"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"x"}})")}) {
    auto reply = parse_upstream_reply(body, body.find("123456789") != std::string::npos ? 123456789 : 1);
    ASSERT_NE(reply.kind, UpstreamReply::Kind::invalid) << body;
    bool error = reply.kind == UpstreamReply::Kind::error;
    auto expected = error ? error_object_reply("\"client-id-that-is-long\"", reply.payload)
                          : result_reply("\"client-id-that-is-long\"", reply.payload);
    EXPECT_EQ(reply_in_place(std::move(body), reply.payload, "\"client-id-that-is-long\"", error), expected);
  }
}

TEST(JsonRpc, AnUpstreamErrorCodeMustBeAnIntegerIn32Bits) {
  using namespace nodeops::jsonrpc;
  for (const char* body : {R"({"jsonrpc":"2.0","id":1,"error":{"code":1e400,"message":"x"}})",
                           R"({"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"x"}})",
                           R"({"jsonrpc":"2.0","id":1,"error":{"code":99999999999,"message":"x"}})",
                           R"({"jsonrpc":"2.0","id":1,"error":{"code":"-32000","message":"x"}})",
                           R"({"jsonrpc":"2.0","id":1,"error":{"message":"x"}})"}) {
    EXPECT_EQ(parse_upstream_reply(body, 1).kind, UpstreamReply::Kind::invalid) << body;
  }
  auto ok = parse_upstream_reply(R"({"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"x"}})", 1);
  EXPECT_EQ(ok.kind, UpstreamReply::Kind::error);
  EXPECT_EQ(ok.error_code, -32000);
}

TEST(JsonRpc, ABatchOverTheLimitIsRefusedBeforeItsCallsAreRead) {
  std::string body = "[";
  for (int i = 0; i < 1000; ++i) body += std::string(i ? "," : "") + "{}";
  body += "]";
  auto parsed = nodeops::jsonrpc::parse_request(body, 100);
  ASSERT_TRUE(parsed.fatal);
  EXPECT_EQ(parsed.fatal->first, nodeops::jsonrpc::kBatchTooLarge);
  EXPECT_TRUE(parsed.calls.empty());
  EXPECT_EQ(nodeops::jsonrpc::parse_request(body).calls.size(), 1000u);
}

TEST(JsonRpc, BatchReplySplitsElementsByIdInReplyOrder) {
  std::string body = R"( [ {"jsonrpc":"2.0","id":12,"result":"0x2"} , {"id":"x","result":1},)"
                     R"({"jsonrpc":"2.0","id":11,"error":{"code":-32000,"message":"m"}}, 5, {"id":-1,"result":2}] )";
  auto r = split_batch_reply(body);
  ASSERT_TRUE(r.is_array);
  // Elements without an unsigned integer id (a string id, a bare number, a negative id) are skipped.
  ASSERT_EQ(r.items.size(), 2u);
  EXPECT_EQ(r.items[0].first, 12u);
  EXPECT_EQ(r.items[0].second, R"({"jsonrpc":"2.0","id":12,"result":"0x2"})");
  EXPECT_EQ(r.items[1].first, 11u);
  EXPECT_EQ(parse_upstream_reply(r.items[1].second, 11).kind, UpstreamReply::Kind::error);
}

TEST(JsonRpc, BatchReplyThatIsNoBatchSaysWhy) {
  auto single = split_batch_reply(R"({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"no batches"}})");
  EXPECT_FALSE(single.is_array);
  EXPECT_NE(single.problem.find("other than an array"), std::string::npos);
  EXPECT_EQ(split_batch_reply("<html>").problem, "reply is not JSON");
  EXPECT_EQ(split_batch_reply("  ").problem, "empty reply");
  auto empty = split_batch_reply("[]");
  EXPECT_TRUE(empty.is_array);
  EXPECT_TRUE(empty.items.empty());
}

TEST(JsonRpc, MessageIdSaysWhichCallAWebSocketMessageAnswers) {
  EXPECT_EQ(message_id(R"({"jsonrpc":"2.0","id":42,"result":"0x1"})").id, 42u);
  EXPECT_EQ(message_id(R"([{"jsonrpc":"2.0","id":"x","result":1},{"jsonrpc":"2.0","id":9,"result":2}])").id, 9u);
  auto notification = message_id(R"({"jsonrpc":"2.0","method":"eth_subscription","params":{}})");
  EXPECT_TRUE(notification.json);
  EXPECT_FALSE(notification.id);
  EXPECT_FALSE(message_id(R"({"id":"7","result":1})").id);  // a string id is not one of ours
  EXPECT_FALSE(message_id("this is not json").json);
  EXPECT_FALSE(message_id("").json);
}

TEST(JsonRpc, UnsignedIdAcceptsOnlyPlainUnsignedIntegers) {
  EXPECT_EQ(unsigned_id("0"), 0u);
  EXPECT_EQ(unsigned_id("18446744073709551615"), UINT64_MAX);
  for (const char* raw : {"", "-1", "1.0", "1e3", "\"7\"", "07", "18446744073709551616", "null"}) {
    EXPECT_FALSE(unsigned_id(raw)) << raw;
  }
}

TEST(JsonRpc, LeadingReplyIdReadsTheGatewaysOwnShapeOnly) {
  EXPECT_EQ(leading_reply_id(R"({"jsonrpc":"2.0","id":42,"result":"0x1"})"), 42u);
  EXPECT_EQ(leading_reply_id(R"([{"jsonrpc":"2.0","id":7,"result":1},{"jsonrpc":"2.0","id":8,"result":2}])"), 7u);
  EXPECT_FALSE(leading_reply_id(R"({"id":42,"jsonrpc":"2.0","result":"0x1"})"));  // another order: parse it
  EXPECT_FALSE(leading_reply_id(R"({"jsonrpc":"2.0","id":"42","result":1})"));
  EXPECT_FALSE(leading_reply_id(R"({"jsonrpc":"2.0","id":42)"));
  EXPECT_FALSE(leading_reply_id("this is not json"));
}

TEST(JsonRpc, UpstreamRequestIdsScansWhatUpstreamRequestWrites) {
  std::vector<uint64_t> ids;
  // Params with brackets, braces, commas and escaped quotes inside strings.
  auto tricky = upstream_request(5, "eth_call", R"([{"data":"]},\"[{","to":"0x1"},"latest"])");
  ASSERT_TRUE(upstream_request_ids(tricky, ids));
  EXPECT_EQ(ids, (std::vector<uint64_t>{5}));
  ids.clear();
  auto batch = "[" + upstream_request(1, "eth_chainId", "") + "," + tricky + "," + upstream_request(9, "a", "[[[]]]") + "]";
  ASSERT_TRUE(upstream_request_ids(batch, ids));
  EXPECT_EQ(ids, (std::vector<uint64_t>{1, 5, 9}));
  for (const std::string& other : {std::string(R"({"id":1,"jsonrpc":"2.0","method":"x"})"),  // another writer
                                   tricky + " ", tricky.substr(0, tricky.size() - 1), batch.substr(0, batch.size() - 1),
                                   "[" + tricky + ",]", std::string(R"({"jsonrpc":"2.0","id":1,"method":"x","p":"\)"),
                                   std::string("[]"), std::string("")}) {
    std::vector<uint64_t> none;
    EXPECT_FALSE(upstream_request_ids(other, none)) << other;
  }
}
