// `nodeops rollout`: the client of the gateways' rollout API. `switch` coordinates every replica
// (rollout_fleet.h): the replicas are the --gateway URLs plus every address the --fleet names
// resolve to (re-resolved at every check, so a replica added by the HPA joins); the command sets
// each step on all of them, renews the step's lease, gates on the fleet's figures and rolls all of
// them back when a gate fails, a replica refuses, or one stays unreachable past --max-unreachable.
#include "gateway/rollout_command.h"

#include <boost/asio.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "core/http.h"
#include "core/json.h"
#include "core/units.h"
#include "gateway/rollout_fleet.h"

namespace nodeops::gateway {
namespace asio = boost::asio;
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::vector<std::string> gateways;
  std::vector<std::string> fleet;
  std::string chain;
  std::string to;
  std::string steps = "10,50,100";
  std::string bake = "60s";
  double max_error_ratio = 0.01;
  std::string max_p99 = "500ms";
  std::string lease = "15s";
  std::string max_unreachable = "30s";
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
           const std::string& body, Duration timeout = Duration(10000)) {
  asio::io_context io;
  Reply out;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        http::ClientPool pool(io, base.host, base.port, 1, 64ull << 20, http::TlsOptions{base.tls(), {}});
        http::ClientPool::Headers headers;
        headers.emplace_back("Authorization", "Bearer " + token);
        auto res = co_await pool.request(method, path, body, timeout, "application/json", headers);
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

// One gateway replica's admin API.
struct Replica {
  std::string name;  // its admin URL, as printed
  Url url;
  bool listed = false;  // named by --gateway (kept when unreachable) rather than found by --fleet
  std::optional<Clock::time_point> unreachable_since;
};

// The replicas now: every --gateway, and every address each --fleet name resolves to (A and AAAA).
std::optional<std::vector<Replica>> discover(const Options& o, std::string& why) {
  std::vector<Replica> out;
  for (const auto& g : o.gateways) {
    std::string bad;
    auto url = parse_url(g, &bad);
    if (!url) {
      why = "--gateway " + g + ": " + bad;
      return std::nullopt;
    }
    out.push_back({g, *url, true, {}});
  }
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  for (const auto& f : o.fleet) {
    auto hp = parse_host_port(f);
    if (!hp || f.starts_with(':') || hp->port == 0) {
      why = "--fleet " + f + ": expected name:port (the gateway's headless admin Service)";
      return std::nullopt;
    }
    boost::system::error_code ec;
    auto results = resolver.resolve(hp->host, std::to_string(hp->port), ec);
    if (ec) continue;  // no replica right now; an empty fleet is reported by the caller
    for (const auto& entry : results) {
      auto address = entry.endpoint().address();
      Url url;
      url.host = address.to_string();
      url.port = entry.endpoint().port();
      auto name = fmt::format("http://{}:{}", address.is_v6() ? "[" + url.host + "]" : url.host, url.port);
      bool seen = false;
      for (const auto& r : out) seen = seen || r.name == name;
      if (!seen) out.push_back({name, url, false, {}});
    }
  }
  return out;
}

std::optional<std::vector<double>> parse_steps(const std::string& text, std::string& why) {
  std::vector<double> steps;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    double v = std::strtod(item.c_str(), &end);
    if (item.empty() || end != item.c_str() + item.size()) {
      why = "--steps: '" + item + "' is not a number";
      return std::nullopt;
    }
    steps.push_back(v);
  }
  if (steps.empty() || steps.back() != 100) {
    why = "--steps: the last step must be 100";
    return std::nullopt;
  }
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i] <= 0 || steps[i] > 100 || (i && steps[i] <= steps[i - 1])) {
      why = "--steps: steps must rise from above 0 to 100";
      return std::nullopt;
    }
  }
  return steps;
}

std::optional<Duration> duration_option(const char* name, const std::string& text, std::string& why) {
  auto d = parse_duration(text);
  if (!d) why = fmt::format("{} {}: expected a duration like 30s or 500ms", name, text);
  return d;
}

