#include "gateway/rollout_command.h"

#include <boost/asio.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "core/http.h"
#include "core/json.h"
#include "core/units.h"

namespace nodeops::gateway {
namespace asio = boost::asio;
namespace {

struct Options {
  std::string gateway = "http://127.0.0.1:9100";
  std::string chain;
  std::string to;
  std::string steps = "10,50,100";
  std::string bake = "60s";
  double max_error_ratio = 0.01;
  std::string max_p99 = "500ms";
  std::string token_file;
  bool no_wait = false;
};

struct Reply {
  int status = 0;
  std::string body;
  std::string error;
};

// One blocking call to the admin API.
Reply call(const Url& base, const std::string& token, const std::string& method, const std::string& path,
           const std::string& body) {
  asio::io_context io;
  Reply out;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        http::ClientPool pool(io, base.host, base.port, 1, 64ull << 20, http::TlsOptions{base.tls(), {}});
        http::ClientPool::Headers headers;
        headers.emplace_back("Authorization", "Bearer " + token);
        auto res = co_await pool.request(method, path, body, Duration(10000), "application/json", headers);
        if (!res.ok()) out.error = std::string(http::to_string(res.error)) + ": " + res.message;
        out.status = res.status;
        out.body = std::move(res.body);
      },
      asio::detached);
  io.run();
  return out;
}

std::string field(const std::string& json_text, const char* key) {
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(json_text).get(doc)) return {};
  auto v = doc[key];
  std::string_view s;
  if (!v.get_string().get(s)) return std::string(s);
  double d;
  if (!v.get_double().get(d)) return fmt::format("{}", d);
  return {};
}

std::string token_of(const Options& o) {
  if (!o.token_file.empty()) {
    std::ifstream in(o.token_file);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string t = ss.str();
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
    return t;
  }
  const char* env = std::getenv("NODEOPS_ADMIN_TOKEN");
  return env ? env : "";
}

int fail(const std::string& msg) {
  std::cerr << "rollout: " << msg << "\n";
  return 1;
}

int run(const std::string& action, const Options& o) {
  std::string why;
  auto base = parse_url(o.gateway, &why);
  if (!base) return fail("--gateway " + o.gateway + ": " + why);
  auto token = token_of(o);
  if (token.empty()) return fail("no admin token: pass --token-file or set NODEOPS_ADMIN_TOKEN");
  if (action == "status") {
    auto r = call(*base, token, "GET", "/admin/rollout?chain=" + o.chain, "");
    if (!r.error.empty()) return fail(r.error);
    std::cout << r.body << "\n";
    return r.status == 200 ? 0 : 1;
  }
  std::string chain_json = json::quote(o.chain);
  if (action == "abort") {
    auto r = call(*base, token, "POST", "/admin/rollout/abort", "{\"chain\":" + chain_json + "}");
    if (!r.error.empty()) return fail(r.error);
    std::cout << r.body << "\n";
    return r.status == 200 ? 0 : 1;
  }
  // switch
  std::string steps = "[" + o.steps + "]";
  std::string body = fmt::format(R"({{"chain":{},"to":{},"steps":{},"bake":{},"max_error_ratio":{},"max_p99":{}}})",
                                 chain_json, json::quote(o.to), steps, json::quote(o.bake), o.max_error_ratio,
                                 json::quote(o.max_p99));
  auto r = call(*base, token, "POST", "/admin/rollout", body);
  if (!r.error.empty()) return fail(r.error);
  if (r.status != 202) return fail(fmt::format("refused ({}): {}", r.status, field(r.body, "error")));
  std::cout << fmt::format("switching {} to {} in steps {} (bake {})\n", o.chain, o.to, o.steps, o.bake);
  if (o.no_wait) return 0;
  std::string last;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto s = call(*base, token, "GET", "/admin/rollout?chain=" + o.chain, "");
    if (!s.error.empty()) return fail(s.error);
    auto phase = field(s.body, "phase");
    auto line = fmt::format("{} {}% on {}", phase, field(s.body, "percent"), o.to);
    if (line != last) std::cout << line << "\n" << std::flush;
    last = line;
    if (phase == "completed") return 0;
    if (phase != "shifting") return fail(fmt::format("{}: {}", phase, field(s.body, "reason")));
  }
}

}  // namespace

void add_rollout_command(CLI::App& app) {
  static Options o;
  static std::string action;
  auto* cmd = app.add_subcommand("rollout", "blue/green traffic switch with health gates and automatic rollback");
  cmd->require_subcommand(1);
  auto common = [](CLI::App* sub) {
    sub->add_option("--gateway", o.gateway, "the gateway's admin URL")->capture_default_str();
    sub->add_option("--chain", o.chain, "chain name")->required();
    sub->add_option("--token-file", o.token_file, "file with the admin token (else NODEOPS_ADMIN_TOKEN)");
  };
  auto* sw = cmd->add_subcommand("switch", "move the chain's traffic to another pool, step by step");
  common(sw);
  sw->add_option("--to", o.to, "target pool")->required();
  sw->add_option("--steps", o.steps, "traffic percentages, ending at 100")->capture_default_str();
  sw->add_option("--bake", o.bake, "how long each step is watched")->capture_default_str();
  sw->add_option("--max-error-ratio", o.max_error_ratio, "roll back above this error ratio")->capture_default_str();
  sw->add_option("--max-p99", o.max_p99, "roll back above this p99 latency")->capture_default_str();
  sw->add_flag("--no-wait", o.no_wait, "return once the switch has started");
  sw->callback([] { std::exit(run("switch", o)); });
  auto* st = cmd->add_subcommand("status", "show the chain's rollout state");
  common(st);
  st->callback([] { std::exit(run("status", o)); });
  auto* ab = cmd->add_subcommand("abort", "stop the running switch and move all traffic back");
  common(ab);
  ab->callback([] { std::exit(run("abort", o)); });
}

}  // namespace nodeops::gateway
