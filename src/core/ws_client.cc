// JSON-RPC over a WebSocket to one upstream (core/ws_client.h): Beast's websocket stream over a
// TCP stream, or over Asio's SSL stream for wss, with one reader and one writer per connection
// and the calls in flight matched to replies by id.

#include "core/coroutine_warnings.h"

#include "core/ws_client.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <openssl/err.h>

#include <algorithm>
#include <deque>
#include <type_traits>
#include <unordered_map>

#include "core/json.h"
#include "core/jsonrpc.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/tls_client.h"

namespace nodeops::http {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using Clock = std::chrono::steady_clock;
using Error = ClientResponse::Error;
using error_code = boost::system::error_code;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// Ids for requests whose own could not go out as they are: far above the gateway's per-loop
// counters, and below 2^53 (providers written in JavaScript read ids as doubles).
constexpr uint64_t kFirstFreshId = 1'000'000'000'000'000;
// The read buffer grows to the largest message; past this it is given back after each one.
constexpr size_t kKeepBuffer = 1 << 20;
// The closing handshake, once a connection is open.
constexpr Duration kCloseTimeout{5000};

log::Pow2Sampler end_log;  // one per process: an upstream that keeps dropping logs in powers of two

ClientResponse failure(Error error, std::string message) {
  ClientResponse out;
  out.error = error;
  out.message = std::move(message);
  return out;
}

/// One open WebSocket, plain or TLS, with its writer's queue.
class Link {
 public:
  explicit Link(asio::io_context& io) : wake_writer(io) {}
  virtual ~Link() = default;
  virtual asio::awaitable<error_code> write(const std::string& text) = 0;
  virtual asio::awaitable<error_code> read(beast::flat_buffer& buffer) = 0;
  /// The close frame's code and reason, once the peer closed.
  virtual std::string close_reason() const = 0;
  /// Ends it at once: the reader's and writer's operations complete with an error.
  virtual void close() = 0;

  /// A request waiting to be written, and the first of its ids (none: notifications only).
  struct Outgoing {
    std::string text;
    std::optional<uint64_t> call;
  };
  bool open = true;  // false once it ended: no call goes on it any more
  std::deque<Outgoing> outbox;
  asio::steady_timer wake_writer;
};

template <class Next>
class LinkOf final : public Link {
 public:
  template <class... Args>
  explicit LinkOf(asio::io_context& io, Args&&... args) : Link(io), ws(io, std::forward<Args>(args)...) {}

  asio::awaitable<error_code> write(const std::string& text) override {
    auto [ec, n] = co_await ws.async_write(asio::buffer(text), nothrow);
    if (ec) clear_tls_errors();
    co_return ec;
  }
  asio::awaitable<error_code> read(beast::flat_buffer& buffer) override {
    auto [ec, n] = co_await ws.async_read(buffer, nothrow);
    if (ec) clear_tls_errors();
    co_return ec;
  }
  std::string close_reason() const override {
    const auto& r = ws.reason();
    std::string out = "code " + std::to_string(static_cast<uint16_t>(r.code));
    if (!r.reason.empty()) out += " '" + std::string(r.reason.data(), r.reason.size()) + "'";
    return out;
  }
  void close() override {
    open = false;
    error_code ignored;
    beast::get_lowest_layer(ws).socket().close(ignored);
    wake_writer.cancel();
  }

  websocket::stream<Next> ws;

 private:
  // The HTTP client reads OpenSSL's per-thread error queue after its own calls and never leaves
  // anything there (http_client.cc); Asio's SSL stream may, after a failure.
  static void clear_tls_errors() {
    if constexpr (!std::is_same_v<Next, beast::tcp_stream>) ERR_clear_error();
  }
};

using PlainLink = LinkOf<beast::tcp_stream>;
using TlsLink = LinkOf<beast::ssl_stream<beast::tcp_stream>>;

struct Pending;
using Registry = std::unordered_map<uint64_t, Pending*>;

/// One call waiting for its reply, registered under each of its ids for as long as it lives: a
/// call's coroutine can be destroyed without finishing (shutdown), and must not stay registered.
struct Pending {
  Pending(asio::io_context& io, Registry& r) : wake(io), registry(r) {}
  ~Pending() { forget(); }
  Pending(const Pending&) = delete;
  Pending& operator=(const Pending&) = delete;
  void enrol() {
    for (auto id : ids) registry[id] = this;
  }
  void forget() {
    for (auto id : ids) {
      if (auto it = registry.find(id); it != registry.end() && it->second == this) registry.erase(it);
    }
  }

