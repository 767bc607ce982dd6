// WsRpcClient against the project's own WebSocket server (core/websocket.h) on a loopback port:
// what a JSON-RPC node does on a WebSocket, with the timing and the misbehaviour under the test's
// control. The peer answers `wait_<ms>` after that many milliseconds with its params as the result,
// and `garbage` with a text that is not JSON; the upgrade to /refuse is answered 429.
#include "core/coroutine_warnings.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <string>
#include <vector>

#include "core/concurrent.h"
#include "core/http.h"
#include "core/jsonrpc.h"
#include "core/ws_client.h"

namespace nodeops::http {
namespace {

namespace asio = boost::asio;

class Node final : public WebSocketSession {
 public:
  explicit Node(asio::io_context& io) : io_(io) {}
  asio::awaitable<WebSocketMessage> on_message(std::string message) override {
    auto request = jsonrpc::parse_request(message);
    std::vector<std::string> replies;
    for (const auto& call : request.calls) {
      if (call.method == "garbage") co_return WebSocketMessage{"this is not json", nullptr};
      if (call.method.starts_with("wait_")) {
        asio::steady_timer t(io_, std::chrono::milliseconds(std::stoi(call.method.substr(5))));
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      replies.push_back(jsonrpc::result_reply(call.id, call.params.empty() ? "null" : call.params));
    }
    std::string out = request.batch ? "[" : "";
    for (size_t i = 0; i < replies.size(); ++i) out += (i ? "," : "") + replies[i];
    if (request.batch) out += "]";
    co_return WebSocketMessage{out, nullptr};
  }

 private:
  asio::io_context& io_;
};

class WsClientTest : public ::testing::Test {
 protected:
  WsClientTest() {
    ServerOptions options;
    options.listen = {"127.0.0.1", 0};
    WebSocketOptions ws;
    ws.accept = [this](Request& req) -> asio::awaitable<WebSocketAccept> {
      WebSocketAccept a;
      if (req.target == "/refuse") {
        Response r;
        r.status = 429;
        r.headers.emplace_back("Retry-After", "3");
        r.body = R"({"error":"slow down"})";
        a.refusal = std::move(r);
      } else {
        ++upgrades;
        a.session = std::make_shared<Node>(io);
      }
      co_return a;
    };
    options.websocket = ws;
    server = std::make_unique<Server>(std::vector<asio::io_context*>{&io}, options,
                                      [](Request&) -> asio::awaitable<Response> { co_return Response{}; });
    server->start();
  }
  ~WsClientTest() override { server.reset(); }

  Url url(const std::string& path = "/") {
    return *parse_url("ws://127.0.0.1:" + std::to_string(server->port()) + path);
  }

  // Runs `test` on the loop until it returns.
  template <typename Fn>
  void run(Fn test) {
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      co_await test();
      io.stop();
    }, asio::detached);
    io.run_for(std::chrono::seconds(20));
  }

  static std::string call(std::string id, std::string method, std::string params) {
    return R"({"jsonrpc":"2.0","id":)" + id + R"(,"method":")" + method + R"(","params":)" + params + "}";
  }