// A replica's gate inputs from its status JSON (rollout.h: `gate`).
fleet::GateReport gate_of(const std::string& replica, const std::string& status_json) {
  fleet::GateReport r;
  r.replica = replica;
  simdjson::dom::parser p;
  simdjson::dom::element doc, gate;
  if (p.parse(status_json).get(doc) || doc["gate"].get(gate)) return r;
  bool probed = true;
  if (!gate["probed"].get_bool().get(probed)) r.probed = probed;
  uint64_t n;
  if (!gate["healthy"].get_uint64().get(n)) r.healthy = n;
  if (!gate["min_healthy"].get_uint64().get(n)) r.min_healthy = n;
  double d;
  if (!gate["requests"].get_double().get(d)) r.requests = d;
  if (!gate["failures"].get_double().get(d)) r.failures = d;
  simdjson::dom::array buckets;
  if (!gate["buckets"].get_array().get(buckets)) {
    for (auto b : buckets) {
      if (!b.get_uint64().get(n)) r.buckets.push_back(n);
    }
  }
  return r;
}

uint64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string random_switch_id() {
  std::random_device rd;
  std::uniform_int_distribution<uint32_t> d;
  return fmt::format("{:08x}", d(rd));
}

std::atomic<bool> g_interrupted{false};

extern "C" void on_interrupt(int) { g_interrupted = true; }

// Drives one switch over every replica; see the file comment.
class Coordinator {
 public:
  Coordinator(const Options& o, std::string token) : o_(o), token_(std::move(token)) {}

  int run() {
    std::string why;
    auto steps = parse_steps(o_.steps, why);
    auto bake = duration_option("--bake", o_.bake, why);
    auto lease = duration_option("--lease", o_.lease, why);
    auto max_p99 = duration_option("--max-p99", o_.max_p99, why);
    auto max_unreachable = duration_option("--max-unreachable", o_.max_unreachable, why);
    if (!steps || !bake || !lease || !max_p99 || !max_unreachable) return fail(why);
    if (*lease < Duration(1000)) return fail("--lease must be at least 1s (it is renewed every 500ms)");
    limits_ = {o_.max_error_ratio, *max_p99};
    max_unreachable_ = *max_unreachable;
    auto found = discover(o_, why);
    if (!found) return fail(why);
    replicas_ = std::move(*found);
    if (replicas_.empty()) return fail("no gateway replica found (--fleet resolved to no address)");

    // The starting point: every replica reachable, idle on one and the same pool.
    uint64_t highest = 0;
    std::string from;
    for (auto& r : replicas_) {
      auto s = call(r.url, token_, "GET", "/admin/rollout?chain=" + o_.chain, "");
      if (!s.error.empty()) return fail(fmt::format("cannot reach {}: {}", r.name, s.error));
      if (s.status != 200) return fail(fmt::format("{}: {}", r.name, field(s.body, "error")));
      auto phase = field(s.body, "phase");
      auto active = field(s.body, "active_pool");
      if (phase == "shifting") {
        return fail(fmt::format("refused: {} is already switching {} to {}", r.name, o_.chain, field(s.body, "to")));
      }
      if (!from.empty() && active != from) {
        return fail(fmt::format("refused: the replicas disagree on the active pool ({} serves {}, another {}); "
                                "wait for them to converge (rollout.peers) or switch them one by one",
                                r.name, active, from));
      }
      from = active;
      highest = std::max<uint64_t>(highest, std::strtoull(field(s.body, "epoch").c_str(), nullptr, 10));
    }
    if (from == o_.to) return fail(fmt::format("refused: {} is already the active pool", o_.to));

    state_.chain = o_.chain;
    state_.epoch = fleet::next_epoch(highest, now_unix_ms());
    state_.switch_id = random_switch_id();
    state_.from = from;
    state_.to = o_.to;
    state_.steps = *steps;
    state_.lease = *lease;
    std::signal(SIGINT, on_interrupt);
    std::signal(SIGTERM, on_interrupt);
    std::cout << fmt::format("switching {} from {} to {} on {} replicas in steps {} (bake {}, lease {}, switch {})\n",
                             o_.chain, from, o_.to, replicas_.size(), o_.steps, o_.bake, o_.lease, state_.switch_id)
              << std::flush;

    auto interval = std::min<Duration>(Duration(500), std::max<Duration>(Duration(50), *bake / 4));
    for (size_t step = 0; step < steps->size(); ++step) {
      if (step) state_.epoch = fleet::next_epoch(state_.epoch, now_unix_ms());
      state_.phase = "shifting";
      state_.step = step;
      state_.percent = (*steps)[step];
      // Every replica moves to the step; at the first step a refusal undoes the ones that moved.
      std::vector<Replica*> moved;
      for (auto& r : replicas_) {
        auto res = push(r);
        if (!res.error.empty()) {
          if (step == 0) {
            auto reason = fmt::format("cannot reach {}: {}", r.name, res.error);
            finish("rolled_back", reason, moved, true);
            return fail(reason);
          }
          if (auto down = unreachable(r, res.error); !down.empty()) return finish("rolled_back", down, {}, false);
          continue;  // a replica that is down now gets the step when it is back (or from its peers)
        }
        r.unreachable_since.reset();
        if (res.status != 200) {
          auto reason = fmt::format("{} refused step {}: {}", r.name, step, field(res.body, "error"));
          if (step == 0) {
            finish("rolled_back", reason, moved, true);
            return fail(fmt::format("refused ({}): {}", res.status, reason));
          }
          return finish("rolled_back", reason, moved, false);
        }
        moved.push_back(&r);
      }
      std::cout << fmt::format("shifting {}% on {} ({} replicas)\n", state_.percent, o_.to, replicas_.size())
                << std::flush;
      auto bake_end = Clock::now() + *bake;
      do {
        std::this_thread::sleep_for(interval);
        if (g_interrupted) return finish("aborted", "the coordinator was interrupted", {}, false);
        if (auto failed = check(); !failed.empty()) return finish("rolled_back", failed, {}, false);
      } while (Clock::now() < bake_end);
    }
    return finish("completed", "", {}, false);
  }