  std::vector<uint64_t> ids;  // its requests' ids on the wire
  /// Ids sent in place of the caller's: the wire id, and the caller's raw id to give back.
  std::vector<std::pair<uint64_t, std::string>> renamed;
  bool done = false;
  ClientResponse result;
  asio::steady_timer wake;  // cancelled when `result` is set
  Registry& registry;
};

/// Keeps a waiting call's timer on a list while it lives.
struct Listed {
  Listed(std::vector<asio::steady_timer*>& l, asio::steady_timer* t) : list(l), timer(t) { list.push_back(timer); }
  ~Listed() { std::erase(list, timer); }
  Listed(const Listed&) = delete;
  Listed& operator=(const Listed&) = delete;
  std::vector<asio::steady_timer*>& list;
  asio::steady_timer* timer;
};

// A notification of the batch (no id: nothing answers it), written again without a rename.
void append_notification(std::string& out, const jsonrpc::Call& call) {
  out += R"({"jsonrpc":"2.0","method":)";
  json::append_string(out, call.method);
  if (!call.params.empty()) {
    out += ",\"params\":";
    out += call.params;
  }
  out += '}';
}

}  // namespace

struct WsRpcClient::Impl : std::enable_shared_from_this<WsRpcClient::Impl> {
  asio::io_context& io;
  Url url;
  std::string where;        // host:port, for messages (never the path: it may hold a key)
  std::string host_header;  // what the upgrade's Host says
  uint64_t max_message;
  Headers headers;
  std::shared_ptr<asio::ssl::context> tls;  // wss only
  std::string tls_error;
  metrics::Gauge* gauge = nullptr;
  bool retired = false;  // the client is gone: calls still running open nothing new

  std::shared_ptr<Link> link;  // the open connection, or null
  bool connecting = false;
  uint64_t attempts = 0;        // connection attempts finished
  ClientResponse last_failure;  // how the last attempt failed
  std::vector<asio::steady_timer*> waiting;          // calls waiting for a connection
  Registry pending;  // wire id -> the call it belongs to
  uint64_t next_fresh = kFirstFreshId;

  explicit Impl(asio::io_context& i) : io(i) {}

  // --- opening ---------------------------------------------------------------------------------

  asio::awaitable<void> connect(std::shared_ptr<Impl> self, Clock::time_point deadline) {
    ClientResponse why;
    std::shared_ptr<Link> opened;
    try {
      if (tls) {
        auto l = std::make_shared<TlsLink>(io, *tls);
        bool ok = co_await open(*l, deadline, why);
        if (ok) opened = l;
      } else {
        auto l = std::make_shared<PlainLink>(io);
        bool ok = co_await open(*l, deadline, why);
        if (ok) opened = l;
      }
    } catch (const std::exception& e) {
      why = failure(Error::connect, "websocket to " + where + ": " + e.what());
    }
    connecting = false;
    ++attempts;
    if (opened && retired) opened->close();
    if (opened && !retired) {
      link = opened;
      if (gauge) gauge->inc();
      asio::co_spawn(io, read_loop(self, opened), asio::detached);
      asio::co_spawn(io, write_loop(self, opened), asio::detached);
    } else {
      last_failure = std::move(why);
    }
    for (auto* t : waiting) t->cancel();
    waiting.clear();
  }

