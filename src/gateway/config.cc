#include "gateway/config.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "chains/evm.h"
#include "core/config_reader.h"
#include "core/http_tls.h"
#include "core/redis.h"
#include "gateway/client_address.h"

namespace nodeops::gateway {
namespace {

bool matches(const std::string& rule, std::string_view method) {
  if (!rule.empty() && rule.back() == '_') return method.starts_with(rule);
  return method == rule;
}

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-' ||
          c == '_')) {
      return false;
    }
  }
  return true;
}

// The whole file, or nullopt with `why`.
// The whole of a small regular file (a FIFO or /dev/zero would block or never end), or nullopt with `why`.
std::optional<std::string> read_file(const std::string& path, std::string& why) {
  constexpr size_t kMax = 64u << 10;
  std::error_code ec;
  auto type = std::filesystem::status(path, ec).type();
  if (type == std::filesystem::file_type::not_found) {
    why = fmt::format("cannot read '{}': no such file", path);
    return std::nullopt;
  }
  if (ec || type != std::filesystem::file_type::regular) {
    why = ec ? fmt::format("cannot read '{}': {}", path, ec.message()) : fmt::format("'{}' is not a regular file", path);
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = fmt::format("cannot read '{}': {}", path, std::strerror(errno));
    return std::nullopt;
  }
  std::string text(kMax + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMax) {
    why = fmt::format("'{}' is larger than 64KiB", path);
    return std::nullopt;
  }
  return text;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

bool token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

std::optional<std::vector<std::pair<std::string, std::string>>> parse_headers_file(std::string_view text,
                                                                                 std::string& why) {
  // Headers the client writes itself (framing, Host): a file must not be able to change them.
  static constexpr std::array<std::string_view, 7> kReserved = {"host", "content-length", "content-type",
                                                                "transfer-encoding", "connection", "user-agent",
                                                                "expect"};
  std::vector<std::pair<std::string, std::string>> out;
  size_t line_no = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    // Messages name the line and the header, never the value: it is the secret.
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      why = fmt::format("line {}: expected 'Name: value'", line_no);
      return std::nullopt;
    }
    auto name = line.substr(0, colon);
    auto value = trim(line.substr(colon + 1));
    if (!std::all_of(name.begin(), name.end(), token_char)) {
      why = fmt::format("line {}: the header name has invalid characters", line_no);
      return std::nullopt;
    }
    std::string lower(name);
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (std::find(kReserved.begin(), kReserved.end(), lower) != kReserved.end()) {
      why = fmt::format("line {}: {} is set by the gateway itself", line_no, name);
      return std::nullopt;
    }
    for (char c : value) {
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
        why = fmt::format("line {}: the value of {} has control characters", line_no, name);
        return std::nullopt;
      }
    }
    if (value.empty()) {
      why = fmt::format("line {}: {} has no value", line_no, name);
      return std::nullopt;
    }
    out.emplace_back(std::string(name), std::string(value));
  }
  if (out.empty()) {
    why = "no header in it (lines 'Name: value')";
    return std::nullopt;
  }
  return out;
}