  asio::io_context io;
  std::unique_ptr<Server> server;
  int upgrades = 0;
};

TEST_F(WsClientTest, CallsInFlightAtOnceGetTheirOwnRepliesEvenWithTheSameId) {
  WsRpcClient client(io, url());
  std::vector<ClientResponse> got(4);
  run([&]() -> asio::awaitable<void> {
    // The slow one goes first and is answered last: replies are matched by id, never by order.
    std::vector<std::string> bodies = {call("7", "wait_150", R"(["first"])"), call("7", "wait_0", R"(["second"])"),
                                       call(R"("abc")", "wait_50", R"(["third"])"),
                                       "[" + call("1", "wait_20", "[10]") + "," + call("1", "wait_0", "[11]") + "]"};
    co_await for_each_concurrently(io, bodies.size(), [&](size_t i) -> asio::awaitable<void> {
      got[i] = co_await client.call(bodies[i], Duration(5000));
    });
  });
  for (const auto& r : got) ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(got[0].body, R"({"jsonrpc":"2.0","id":7,"result":["first"]})");
  EXPECT_EQ(got[1].body, R"({"jsonrpc":"2.0","id":7,"result":["second"]})");
  EXPECT_EQ(got[2].body, R"({"jsonrpc":"2.0","id":"abc","result":["third"]})");
  EXPECT_EQ(got[3].body, R"([{"jsonrpc":"2.0","id":1,"result":[10]},{"jsonrpc":"2.0","id":1,"result":[11]}])");
  EXPECT_EQ(upgrades, 1);  // one connection carried them all
}

TEST_F(WsClientTest, ATimeoutLeavesTheConnectionToTheOthers) {
  WsRpcClient client(io, url());
  ClientResponse slow, next;
  run([&]() -> asio::awaitable<void> {
    slow = co_await client.call(call("1", "wait_300", "[1]"), Duration(50));
    next = co_await client.call(call("2", "wait_0", "[2]"), Duration(5000));
  });
  EXPECT_EQ(slow.error, ClientResponse::Error::timeout) << slow.message;
  ASSERT_TRUE(next.ok()) << next.message;
  EXPECT_EQ(next.body, R"({"jsonrpc":"2.0","id":2,"result":[2]})");
  EXPECT_EQ(upgrades, 1);
}

TEST_F(WsClientTest, AMessageThatIsNotJsonEndsTheConnectionAndItsCalls) {
  WsRpcClient client(io, url());
  std::vector<ClientResponse> got(2);
  ClientResponse after;
  run([&]() -> asio::awaitable<void> {
    std::vector<std::string> bodies = {call("1", "wait_300", "[1]"), call("2", "garbage", "[]")};
    co_await for_each_concurrently(io, 2, [&](size_t i) -> asio::awaitable<void> {
      got[i] = co_await client.call(bodies[i], Duration(5000));
    });
    after = co_await client.call(call("3", "wait_0", "[3]"), Duration(5000));
  });
  for (const auto& r : got) {
    EXPECT_EQ(r.error, ClientResponse::Error::io);
    EXPECT_NE(r.message.find("a message that is not JSON"), std::string::npos) << r.message;
  }
  ASSERT_TRUE(after.ok()) << after.message;  // the next call opened a new connection
  EXPECT_EQ(upgrades, 2);
}

TEST_F(WsClientTest, ARefusedUpgradeIsThatHttpAnswer) {
  WsRpcClient client(io, url("/refuse"));
  ClientResponse got;
  run([&]() -> asio::awaitable<void> { got = co_await client.call(call("1", "wait_0", "[]"), Duration(5000)); });
  EXPECT_TRUE(got.ok()) << got.message;
  EXPECT_EQ(got.status, 429);
  EXPECT_EQ(got.retry_after, "3");
  EXPECT_EQ(upgrades, 0);
}

TEST_F(WsClientTest, RepliesAreBoundedLikeHttpAnswers) {
  WsRpcClient client(io, url());
  std::atomic<uint64_t> held{0};
  ClientResponse big, over_budget, fits;
  run([&]() -> asio::awaitable<void> {
    std::string params = "[\"" + std::string(1000, 'x') + "\"]";
    big = co_await client.call(call("1", "wait_0", params), Duration(5000), ReplyLimits{100, nullptr, 0});
    over_budget = co_await client.call(call("2", "wait_0", params), Duration(5000), ReplyLimits{0, &held, 500});
    fits = co_await client.call(call("3", "wait_0", params), Duration(5000), ReplyLimits{0, &held, 5000});
  });
  EXPECT_EQ(big.error, ClientResponse::Error::too_large) << big.message;
  EXPECT_EQ(over_budget.error, ClientResponse::Error::over_budget) << over_budget.message;
  ASSERT_TRUE(fits.ok()) << fits.message;
  EXPECT_EQ(fits.charged, fits.body.size());
  EXPECT_EQ(held.load(), fits.body.size());  // charged until the caller gives it back
}

TEST_F(WsClientTest, NothingListeningIsAConnectError) {
  uint16_t port;
  {
    asio::ip::tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = probe.local_endpoint().port();
  }  // closed again: nothing listens there now
  WsRpcClient client(io, *parse_url("ws://127.0.0.1:" + std::to_string(port)));
  ClientResponse got;
  run([&]() -> asio::awaitable<void> { got = co_await client.call(call("1", "wait_0", "[]"), Duration(5000)); });
  EXPECT_EQ(got.error, ClientResponse::Error::connect) << got.message;
  EXPECT_NE(got.message.find("connect 127.0.0.1:"), std::string::npos) << got.message;
}

TEST_F(WsClientTest, APeerThatAcceptsAndNeverAnswersTimesOutAndIsTriedAgain) {
  // TCP is accepted (the kernel's backlog) but nothing answers: neither the TLS handshake (wss)
  // nor the upgrade (ws) ever completes. Each attempt must end by its deadline, or every later
  // call would wait behind it forever: the second call of each makes a connection of its own.
  asio::ip::tcp::acceptor mute(io, {asio::ip::make_address("127.0.0.1"), 0});
  auto port = std::to_string(mute.local_endpoint().port());
  WsRpcClient wss(io, *parse_url("wss://127.0.0.1:" + port));
  WsRpcClient ws(io, *parse_url("ws://127.0.0.1:" + port));
  std::vector<WsRpcClient*> clients = {&wss, &wss, &ws, &ws};
  std::vector<ClientResponse> got(clients.size());
  run([&]() -> asio::awaitable<void> {
    for (size_t i = 0; i < clients.size(); ++i) {
      got[i] = co_await clients[i]->call(call("1", "wait_0", "[]"), Duration(200));
      // Calls that come while an attempt is under way share its outcome: let it end first.
      asio::steady_timer pause(io, std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  });
  for (const auto& r : got) EXPECT_EQ(r.error, ClientResponse::Error::timeout) << r.status << " " << r.message;
  mute.non_blocking(true);
  int connections = 0;
  for (boost::system::error_code ec; !ec; ++connections) mute.accept(ec);
  EXPECT_EQ(connections - 1, 4);
}

TEST_F(WsClientTest, ARemovedClientLetsItsCallsInFlightFinish) {
  // A reload removes the upstream while a call is on its connection: the call still gets its
  // answer, then the connection closes.
  auto client = std::make_unique<WsRpcClient>(io, url());
  ClientResponse got;
  bool ended = false;
  run([&]() -> asio::awaitable<void> {
    co_await for_each_concurrently(io, 2, [&](size_t i) -> asio::awaitable<void> {
      if (i == 0) {
        got = co_await client->call(call("1", "wait_200", "[1]"), Duration(5000));
        ended = true;
      } else {
        asio::steady_timer t(io, std::chrono::milliseconds(50));
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        client.reset();
      }
    });
  });
  EXPECT_TRUE(ended);
  ASSERT_TRUE(got.ok()) << got.message;
  EXPECT_EQ(got.body, R"({"jsonrpc":"2.0","id":1,"result":[1]})");
}

}  // namespace
}  // namespace nodeops::http