 private:
  Reply push(Replica& r, Duration timeout = Duration(3000)) {
    return call(r.url, token_, "POST", "/admin/rollout/fleet", fleet::to_json(state_), timeout);
  }

  // Notes a failed call to `r`; returns why the switch must roll back once it has been
  // unreachable for longer than --max-unreachable, else "".
  std::string unreachable(Replica& r, const std::string& error) {
    if (!r.unreachable_since) {
      r.unreachable_since = Clock::now();
      std::cout << fmt::format("replica {} unreachable: {}\n", r.name, error) << std::flush;
    }
    auto down = std::chrono::duration_cast<Duration>(Clock::now() - *r.unreachable_since);
    if (down <= max_unreachable_) return "";
    return fmt::format("replica {} unreachable for {}ms (--max-unreachable {})", r.name, down.count(),
                       o_.max_unreachable);
  }

  // One round: find the replicas again, renew the step on each (a new one joins it), gate the fleet.
  // Returns why the switch must roll back, or "".
  std::string check() {
    std::string why;
    if (!o_.fleet.empty()) {
      if (auto found = discover(o_, why)) {
        std::vector<Replica> next;
        for (auto& f : *found) {
          for (auto& r : replicas_) {
            if (r.name == f.name) f.unreachable_since = r.unreachable_since;
          }
          bool known = false;
          for (auto& r : replicas_) known = known || r.name == f.name;
          if (!known) std::cout << fmt::format("replica {} joined\n", f.name) << std::flush;
          next.push_back(std::move(f));
        }
        for (auto& r : replicas_) {
          bool kept = false;
          for (auto& n : next) kept = kept || n.name == r.name;
          if (!kept) std::cout << fmt::format("replica {} left\n", r.name) << std::flush;
        }
        replicas_ = std::move(next);
      }
    }
    std::vector<fleet::GateReport> reports;
    for (auto& r : replicas_) {
      auto res = push(r);
      if (!res.error.empty()) {
        if (auto down = unreachable(r, res.error); !down.empty()) return down;
        continue;
      }
      if (r.unreachable_since) {
        std::cout << fmt::format("replica {} back\n", r.name) << std::flush;
        r.unreachable_since.reset();
      }
      if (res.status != 200) return fmt::format("{}: {}", r.name, field(res.body, "error"));
      reports.push_back(gate_of(r.name, res.body));
    }
    return fleet::fleet_gate(o_.to, reports, limits_);
  }