namespace {

// The upstream keys: what one upstream is and how to reach it. Credentials come from files
// (Kubernetes Secrets) and no error message repeats them.
UpstreamConfig read_upstream(ConfigMap& u) {
  UpstreamConfig up;
  if (auto name = u.required_string("name")) {
    up.name = *name;
    if (!valid_name(up.name)) u.error("name", "use lowercase letters, digits, '-' and '_'");
  }
  bool has_url = u.has("url"), has_url_file = u.has("url_file");
  if (has_url && has_url_file) u.error("url_file", "set url or url_file, not both");
  if (!has_url && !has_url_file) u.error("url", "is required (or url_file, for a URL that holds a key)");
  if (has_url) {
    auto text = u.string("url", "");
    std::string why;
    if (auto url = parse_url(text, &why)) up.url = *url;
    // The URL is in the config text anyway: saying it back helps, except its key-like parts.
    else u.error("url", fmt::format("'{}': {}", text, why));
  }
  if (has_url_file) {
    up.url_file = u.string("url_file", "");
    std::string why;
    auto text = read_file(up.url_file, why);
    if (!text) {
      u.error("url_file", why);
    } else if (auto url = parse_url(trim(*text), &why)) {
      up.url = *url;
      up.url.secret = true;
    } else {
      u.error("url_file", fmt::format("'{}' does not hold a URL: {}", up.url_file, why));
    }
  }
  up.ca_file = u.string("ca_file", "");
  if (!up.ca_file.empty()) {
    std::string why;
    if (!up.url.tls()) u.error("ca_file", "only https and wss upstreams use a ca_file");
    else if (std::error_code ec; !std::filesystem::is_regular_file(up.ca_file, ec) || !std::ifstream(up.ca_file)) {
      u.error("ca_file", fmt::format("cannot read '{}' (a PEM file of CA certificates)", up.ca_file));
    }
  }
  up.headers_file = u.string("headers_file", "");
  if (!up.headers_file.empty()) {
    std::string why;
    auto text = read_file(up.headers_file, why);
    if (!text) {
      u.error("headers_file", why);
    } else if (auto headers = parse_headers_file(*text, why)) {
      up.headers = std::move(*headers);
    } else {
      u.error("headers_file", fmt::format("'{}' {}", up.headers_file, why));
    }
  }
  auto role = u.string("role", "full");
  if (role == "archive") up.role = Role::archive;
  else if (role != "full") u.error("role", fmt::format("expected full or archive, got '{}'", role));
  auto tier = u.string("tier", "primary");
  if (tier == "fallback") up.tier = Tier::fallback;
  else if (tier != "primary") u.error("tier", fmt::format("expected primary or fallback, got '{}'", tier));
  up.weight = u.number("weight", 1, 0.001, 1000);
  up.pool = u.string("pool", "default");
  up.max_inflight = static_cast<uint32_t>(u.integer("max_inflight", up.max_inflight, 1, 1000000));
  auto batching = u.string("batching", "auto");
  if (batching == "on") up.batching = Batching::on;
  else if (batching == "off") up.batching = Batching::off;
  else if (batching != "auto") u.error("batching", fmt::format("expected off, on or auto, got '{}'", batching));
  up.batch_threshold = static_cast<uint32_t>(u.integer("batch_threshold", up.batch_threshold, 1, 1024));
  up.batch_max_calls = static_cast<uint32_t>(u.integer("batch_max_calls", up.batch_max_calls, 2, 1000));
  up.batch_max_bytes = u.size("batch_max_bytes", up.batch_max_bytes);
  if (up.batch_max_bytes < 1024) u.error("batch_max_bytes", "must be at least 1KiB");
  up.batch_wait = u.duration("batch_wait", up.batch_wait, Duration(0));
  if (!valid_name(up.pool)) u.error("pool", "use lowercase letters, digits, '-' and '_'");
  up.max_rps = u.number("max_rps", 0, 0, 1e9);
  if (auto weights = u.map("method_weights")) {
    for (const auto& method : weights->keys()) {
      double w = weights->number(method, 1, 0, 1e6);
      up.method_weights.emplace_back(method, w);
    }
    if (up.max_rps == 0 && !up.method_weights.empty()) {
      u.error("method_weights", "weigh calls against a budget: set max_rps too");
    }
    weights->finish();
  }
  u.finish();
  return up;
}

ChainConfig read_chain(ConfigMap& m) {
  ChainConfig c;
  if (auto name = m.required_string("name")) {
    c.name = *name;
    if (!valid_name(c.name)) m.error("name", "use lowercase letters, digits, '-' and '_' (it is a URL path and a label)");
  }
  c.type = m.string("type", "evm");
  if (c.type != "evm" && c.type != "solana") {
    m.error("type", fmt::format("expected evm or solana, got '{}'", c.type));
  }
  if (c.type == "evm") {
    if (!m.has("chain_id")) m.error("chain_id", "is required (the gateway refuses upstreams on another chain)");
    c.chain_id = static_cast<uint64_t>(m.integer("chain_id", 0, 1, INT64_MAX));
  } else if (m.has("chain_id")) {
    m.error("chain_id", "only evm chains have a chain id");
    m.integer("chain_id", 0, 0, INT64_MAX);
  }
  c.max_lag_blocks = static_cast<uint64_t>(m.integer("max_lag_blocks", 5, 0, 1000000));
  c.archive_after_blocks = static_cast<uint64_t>(m.integer("archive_after_blocks", 128, 1, 100000000));
  c.health_interval = m.duration("health_interval", Duration(1000), Duration(100));
  c.allow_methods = m.strings("allow_methods");
  c.deny_methods = m.strings("deny_methods");
  c.min_healthy = static_cast<uint32_t>(m.integer("min_healthy", 1, 1, 1000));
  c.active_pool = m.string("active_pool", "");
  c.finality_depth = static_cast<uint64_t>(m.integer("finality_depth", 0, 0, 100000000));
  if (c.finality_depth > 0 && c.type != "evm") m.error("finality_depth", "only evm chains have a finality depth here");
  if (auto p = m.map("passive_health")) {
    auto& ph = c.passive_health;
    ph.consecutive_failures = static_cast<uint32_t>(p->integer("consecutive_failures", ph.consecutive_failures, 1, 1000));
    ph.error_ratio = p->number("error_ratio", ph.error_ratio, 0.01, 1);
    ph.min_calls = static_cast<uint32_t>(p->integer("min_calls", ph.min_calls, 1, 1000000));
    ph.window = p->duration("window", ph.window, Duration(1000));
    ph.cooldown = p->duration("cooldown", ph.cooldown, Duration(100));
    ph.max_cooldown = p->duration("max_cooldown", ph.max_cooldown, Duration(100));
    if (ph.max_cooldown < ph.cooldown) p->error("max_cooldown", "must be at least cooldown");
    p->finish();
  }
  std::set<std::string> names;
  for (auto& u : m.list("upstreams")) {
    if (u.has("name") && !names.insert(u.string("name", "")).second) {
      u.error("name", fmt::format("duplicate upstream '{}'", u.string("name", "")));
    }
    c.upstreams.push_back(read_upstream(u));
    // Solana's WebSocket port serves subscriptions only, not its JSON-RPC methods.
    if (c.upstreams.back().url.websocket() && c.type != "evm") {
      u.error(u.has("url") ? "url" : "url_file",
              "a solana chain's upstreams are reached over http(s): its WebSocket serves subscriptions only");
    }
  }
  if (c.upstreams.empty()) m.error("upstreams", "a chain needs at least one upstream");
  auto pools = c.pools();
  if (c.active_pool.empty()) {
    c.active_pool = pools.empty() ? "default" : pools.front();
  } else if (std::find(pools.begin(), pools.end(), c.active_pool) == pools.end()) {
    m.error("active_pool", fmt::format("no upstream is in pool '{}'", c.active_pool));
  }
  m.finish();
  return c;
}

// "https://app.example" or "http://localhost:3000": a scheme, a host, an optional port; what a
// browser sends in Origin, which never has a path or a trailing slash.
bool valid_origin(const std::string& o) {
  if (o == "*") return true;
  auto scheme = o.find("://");
  if (scheme == std::string::npos || scheme == 0) return false;
  auto rest = std::string_view(o).substr(scheme + 3);
  if (rest.empty()) return false;
  for (char c : rest) {
    if (c == '/' || c == '?' || c == '#' || c == ' ' || c == '*') return false;
  }
  return true;
}

// A file the TLS pair may be read from: a regular file of sane size (a certificate is a few KiB;
// this also keeps check-config and the config fuzzer off devices and FIFOs).
bool readable_pem(const std::string& path, std::string* why) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    *why = fmt::format("cannot read {}: {}", path, std::strerror(errno));
    return false;
  }
  if (!S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
    *why = fmt::format("{} is not a PEM file (a regular file under 1MiB)", path);
    return false;
  }
  return true;
}

