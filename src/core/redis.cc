#include "core/redis.h"

#include <boost/asio.hpp>
#include <fmt/format.h>

#include <charconv>
#include <deque>

#include "core/log.h"

namespace nodeops::redis {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kNothrow = asio::as_tuple(asio::use_awaitable);

std::optional<Address> parse_address(std::string_view url, std::string* why) {
  auto fail = [&](std::string w) -> std::optional<Address> {
    if (why) *why = std::move(w);
    return std::nullopt;
  };
  constexpr std::string_view kScheme = "redis://";
  if (url.substr(0, kScheme.size()) != kScheme) return fail("expected redis://host:port[/db]");
  auto rest = url.substr(kScheme.size());
  Address a;
  auto slash = rest.find('/');
  auto hostport = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    auto db = rest.substr(slash + 1);
    if (!db.empty()) {
      auto [p, ec] = std::from_chars(db.data(), db.data() + db.size(), a.db);
      if (ec != std::errc() || p != db.data() + db.size() || a.db < 0 || a.db > 15) return fail("db must be 0-15");
    }
  }
  if (hostport.find('@') != std::string_view::npos) return fail("credentials in the URL are not supported");
  auto colon = hostport.rfind(':');
  a.host = std::string(hostport.substr(0, colon));
  if (colon != std::string_view::npos) {
    auto port = hostport.substr(colon + 1);
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535) return fail("bad port");
    a.port = static_cast<uint16_t>(p);
  }
  if (a.host.empty()) return fail("no host");
  return a;
}

namespace {

void append_bulk(std::string& out, std::string_view s) {
  out += '$';
  out += std::to_string(s.size());
  out += "\r\n";
  out += s;
  out += "\r\n";
}

std::string command(std::span<const std::string_view> args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (auto a : args) append_bulk(out, a);
  return out;
}

std::string command(std::initializer_list<std::string_view> args) {
  return command(std::span<const std::string_view>(args.begin(), args.size()));
}

// One RESP2 reply parsed from the front of a buffer.
struct Reply {
  enum class Kind { status, error, integer, bulk, null };
  Kind kind = Kind::null;
  std::string text;
};
enum class Parse { done, incomplete, broken };

Parse parse_reply(std::string_view in, size_t& used, Reply& out, uint64_t max_value) {
  auto eol = in.find("\r\n");
  if (eol == std::string_view::npos) return in.size() > 1024 ? Parse::broken : Parse::incomplete;
  std::string_view line = in.substr(1, eol - 1);
  switch (in.empty() ? '\0' : in[0]) {
    case '+': out.kind = Reply::Kind::status; break;
    case '-': out.kind = Reply::Kind::error; break;
    case ':': out.kind = Reply::Kind::integer; break;
    case '$': {
      int64_t len = 0;
      auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), len);
      if (ec != std::errc() || p != line.data() + line.size() || len < -1) return Parse::broken;
      if (len == -1) {
        out.kind = Reply::Kind::null;
        used = eol + 2;
        return Parse::done;
      }
      if (static_cast<uint64_t>(len) > max_value) return Parse::broken;
      size_t need = eol + 2 + static_cast<size_t>(len) + 2;
      if (in.size() < need) return Parse::incomplete;
      if (in.substr(need - 2, 2) != "\r\n") return Parse::broken;
      out.kind = Reply::Kind::bulk;
      out.text.assign(in.substr(eol + 2, static_cast<size_t>(len)));
      used = need;
      return Parse::done;
    }
    default: return Parse::broken;  // arrays and anything else: not an answer to GET, SET or SELECT
  }
  out.text.assign(line);
  used = eol + 2;
  return Parse::done;
}

}  // namespace

struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
  // A command's answer, and the GET waiting for it (if any: SET and SELECT are not waited for).
  struct Slot {
    explicit Slot(asio::io_context& io) : wake(io) {}
    asio::steady_timer wake;
    bool done = false;
    Lookup lookup;
  };

  Impl(asio::io_context& i, Options o) : io(i), opt(std::move(o)), socket(i) {}

  asio::io_context& io;
  Options opt;
  tcp::socket socket;
  std::atomic<bool> up{false};  // read by metrics from another thread
  bool stopped = false;
  bool writing = false;
  std::string outbox;
  std::deque<std::shared_ptr<Slot>> pending;  // one per command sent, in order (null: not waited for)

  void send(std::string cmd, std::shared_ptr<Slot> slot) {
    outbox += cmd;
    pending.push_back(std::move(slot));
    if (!writing) asio::co_spawn(io, write_loop(shared_from_this()), asio::detached);
  }

  static asio::awaitable<void> write_loop(std::shared_ptr<Impl> self) {
    self->writing = true;
    while (!self->outbox.empty() && self->up) {
      std::string out;
      out.swap(self->outbox);
      auto [ec, n] = co_await asio::async_write(self->socket, asio::buffer(out), kNothrow);
      if (ec) {
        self->drop("write: " + ec.message());
        break;
      }
    }
    self->writing = false;
  }

  // The connection is gone: every command waiting for an answer fails now.
  void drop(const std::string& why) {
    if (up) log::warn("redis connection lost", {{"redis", opt.address.host}, {"reason", why}});
    up = false;
    boost::system::error_code ignored;
    socket.close(ignored);
    outbox.clear();
    for (auto& slot : pending) {
      if (slot && !slot->done) {
        slot->done = true;
        slot->lookup.result = Lookup::Result::error;
        slot->wake.cancel();
      }
    }
    pending.clear();
  }

  void deliver(Reply& r) {
    if (pending.empty()) return;  // an answer to nothing: ignored (the connection is about to be dropped)
    auto slot = std::move(pending.front());
    pending.pop_front();
    if (!slot || slot->done) return;  // not waited for, or its GET gave up
    slot->done = true;
    if (r.kind == Reply::Kind::bulk) {
      slot->lookup.result = Lookup::Result::hit;
      slot->lookup.value = std::move(r.text);
    } else {
      slot->lookup.result = r.kind == Reply::Kind::null ? Lookup::Result::miss : Lookup::Result::error;
    }
    slot->wake.cancel();
  }

  asio::awaitable<bool> connect() {
    auto deadline = Clock::now() + opt.connect_timeout;
    tcp::resolver resolver(io);
    asio::steady_timer timer(io, deadline);
    timer.async_wait([&](boost::system::error_code ec) {
      if (!ec) {
        resolver.cancel();
        boost::system::error_code ignored;
        socket.close(ignored);
      }
    });
    auto [rec, endpoints] =
        co_await resolver.async_resolve(opt.address.host, std::to_string(opt.address.port), kNothrow);
    if (rec) {
      timer.cancel();
      co_return false;
    }
    auto [cec, ep] = co_await asio::async_connect(socket, endpoints, kNothrow);
    timer.cancel();
    if (cec || Clock::now() >= deadline) co_return false;
    socket.set_option(tcp::no_delay(true), cec);
    co_return true;
  }

  static asio::awaitable<void> run(std::shared_ptr<Impl> self) {
    auto backoff = std::chrono::milliseconds(100);
    std::string in;
    while (!self->stopped) {
      if (co_await self->connect()) {
        self->up = true;
        backoff = std::chrono::milliseconds(100);
        log::info("redis connected", {{"redis", self->opt.address.host}, {"port", self->opt.address.port}});
        if (self->opt.address.db != 0) self->send(command({"SELECT", std::to_string(self->opt.address.db)}), nullptr);
        in.clear();
        std::array<char, 16384> buf;
        while (self->up) {
          auto [ec, n] = co_await self->socket.async_read_some(asio::buffer(buf), kNothrow);
          if (ec || n == 0) {
            self->drop(ec ? "read: " + ec.message() : "closed");
            break;
          }
          in.append(buf.data(), n);
          size_t at = 0;
          bool broken = false;
          for (;;) {
            Reply r;
            size_t used = 0;
            auto p = parse_reply(std::string_view(in).substr(at), used, r, self->opt.max_value);
            if (p == Parse::incomplete) break;
            if (p == Parse::broken) {
              broken = true;
              break;
            }
            at += used;
            self->deliver(r);
          }
          in.erase(0, at);
          if (broken) {
            self->drop("a reply that is not RESP");
            break;
          }
        }
      }
      self->drop("reconnecting");
      if (self->stopped) break;
      asio::steady_timer wait(self->io, backoff);
      co_await wait.async_wait(kNothrow);
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
    }
  }
};

Client::Client(asio::io_context& io, Options options) : impl_(std::make_shared<Impl>(io, std::move(options))) {}

Client::~Client() {
  impl_->stopped = true;
  impl_->drop("stopped");
}

void Client::start() { asio::co_spawn(impl_->io, Impl::run(impl_), asio::detached); }

bool Client::connected() const { return impl_->up; }

asio::awaitable<Lookup> Client::get(std::string_view key, Duration timeout) {
  std::array<std::string_view, 2> args{"GET", key};
  co_return co_await call(args, timeout);
}

asio::awaitable<Lookup> Client::call(std::span<const std::string_view> args, Duration timeout) {
  auto impl = impl_;
  std::string encoded = command(args);  // `args` belongs to the caller: encoded before anything else
  if (!impl->up || impl->pending.size() >= impl->opt.max_pending) co_return Lookup{};
  auto slot = std::make_shared<Impl::Slot>(impl->io);
  slot->wake.expires_after(timeout);
  impl->send(std::move(encoded), slot);
  co_await slot->wake.async_wait(kNothrow);
  if (!slot->done) {
    slot->done = true;  // too slow: its answer, when it comes, is dropped
    co_return Lookup{};
  }
  co_return std::move(slot->lookup);
}

bool Client::set(std::string_view key, std::string_view value, Duration ttl) {
  if (!impl_->up || impl_->pending.size() >= impl_->opt.max_pending) return false;
  auto ms = std::to_string(std::max<int64_t>(1, ttl.count()));
  impl_->send(command({"SET", key, value, "PX", ms}), nullptr);
  return true;
}

}  // namespace nodeops::redis