  // Sends the switch's last transition (completed, rolled_back or aborted) to every replica, or only
  // to `only` when `only_those`; returns the command's exit code.
  int finish(const std::string& phase, const std::string& reason, const std::vector<Replica*>& only, bool only_those) {
    state_.epoch = fleet::next_epoch(state_.epoch, now_unix_ms());
    state_.phase = phase;
    state_.reason = reason;
    std::string why;
    if (!only_those && !o_.fleet.empty()) {
      if (auto found = discover(o_, why)) {
        for (auto& f : *found) {
          bool known = false;
          for (auto& r : replicas_) known = known || r.name == f.name;
          if (!known) replicas_.push_back(std::move(f));
        }
      }
    }
    std::vector<Replica*> targets = only;
    if (!only_those) {
      targets.clear();
      for (auto& r : replicas_) targets.push_back(&r);
    }
    size_t reached = 0;
    for (auto* r : targets) {
      auto res = push(*r);
      if (res.error.empty() && res.status == 200) {
        ++reached;
      } else {
        std::cerr << fmt::format("rollout: {} not told ({}): it converges through its peers or its lease\n", r->name,
                                 res.error.empty() ? field(res.body, "error") : res.error);
      }
    }
    if (phase == "completed") {
      std::cout << fmt::format("completed: {} on {} ({} of {} replicas told)\n", o_.chain, o_.to, reached,
                               targets.size());
      return 0;
    }
    if (only_those) return 1;
    return fail(fmt::format("{}: {} ({} of {} replicas told)", phase, reason, reached, targets.size()));
  }

  const Options& o_;
  std::string token_;
  std::vector<Replica> replicas_;
  fleet::FleetState state_;
  fleet::GateLimits limits_;
  Duration max_unreachable_{30000};
};

int run(const std::string& action, Options o) {
  if (o.gateways.empty() && o.fleet.empty()) o.gateways.push_back("http://127.0.0.1:9100");
  auto token = token_of(o);
  if (token.empty()) return fail("no admin token: pass --token-file or set NODEOPS_ADMIN_TOKEN");
  std::string why;
  auto replicas = discover(o, why);
  if (!replicas) return fail(why);
  if (replicas->empty()) return fail("no gateway replica found (--fleet resolved to no address)");
  if (action == "status") {
    // One line per replica; exit 1 unless every replica answered and they agree.
    std::string first;
    bool ok = true;
    for (auto& r : *replicas) {
      auto s = call(r.url, token, "GET", "/admin/rollout?chain=" + o.chain, "");
      if (!s.error.empty()) {
        std::cerr << fmt::format("rollout: {}: {}\n", r.name, s.error);
        ok = false;
        continue;
      }
      std::cout << (replicas->size() > 1 ? r.name + " " : "") << s.body << "\n";
      auto agreed = field(s.body, "active_pool") + "/" + field(s.body, "phase") + "/" + field(s.body, "percent");
      if (s.status != 200) ok = false;
      if (first.empty()) first = agreed;
      if (agreed != first) {
        std::cerr << fmt::format("rollout: {} disagrees ({} vs {})\n", r.name, agreed, first);
        ok = false;
      }
    }
    return ok ? 0 : 1;
  }
  std::string chain_json = json::quote(o.chain);
  if (action == "abort") {
    // A coordinated switch is aborted on every replica with one later epoch; a replica-driven one
    // through each replica's own abort.
    uint64_t highest = 0;
    std::optional<fleet::FleetState> running;
    for (auto& r : *replicas) {
      auto s = call(r.url, token, "GET", "/admin/rollout?chain=" + o.chain, "");
      if (!s.error.empty() || s.status != 200) continue;
      highest = std::max<uint64_t>(highest, std::strtoull(field(s.body, "epoch").c_str(), nullptr, 10));
      if (field(s.body, "phase") == "shifting" && s.body.find("\"coordinated\":true") != std::string::npos) {
        running = fleet::FleetState{};
        running->chain = o.chain;
        running->switch_id = field(s.body, "switch_id");
        running->from = field(s.body, "from");
        running->to = field(s.body, "to");
      }
    }
    bool ok = true;
    for (auto& r : *replicas) {
      Reply res;
      if (running) {
        running->epoch = fleet::next_epoch(highest, now_unix_ms());
        running->phase = "aborted";
        running->reason = "aborted by an operator";
        res = call(r.url, token, "POST", "/admin/rollout/fleet", fleet::to_json(*running));
      } else {
        res = call(r.url, token, "POST", "/admin/rollout/abort", "{\"chain\":" + chain_json + "}");
      }
      if (!res.error.empty()) {
        std::cerr << fmt::format("rollout: {}: {}\n", r.name, res.error);
        ok = false;
        continue;
      }
      std::cout << (replicas->size() > 1 ? r.name + " " : "") << res.body << "\n";
      ok = ok && res.status == 200;
    }
    return ok ? 0 : 1;
  }
  if (!o.no_wait) return Coordinator(o, token).run();
  // --no-wait: the replica steps and gates on its own (one replica only: nobody would keep a fleet in step).
  if (replicas->size() != 1) return fail("--no-wait drives one replica on its own clock: name exactly one --gateway");
  auto& base = replicas->front().url;
  std::string steps = "[" + o.steps + "]";
  std::string body = fmt::format(R"({{"chain":{},"to":{},"steps":{},"bake":{},"max_error_ratio":{},"max_p99":{}}})",
                                 chain_json, json::quote(o.to), steps, json::quote(o.bake), o.max_error_ratio,
                                 json::quote(o.max_p99));
  auto r = call(base, token, "POST", "/admin/rollout", body);
  if (!r.error.empty()) return fail(r.error);
  if (r.status != 202) return fail(fmt::format("refused ({}): {}", r.status, field(r.body, "error")));
  std::cout << fmt::format("switching {} to {} in steps {} (bake {}), driven by the replica\n", o.chain, o.to,
                           o.steps, o.bake);
  return 0;
}

}  // namespace