void read_listen_tls(ConfigMap& root, GatewayConfig& cfg) {
  auto t = root.map("tls");
  if (!t) return;
  auto& tls = cfg.tls;
  tls.cert_file = t->string("cert_file", "");
  tls.key_file = t->string("key_file", "");
  tls.reload_interval = t->duration("reload_interval", tls.reload_interval, Duration(100));
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    t->error(tls.cert_file.empty() ? "cert_file" : "key_file", "cert_file and key_file go together");
  } else if (tls.enabled()) {
    std::string why;
    if (!readable_pem(tls.cert_file, &why)) {
      t->error("cert_file", why);
    } else if (!readable_pem(tls.key_file, &why)) {
      t->error("key_file", why);
    } else if (!http::load_server_tls(tls.cert_file, tls.key_file, &why)) {
      bool key = why.starts_with("private key") || why.starts_with("cannot load private key");
      t->error(key ? "key_file" : "cert_file", why);
    }
  }
  t->finish();
}

// The public edge: trusted_proxies, auth, cors, rate_limits (gateway/client_gate.h).
void read_edge(ConfigMap& root, GatewayConfig& cfg) {
  read_listen_tls(root, cfg);
  cfg.trusted_proxies = root.strings("trusted_proxies");
  for (const auto& text : cfg.trusted_proxies) {
    std::string why;
    if (!Cidr::parse(text, &why)) root.error("trusted_proxies", fmt::format("'{}': {}", text, why));
  }
  if (auto a = root.map("auth")) {
    auto& auth = cfg.auth;
    auth.mode = a->string("mode", auth.mode);
    auth.keys_file = a->string("keys_file", "");
    auth.reload_interval = a->duration("reload_interval", auth.reload_interval, Duration(100));
    if (auth.mode != "off" && auth.mode != "optional" && auth.mode != "required") {
      a->error("mode", fmt::format("expected off, optional or required, got '{}'", auth.mode));
    } else if (auth.mode != "off" && auth.keys_file.empty()) {
      a->error("keys_file", fmt::format("is required when mode is {}", auth.mode));
    }
    a->finish();
  }
  if (auto co = root.map("cors")) {
    auto& cors = cfg.cors;
    cors.allowed_origins = co->strings("allowed_origins");
    cors.max_age = co->duration("max_age", cors.max_age, Duration(0));
    for (const auto& o : cors.allowed_origins) {
      if (!valid_origin(o)) {
        co->error("allowed_origins", fmt::format("'{}': expected scheme://host[:port] as browsers send it "
                                                 "(no path, no trailing slash), or '*'", o));
      }
    }
    co->finish();
  }
  if (auto rl = root.map("rate_limits")) {
    auto& rate = cfg.rate_limits;
    rate.per_ip_rps = rl->number("per_ip_rps", rate.per_ip_rps, 0, 1e9);
    rate.per_ip_burst = rl->number("per_ip_burst", rate.per_ip_burst, 0, 1e9);
    rate.global_rps = rl->number("global_rps", rate.global_rps, 0, 1e9);
    rate.global_burst = rl->number("global_burst", rate.global_burst, 0, 1e9);
    rate.max_tracked_ips = static_cast<uint32_t>(rl->integer("max_tracked_ips", rate.max_tracked_ips, 16, 100000000));
    std::set<std::string> methods;
    for (auto& w : rl->list("method_weights")) {
      MethodWeight mw;
      if (auto m = w.required_string("method")) {
        mw.method = *m;
        if (!methods.insert(mw.method).second) w.error("method", fmt::format("'{}' has a weight already", mw.method));
      }
      mw.weight = w.number("weight", 1, 0, 1e6);
      w.finish();
      rate.method_weights.push_back(std::move(mw));
    }
    rate.redis = rl->string("redis", "");
    if (!rate.redis.empty()) {
      std::string why;
      if (!redis::parse_address(rate.redis, &why)) rl->error("redis", fmt::format("'{}': {}", rate.redis, why));
    }
    rate.redis_timeout = rl->duration("redis_timeout", rate.redis_timeout, Duration(1));
    if (rate.per_ip_burst > 0 && rate.per_ip_rps == 0) rl->error("per_ip_burst", "needs per_ip_rps");
    if (rate.global_burst > 0 && rate.global_rps == 0) rl->error("global_burst", "needs global_rps");
    rl->finish();
  }
}