  // DNS, TCP, TLS (wss), then the upgrade, all by `deadline`. False with `out` saying why.
  template <class L>
  asio::awaitable<bool> open(L& l, Clock::time_point deadline, ClientResponse& out) {
    auto& tcp = beast::get_lowest_layer(l.ws);
    tcp.expires_at(deadline);  // bounds the connect and the TLS handshake
    error_code ec;
    if (auto addr = asio::ip::make_address(url.host, ec); !ec) {
      std::tie(ec) = co_await tcp.async_connect(asio::ip::tcp::endpoint(addr, url.port), nothrow);
    } else {
      asio::ip::tcp::resolver resolver(io);
      auto [rec, results] = co_await resolver.async_resolve(url.host, std::to_string(url.port), nothrow);
      if (rec) {
        out = failure(Error::connect, "resolve " + url.host + ": " + rec.message());
        co_return false;
      }
      std::tie(ec, std::ignore) = co_await tcp.async_connect(results, nothrow);
    }
    if (ec) {
      bool late = ec == beast::error::timeout;
      out = failure(late ? Error::timeout : Error::connect, "connect " + where + ": " + (late ? "timed out" : ec.message()));
      co_return false;
    }
    tcp.socket().set_option(asio::ip::tcp::no_delay(true), ec);
    if constexpr (std::is_same_v<L, TlsLink>) {
      SSL* session = l.ws.next_layer().native_handle();
      tls::expect_peer(session, url.host);
      auto [hec] = co_await l.ws.next_layer().async_handshake(asio::ssl::stream_base::client, nothrow);
      if (hec) {
        bool late = hec == beast::error::timeout;
        std::string why = late ? "timed out" : tls::handshake_failure(session, hec.message());
        ERR_clear_error();
        out = failure(late ? Error::timeout : Error::tls, "tls handshake with " + where + ": " + why);
        co_return false;
      }
    }
    tcp.expires_never();  // the websocket stream keeps its own time from here
    auto left = std::max(Clock::duration(0), deadline - Clock::now());
    websocket::stream_base::timeout limits{left, websocket::stream_base::none(), false};
    l.ws.set_option(limits);
    l.ws.set_option(websocket::stream_base::decorator([this](websocket::request_type& req) {
      req.set(beast::http::field::user_agent, "nodeops");
      for (const auto& [name, value] : headers) req.set(name, value);
    }));
    l.ws.read_message_max(max_message);
    websocket::response_type res;
    auto target = url.target.empty() ? std::string("/") : url.target;
    auto [wec] = co_await l.ws.async_handshake(res, host_header, target, nothrow);
    if (wec) {
      // Declined: the node answered, with something other than 101. (Beast puts a 500 in `res`
      // for every other failure, when nothing was read.)
      if (wec == websocket::error::upgrade_declined) {
        int status = static_cast<int>(res.result_int());
        // Answered like HTTP: the caller sees the status (401 for a wrong key, 429 to back off).
        out = ClientResponse{};
        out.status = status;
        out.body = res.body();
        if (auto it = res.find(beast::http::field::retry_after); it != res.end()) out.retry_after = it->value();
        co_return false;
      }
      bool late = wec == beast::error::timeout;
      out = failure(late ? Error::timeout : Error::protocol,
                    "websocket upgrade at " + where + ": " + (late ? "timed out" : wec.message()));
      co_return false;
    }
    limits.handshake_timeout = kCloseTimeout;
    limits.idle_timeout = kIdle;
    limits.keep_alive_pings = true;
    l.ws.set_option(limits);
    co_return true;
  }

  // --- a connection's life ---------------------------------------------------------------------

  asio::awaitable<void> read_loop([[maybe_unused]] std::shared_ptr<Impl> self, std::shared_ptr<Link> l) {
    beast::flat_buffer buffer;
    std::string why;
    while (why.empty()) {
      auto ec = co_await l->read(buffer);
      if (ec) {
        why = ec == websocket::error::closed          ? "the upstream closed it (" + l->close_reason() + ")"
              : ec == websocket::error::message_too_big ? "a message over " + std::to_string(max_message) + " bytes"
              : ec == beast::error::timeout             ? "no frame for " + std::to_string(kIdle.count() / 1000) +
                                                              " s (ping unanswered)"
                                                        : ec.message();
        break;
      }
      std::string message = beast::buffers_to_string(buffer.data());
      buffer.consume(buffer.size());
      if (buffer.capacity() > kKeepBuffer) buffer = beast::flat_buffer();
      if (!deliver(std::move(message))) why = "it sent a message that is not JSON";
    }
    end(l, why);
  }

  asio::awaitable<void> write_loop([[maybe_unused]] std::shared_ptr<Impl> self, std::shared_ptr<Link> l) {
    while (l->open) {
      if (l->outbox.empty()) {
        l->wake_writer.expires_at(Clock::time_point::max());
        co_await l->wake_writer.async_wait(nothrow);
        continue;
      }
      auto next = std::move(l->outbox.front());
      l->outbox.pop_front();
      // Its call gave up (timed out) while the connection was busy: the node need not answer it.
      if (next.call && !pending.contains(*next.call)) continue;
      auto ec = co_await l->write(next.text);
      if (ec) {
        end(l, "write: " + ec.message());
        break;
      }
    }
  }

  // A message from the upstream: the reply of a call in flight, or nothing we wait for. False when
  // it is not JSON at all.
  bool deliver(std::string message) {
    // A reply that only looks right goes to its call, whose own parse judges the rest of it.
    auto id = jsonrpc::leading_reply_id(message);
    if (!id) {
      auto m = jsonrpc::message_id(message);
      if (!m.json) return false;
      if (!m.id) return true;  // a notification, or a reply without a usable id
      id = m.id;
    }
    auto it = pending.find(*id);
    if (it == pending.end()) return true;  // its call timed out already
    Pending* p = it->second;
    for (auto wire : p->ids) pending.erase(wire);
    p->done = true;
    p->result.status = 200;
    p->result.body = std::move(message);
    p->wake.cancel();
    return true;
  }

