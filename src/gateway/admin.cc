#include "gateway/admin.h"

#include <boost/asio.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <fstream>
#include <sstream>

#include "core/json.h"
#include "core/log.h"
#include "gateway/rollout.h"
#include "gateway/status.h"
#include "gateway/status_page.h"

namespace nodeops::gateway {
namespace asio = boost::asio;

namespace {

http::Response reply(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

http::Response error(int status, std::string_view message) {
  std::string body = "{\"error\":";
  json::append_string(body, message);
  body += "}";
  return reply(status, body);
}

// Compares without an early exit, so response time says nothing about how much of a guess matched.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i % std::max<size_t>(1, b.size())]);
  return diff == 0;
}

// GCC 12 reports a false -Warray-bounds inside std::string's copy here (GCC bug 105329).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overread"
std::string read_token(const std::string& path) {
  if (path.empty()) return {};
  std::ifstream in(path);
  if (!in) {
    log::error("cannot read admin_token_file; the admin API stays off", {{"file", path}});
    return {};
  }
  std::string line;
  std::getline(in, line);  // the token is the file's first line
  auto end = line.find_last_not_of(" \t\r");
  std::string token = end == std::string::npos ? std::string() : line.substr(0, end + 1);
  if (token.size() < 16) {
    log::error("admin token shorter than 16 characters; the admin API stays off", {{"file", path}});
    return {};
  }
  return token;
}
#pragma GCC diagnostic pop

// Reads a rollout request body; returns the error message or fills chain and plan.
std::string read_plan(const std::string& body, std::string& chain, RolloutPlan& plan) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) || !doc.is_object()) return "body must be a JSON object";
  std::string_view s;
  if (doc["chain"].get_string().get(s)) return "chain is required";
  chain = std::string(s);
  if (doc["to"].get_string().get(s)) return "to (the target pool) is required";
  plan.to = std::string(s);
  simdjson::dom::array steps;
  if (!doc["steps"].get_array().get(steps)) {
    plan.steps.clear();
    for (auto v : steps) {
      double d;
      if (v.get_double().get(d)) return "steps must be numbers";
      plan.steps.push_back(d);
    }
  }
  if (!doc["bake"].get_string().get(s)) {
    auto d = parse_duration(s);
    if (!d) return "bake must be a duration like 60s";
    plan.bake = *d;
  }
  if (!doc["max_p99"].get_string().get(s)) {
    auto d = parse_duration(s);
    if (!d) return "max_p99 must be a duration like 500ms";
    plan.max_p99 = *d;
  }
  double ratio;
  if (!doc["max_error_ratio"].get_double().get(ratio)) {
    if (ratio < 0 || ratio > 1) return "max_error_ratio must be within 0..1";
    plan.max_error_ratio = ratio;
  }
  return "";
}

}  // namespace

struct AdminApi::Impl {
  const GatewayConfig& config;
  std::vector<std::unique_ptr<ChainRuntime>>& chains;
  GatewayMetrics& metrics;
  Router& router;
  asio::io_context& io;
  std::string token;
  RolloutManager rollouts;

  Impl(const GatewayConfig& c, std::vector<std::unique_ptr<ChainRuntime>>& ch, GatewayMetrics& m, Router& r,
       asio::io_context& i)
      : config(c), chains(ch), metrics(m), router(r), io(i), token(read_token(c.admin_token_file)),
        rollouts(i, ch, m, c.state_file) {}

  http::Response admin(http::Request& req, std::string_view path) {
    if (token.empty()) return error(404, "the admin API is off: set admin_token_file in the gateway config");
    constexpr std::string_view kBearer = "Bearer ";
    std::string_view auth = req.authorization;
    if (!auth.starts_with(kBearer) || !same_secret(auth.substr(kBearer.size()), token)) {
      log::warn("admin request without a valid token", {{"target", req.target}, {"client", req.peer_address}});
      auto r = error(401, "missing or wrong bearer token");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return r;
    }
    if (path == "/admin/rollout" && req.method == "GET") {
      auto chain = http::query_param(req.target, "chain");
      if (chain.empty() && chains.size() == 1) chain = chains.front()->config->name;
      auto st = rollouts.status_json(chain);
      return st ? reply(200, *st) : error(404, fmt::format("unknown chain '{}'", chain));
    }
    if (path == "/admin/rollout" && req.method == "POST") {
      std::string chain;
      RolloutPlan plan;
      auto bad = read_plan(req.body, chain, plan);
      if (!bad.empty()) return error(400, bad);
      if (auto refused = rollouts.start(chain, std::move(plan))) return error(409, *refused);
      return reply(202, *rollouts.status_json(chain));
    }
    if (path == "/admin/rollout/fleet" && req.method == "GET") return reply(200, rollouts.fleet_json());
    if (path == "/admin/rollout/fleet" && req.method == "POST") {
      std::string why;
      auto state = fleet::parse_state(req.body, why);
      if (!state) return error(400, why);
      if (!rollouts.status_json(state->chain)) return error(404, fmt::format("unknown chain '{}'", state->chain));
      if (auto refused = rollouts.apply_fleet(*state)) return error(409, *refused);
      return reply(200, *rollouts.status_json(state->chain));
    }
    if (path == "/admin/rollout/abort" && req.method == "POST") {
      std::string chain;
      simdjson::dom::parser parser;
      simdjson::dom::element doc;
      std::string_view s;
      if (parser.parse(req.body).get(doc) || doc["chain"].get_string().get(s)) return error(400, "chain is required");
      chain = std::string(s);
      if (auto why = rollouts.abort(chain)) return error(409, *why);
      return reply(200, *rollouts.status_json(chain));
    }
    return error(404, "no such admin endpoint");
  }
};

AdminApi::AdminApi(const GatewayConfig& config, std::vector<std::unique_ptr<ChainRuntime>>& chains,
                   GatewayMetrics& metrics, Router& router, asio::io_context& io)
    : impl_(std::make_unique<Impl>(config, chains, metrics, router, io)) {}

AdminApi::~AdminApi() = default;

void AdminApi::start() {
  impl_->rollouts.restore();
  // Peers are asked with this replica's own admin token: every replica mounts the same Secret.
  if (!impl_->token.empty()) {
    impl_->rollouts.start_peer_sync(impl_->config.rollout.peers, impl_->config.rollout.sync_interval, impl_->token);
  }
}

asio::awaitable<http::Response> AdminApi::handle(http::Request& req) {
  auto path = http::path_of(req.target);
  if (path.starts_with("/admin/")) co_return impl_->admin(req, path);
  if (req.method != "GET") co_return error(405, "read-only endpoint");
  if (path == "/metrics") {
    impl_->metrics.active_clients().set(impl_->router.active_clients().estimate(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count()));
    http::Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = impl_->metrics.registry().expose();
    co_return r;
  }
  if (path == "/healthz") co_return reply(200, "{\"status\":\"ok\"}");
  if (path == "/readyz") co_return impl_->router.readiness();
  if (path.starts_with("/readyz/")) co_return impl_->router.readiness_of(path.substr(8));
  if (path == "/status") co_return reply(200, status_json(impl_->chains, impl_->router.draining()));
  if (path == "/" || path == "/index.html") {
    http::Response r;
    r.content_type = "text/html; charset=utf-8";
    r.body = std::string(status_page_html());
    r.headers.emplace_back("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'");
    co_return r;
  }
  co_return error(404, "not found");
}

}  // namespace nodeops::gateway