void read_websocket(ConfigMap& root, GatewayConfig& cfg) {
  auto wsm = root.map("websocket");
  if (!wsm) return;
  auto& ws = cfg.websocket;
  ws.enabled = wsm->boolean("enabled", ws.enabled);
  ws.max_connections = static_cast<uint32_t>(wsm->integer("max_connections", ws.max_connections, 1, 1000000));
  ws.max_connections_per_ip =
      static_cast<uint32_t>(wsm->integer("max_connections_per_ip", ws.max_connections_per_ip, 1, 1000000));
  ws.max_message = wsm->size("max_message", ws.max_message);
  ws.max_send_queue = wsm->size("max_send_queue", ws.max_send_queue);
  ws.max_in_flight = static_cast<uint32_t>(wsm->integer("max_in_flight", ws.max_in_flight, 1, 10000));
  ws.max_subscriptions_per_connection = static_cast<uint32_t>(
      wsm->integer("max_subscriptions_per_connection", ws.max_subscriptions_per_connection, 0, 100000));
  ws.idle_timeout = wsm->duration("idle_timeout", ws.idle_timeout, Duration(1000));
  ws.ping_interval = wsm->duration("ping_interval", ws.ping_interval, Duration(100));
  ws.handshake_timeout = wsm->duration("handshake_timeout", ws.handshake_timeout, Duration(100));
  // YAML 1.1 tools (Helm's among them) write on/off as true/false: both spellings mean the same.
  auto compression = wsm->string("compression", "off");
  if (compression == "on" || compression == "true") {
    ws.compression = true;
  } else if (compression == "off" || compression == "false") {
    ws.compression = false;
  } else {
    wsm->error("compression", "expected off or on (permessage-deflate with clients that offer it)");
  }
  if (ws.max_message < 1024) wsm->error("max_message", "must be at least 1KiB");
  if (ws.max_send_queue < 1024) wsm->error("max_send_queue", "must be at least 1KiB");
  wsm->finish();
}