  // Ends `l` (once) and fails every call in flight on it.
  void end(const std::shared_ptr<Link>& l, const std::string& why) {
    l->close();
    if (link != l) return;
    link.reset();
    if (gauge) gauge->dec();
    std::string message = "websocket to " + where + " ended: " + why;
    if (auto n = retired ? 0 : end_log.tick()) {
      log::warn("upstream websocket ended", {{"upstream", where}, {"reason", why}, {"occurrences", n}});
    }
    for (auto& [id, p] : pending) {
      if (p->done) continue;
      p->done = true;
      p->result = failure(Error::io, message);
      p->wake.cancel();
    }
    pending.clear();
  }


  // --- one call --------------------------------------------------------------------------------

  // The request as it goes on the wire: its ids registered in `p`, renamed where they must be.
  std::string number(std::string body, const jsonrpc::ParsedRequest& parsed, Pending& p) {
    bool rename = false;
    for (const auto& call : parsed.calls) {
      if (call.notification()) continue;
      auto id = jsonrpc::unsigned_id(call.id);
      if (!id || pending.contains(*id) || std::find(p.ids.begin(), p.ids.end(), *id) != p.ids.end()) rename = true;
      if (id) p.ids.push_back(*id);
    }
    if (!rename) return body;
    p.ids.clear();
    std::string out;
    out.reserve(body.size() + 32 * parsed.calls.size());
    if (parsed.batch) out += '[';
    for (const auto& call : parsed.calls) {
      if (parsed.batch && out.size() > 1) out += ',';
      if (call.notification()) {
        append_notification(out, call);
        continue;
      }
      auto id = jsonrpc::unsigned_id(call.id);
      bool taken = !id || pending.contains(*id) || std::find(p.ids.begin(), p.ids.end(), *id) != p.ids.end();
      if (taken) {
        while (pending.contains(next_fresh)) ++next_fresh;
        id = next_fresh++;
        p.renamed.emplace_back(*id, std::string(call.id));
      }
      p.ids.push_back(*id);
      out += jsonrpc::upstream_request(*id, call.method, call.params);
    }
    if (parsed.batch) out += ']';
    return out;
  }

  // The caller's ids put back into a reply to a request whose ids were renamed.
  static std::string restore(std::string body, const Pending& p, bool batch) {
    auto original = [&](uint64_t id) -> const std::string* {
      for (const auto& [wire, raw] : p.renamed) {
        if (wire == id) return &raw;
      }
      return nullptr;
    };
    if (!batch) {
      auto reply = jsonrpc::parse_upstream_reply(body, p.renamed.front().first);
      if (reply.kind == jsonrpc::UpstreamReply::Kind::invalid) return body;  // the caller sees what is wrong
      return jsonrpc::reply_in_place(std::move(body), reply.payload, p.renamed.front().second,
                                     reply.kind == jsonrpc::UpstreamReply::Kind::error);
    }
    auto split = jsonrpc::split_batch_reply(body);
    if (!split.is_array) return body;
    std::string out = "[";
    for (const auto& [id, raw] : split.items) {
      if (out.size() > 1) out += ',';
      const std::string* was = original(id);
      auto reply = was ? jsonrpc::parse_upstream_reply(raw, id) : jsonrpc::UpstreamReply{};
      if (!was || reply.kind == jsonrpc::UpstreamReply::Kind::invalid) {
        out += raw;
      } else if (reply.kind == jsonrpc::UpstreamReply::Kind::error) {
        out += jsonrpc::error_object_reply(*was, reply.payload);
      } else {
        out += jsonrpc::result_reply(*was, reply.payload);
      }
    }
    out += ']';
    return out;
  }