void add_rollout_command(CLI::App& app) {
  static Options o;
  auto* cmd = app.add_subcommand("rollout", "blue/green traffic switch with health gates and automatic rollback");
  cmd->require_subcommand(1);
  auto common = [](CLI::App* sub) {
    sub->add_option("--gateway", o.gateways,
                    "a replica's admin URL (repeat for each; default http://127.0.0.1:9100 without --fleet)");
    sub->add_option("--fleet", o.fleet,
                    "name:port resolving to every replica (the headless admin Service), re-resolved at every check");
    sub->add_option("--chain", o.chain, "chain name")->required();
    sub->add_option("--token-file", o.token_file, "file with the admin token (else NODEOPS_ADMIN_TOKEN)");
  };
  auto* sw = cmd->add_subcommand("switch", "move the chain's traffic to another pool on every replica, step by step");
  common(sw);
  sw->add_option("--to", o.to, "target pool")->required();
  sw->add_option("--steps", o.steps, "traffic percentages, ending at 100")->capture_default_str();
  sw->add_option("--bake", o.bake, "how long each step is watched")->capture_default_str();
  sw->add_option("--max-error-ratio", o.max_error_ratio, "roll back above this error ratio (the fleet's)")
      ->capture_default_str();
  sw->add_option("--max-p99", o.max_p99, "roll back above this p99 latency (the fleet's)")->capture_default_str();
  sw->add_option("--lease", o.lease, "a replica rolls back on its own when its step is not renewed for this long")
      ->capture_default_str();
  sw->add_option("--max-unreachable", o.max_unreachable, "roll every replica back when one is unreachable this long")
      ->capture_default_str();
  sw->add_flag("--no-wait", o.no_wait, "let one replica step on its own clock and return once it started");
  sw->callback([] { std::exit(run("switch", o)); });
  auto* st = cmd->add_subcommand("status", "show every replica's rollout state (exit 1 when they disagree)");
  common(st);
  st->callback([] { std::exit(run("status", o)); });
  auto* ab = cmd->add_subcommand("abort", "stop the running switch on every replica and move all traffic back");
  common(ab);
  ab->callback([] { std::exit(run("abort", o)); });
}

}  // namespace nodeops::gateway