GatewayConfig read(ConfigReader& reader, std::optional<ConfigMap> root) {
  GatewayConfig cfg;
  if (!root) throw ConfigError(reader.errors());
  cfg.listen = root->host_port("listen", cfg.listen);
  cfg.admin_listen = root->host_port("admin_listen", cfg.admin_listen);
  cfg.threads = static_cast<uint32_t>(root->integer("threads", 0, 0, 256));
  cfg.admin_token_file = root->string("admin_token_file", "");
  cfg.state_file = root->string("state_file", "");
  cfg.log_level = root->string("log_level", "info");
  if (cfg.log_level != "debug" && cfg.log_level != "info" && cfg.log_level != "warn" && cfg.log_level != "error") {
    root->error("log_level", "expected debug, info, warn or error");
  }
  if (auto l = root->map("limits")) {
    auto& lim = cfg.limits;
    lim.max_body = l->size("max_body", lim.max_body);
    lim.max_batch = static_cast<uint32_t>(l->integer("max_batch", lim.max_batch, 1, 10000));
    lim.request_timeout = l->duration("request_timeout", lim.request_timeout, Duration(10));
    lim.upstream_timeout = l->duration("upstream_timeout", lim.upstream_timeout, Duration(10));
    lim.max_attempts = static_cast<uint32_t>(l->integer("max_attempts", lim.max_attempts, 1, 10));
    lim.idle_timeout = l->duration("idle_timeout", lim.idle_timeout);
    lim.read_timeout = l->duration("read_timeout", lim.read_timeout);
    lim.drain_timeout = l->duration("drain_timeout", lim.drain_timeout, Duration(0));
    lim.max_connections = static_cast<uint32_t>(l->integer("max_connections", lim.max_connections, 1, 1000000));
    lim.max_reply_bytes = l->size("max_reply_bytes", lim.max_reply_bytes);
    lim.batch_concurrency = static_cast<uint32_t>(l->integer("batch_concurrency", lim.batch_concurrency, 1, 10000));
    lim.max_buffered_bytes = l->size("max_buffered_bytes", lim.max_buffered_bytes);
    l->finish();
  }
  if (auto cm = root->map("cache")) {
    auto& cache = cfg.cache;
    cache.enabled = cm->boolean("enabled", cache.enabled);
    cache.max_bytes = cm->size("max_bytes", cache.max_bytes);
    cache.max_entry_bytes = cm->size("max_entry_bytes", cache.max_entry_bytes);
    cache.unfinal_ttl = cm->duration("unfinal_ttl", cache.unfinal_ttl, Duration(0));
    cache.redis = cm->string("redis", "");
    if (!cache.redis.empty()) {
      std::string why;
      if (!redis::parse_address(cache.redis, &why)) cm->error("redis", fmt::format("'{}': {}", cache.redis, why));
    }
    cache.redis_timeout = cm->duration("redis_timeout", cache.redis_timeout);
    cache.redis_ttl = cm->duration("redis_ttl", cache.redis_ttl, Duration(1000));
    if (cache.max_bytes < (64u << 10)) cm->error("max_bytes", "must be at least 64KiB");
    if (cache.max_entry_bytes > cache.max_bytes / 16) {
      cm->error("max_entry_bytes", "must be at most a sixteenth of max_bytes (the cache has 16 shards)");
    }
    cm->finish();
  }
  read_edge(*root, cfg);
  if (auto fm = root->map("filters")) {
    auto& f = cfg.filters;
    f.enabled = fm->boolean("enabled", f.enabled);
    f.timeout = fm->duration("timeout", f.timeout, Duration(1000));
    f.max_per_client = static_cast<uint32_t>(fm->integer("max_per_client", f.max_per_client, 1, 1000000));
    f.max_total = static_cast<uint32_t>(fm->integer("max_total", f.max_total, 1, 10000000));
    if (f.max_per_client > f.max_total) fm->error("max_per_client", "must be at most max_total");
    fm->finish();
  }
  read_websocket(*root, cfg);
  if (auto rm = root->map("rollout")) {
    for (const auto& peer : rm->strings("peers")) {
      auto hp = parse_host_port(peer);
      if (!hp || peer.starts_with(':') || hp->port == 0) {
        rm->error("peers", fmt::format("'{}': expected host:port (the admin Service's name and port)", peer));
        continue;
      }
      cfg.rollout.peers.push_back(*hp);
    }
    cfg.rollout.sync_interval = rm->duration("sync_interval", Duration(5000), Duration(100));
    if (!cfg.rollout.peers.empty() && cfg.admin_token_file.empty()) {
      rm->error("peers", "needs admin_token_file (peers answer on the admin API, with the same token)");
    }
    rm->finish();
  }
  std::set<std::string> names;
  for (auto& c : root->list("chains")) {
    auto chain = read_chain(c);
    if (!chain.name.empty() && !names.insert(chain.name).second) {
      c.error("name", fmt::format("duplicate chain '{}'", chain.name));
    }
    cfg.chains.push_back(std::move(chain));
  }
  if (cfg.chains.empty() && reader.ok()) root->error("chains", "at least one chain is required");
  if (cfg.listen.port == cfg.admin_listen.port && cfg.listen.host == cfg.admin_listen.host) {
    root->error("admin_listen", "must differ from listen (keep the admin port off the public path)");
  }
  root->finish();
  if (!reader.ok()) throw ConfigError(reader.errors());
  return cfg;
}

}  // namespace

bool ChainConfig::allows(std::string_view method) const {
  for (const auto& rule : allow_methods) {
    if (matches(rule, method)) return true;
  }
  for (const auto& rule : deny_methods) {
    if (matches(rule, method)) return false;
  }
  return !chains::evm::denied_by_default(method);
}

std::vector<std::string> ChainConfig::pools() const {
  std::vector<std::string> out;
  for (const auto& u : upstreams) {
    if (std::find(out.begin(), out.end(), u.pool) == out.end()) out.push_back(u.pool);
  }
  return out;
}

const ChainConfig* GatewayConfig::chain(std::string_view name) const {
  for (const auto& c : chains) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

GatewayConfig load_gateway_config(const std::string& path) {
  ConfigReader reader(path);
  auto root = reader.load();
  return read(reader, std::move(root));
}

GatewayConfig parse_gateway_config(const std::string& text, const std::string& name) {
  ConfigReader reader(name);
  auto root = reader.load_text(text);
  return read(reader, std::move(root));
}

}  // namespace nodeops::gateway