  asio::awaitable<ClientResponse> call(std::shared_ptr<Impl> self, std::string body, Duration timeout,
                                       ReplyLimits limits) {
    auto deadline = Clock::now() + timeout;
    if (!tls_error.empty()) co_return failure(Error::tls, tls_error);
    // The gateway's own calls need no parse: their ids are read off them.
    std::vector<uint64_t> ids;
    bool own = jsonrpc::upstream_request_ids(body, ids);
    jsonrpc::ParsedRequest parsed;
    auto parse = [&] {
      parsed = jsonrpc::parse_request(body);
      return !parsed.fatal && std::none_of(parsed.calls.begin(), parsed.calls.end(),
                                           [](const auto& c) { return c.invalid.has_value(); });
    };
    if (!own && !parse()) co_return failure(Error::protocol, "not a JSON-RPC request");

    while (!link) {
      if (retired) co_return failure(Error::connect, "websocket to " + where + ": the upstream was removed");
      if (!connecting) {
        connecting = true;
        asio::co_spawn(io, connect(self, deadline), asio::detached);
      }
      uint64_t seen = attempts;
      asio::steady_timer wait(io, deadline);
      {
        Listed listed(waiting, &wait);  // off the list however the wait ends (shutdown destroys it mid-wait)
        co_await wait.async_wait(nothrow);
      }
      if (link) break;
      if (attempts != seen) co_return last_failure;
      if (Clock::now() >= deadline) co_return failure(Error::timeout, "websocket to " + where + ": not open in time");
    }

    auto l = link;
    Pending p(io, pending);
    auto taken = [&](size_t k) {
      return pending.contains(ids[k]) || std::find(ids.begin(), ids.begin() + k, ids[k]) != ids.begin() + k;
    };
    for (size_t k = 0; own && k < ids.size(); ++k) {
      if (taken(k)) own = false;  // in flight already, or twice in the batch: renamed like any other
    }
    std::string wire;
    if (own) {
      p.ids = std::move(ids);
      wire = std::move(body);
    } else {
      if (parsed.calls.empty()) parse();
      wire = number(std::move(body), parsed, p);
    }
    p.enrol();
    l->outbox.push_back({std::move(wire), p.ids.empty() ? std::nullopt : std::optional<uint64_t>(p.ids.front())});
    l->wake_writer.cancel();
    if (p.ids.empty()) {  // notifications only: nothing will answer
      ClientResponse sent;
      sent.status = 200;
      co_return sent;
    }
    p.wake.expires_at(deadline);
    co_await p.wake.async_wait(nothrow);
    if (!p.done) p.forget();
    if (retired && pending.empty() && link) end(link, "the upstream was removed");  // its last call is done
    if (!p.done) co_return failure(Error::timeout, "websocket to " + where + ": no reply in time");
    ClientResponse out = std::move(p.result);
    if (!out.ok()) co_return out;
    if (!p.renamed.empty()) out.body = restore(std::move(out.body), p, parsed.batch);
    uint64_t max_body = limits.max_body ? std::min(limits.max_body, max_message) : max_message;
    if (out.body.size() > max_body) {
      co_return failure(Error::too_large, "a reply of " + std::to_string(out.body.size()) + " bytes, over " +
                                              std::to_string(max_body));
    }
    if (limits.buffered) {
      uint64_t n = out.body.size();
      if (limits.buffered->fetch_add(n, std::memory_order_relaxed) + n > limits.max_buffered) {
        limits.buffered->fetch_sub(n, std::memory_order_relaxed);
        co_return failure(Error::over_budget, "the replies held by this process are over their budget");
      }
      out.charged = n;
    }
    co_return out;
  }
};

WsRpcClient::WsRpcClient(asio::io_context& io, Url url, uint64_t max_message, TlsOptions tls, Headers headers)
    : impl_(std::make_shared<Impl>(io)) {
  bool default_port = url.port == (url.tls() ? 443 : 80);
  std::string bracketed = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  impl_->where = bracketed + ":" + std::to_string(url.port);
  impl_->host_header = default_port ? bracketed : impl_->where;
  impl_->url = std::move(url);
  impl_->max_message = max_message;
  impl_->headers = std::move(headers);
  if (tls.enabled || impl_->url.tls()) {
    auto ctx = tls::make_context(tls, impl_->tls_error);
    if (ctx) impl_->tls = std::make_shared<asio::ssl::context>(ctx.release());
    else if (impl_->tls_error.empty()) impl_->tls_error = "cannot create a TLS context";
  }
}

WsRpcClient::~WsRpcClient() {
  // Removed (a reload): the calls in flight finish on the connection, which the last one closes.
  impl_->retired = true;
  if (impl_->link && impl_->pending.empty()) impl_->end(impl_->link, "the upstream was removed");
}

void WsRpcClient::set_connections_gauge(metrics::Gauge* gauge) { impl_->gauge = gauge; }

asio::awaitable<ClientResponse> WsRpcClient::call(std::string body, Duration timeout, ReplyLimits limits) {
  auto impl = impl_;  // keeps the connection's state alive across suspension
  co_return co_await impl->call(impl, std::move(body), timeout, limits);
}

}  // namespace nodeops::http
