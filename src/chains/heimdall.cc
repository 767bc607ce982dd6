#include "chains/heimdall.h"

#include <charconv>
#include <ctime>
#include <string>

#include <simdjson.h>

#include "chains/evm_syncing.h"
#include "chains/probe_text.h"

namespace nodeops::chains {
namespace {

constexpr std::string_view kStatus = "/status";
constexpr std::string_view kNetInfo = "/net_info";
constexpr std::string_view kCheckpoints = "/checkpoints/count";
constexpr std::string_view kMilestones = "/milestones/count";
constexpr std::string_view kSpan = "/bor/spans/latest";

std::optional<simdjson::dom::object> read_object(simdjson::dom::parser& parser,
                                                 const HttpReply* r, std::string_view path,
                                                 ErrorLine& errors) {
  if (r == nullptr || !r->ok) {
    errors.add(path, r == nullptr || r->error.empty() ? "no reply" : r->error);
    return std::nullopt;
  }
  if (r->status < 200 || r->status > 299) {
    errors.add(path, "HTTP " + std::to_string(r->status));
    return std::nullopt;
  }
  simdjson::dom::object obj;
  if (parser.parse(r->body.data(), r->body.size()).get(obj) != simdjson::SUCCESS) {
    errors.add(path, "not a JSON object");
    return std::nullopt;
  }
  return obj;
}

std::optional<uint64_t> quantity_at(simdjson::dom::object obj, std::string_view key) {
  simdjson::dom::element v;
  if (obj[key].get(v) != simdjson::SUCCESS) return std::nullopt;
  return read_quantity(v);
}

bool digits(std::string_view s, int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

class HeimdallAdapter final : public Adapter {
 public:
  HeimdallAdapter(std::string rpc, std::string rest) : rpc_(std::move(rpc)), rest_(std::move(rest)) {}

  std::vector<HttpCall> probe_calls() const override {
    std::vector<HttpCall> calls{{"GET", rpc_ + std::string(kStatus), ""}};
    if (!rest_.empty()) {
      for (std::string_view p : {kCheckpoints, kMilestones, kSpan}) {
        calls.push_back({"GET", rest_ + std::string(p), ""});
      }
    }
    calls.push_back({"GET", rpc_ + std::string(kNetInfo), ""});  // last: the REST replies keep their indexes
    return calls;
  }

  NodeStatus parse_probe(std::span<const HttpReply> replies) const override {
    NodeStatus st;
    HeimdallStatus h;
    ErrorLine errors;
    simdjson::dom::parser parser;
    auto reply = [&](size_t i) { return i < replies.size() ? &replies[i] : nullptr; };

    if (auto doc = read_object(parser, reply(0), kStatus, errors)) {
      // CometBFT wraps /status in a JSON-RPC envelope; some proxies strip it.
      simdjson::dom::object result;
      if ((*doc)["result"].get(result) != simdjson::SUCCESS) result = *doc;
      simdjson::dom::object sync;
      if (result["sync_info"].get(sync) == simdjson::SUCCESS) {
        st.reachable = true;
        bool catching_up = false;
        if (sync["catching_up"].get(catching_up) == simdjson::SUCCESS) {
          h.catching_up = catching_up;
        } else {
          errors.add(kStatus, "no catching_up");
        }
        h.latest_block_height = quantity_at(sync, "latest_block_height");
        std::string_view time;
        if (sync["latest_block_time"].get(time) == simdjson::SUCCESS) {
          h.latest_block_time = parse_rfc3339_seconds(time);
        }
        std::string_view version;
        if (result["node_info"]["version"].get(version) == simdjson::SUCCESS) {
          st.client_version = printable(version);
        }
      } else {
        errors.add(kStatus, "no sync_info");
      }
    }
    if (!rest_.empty()) {
      if (auto doc = read_object(parser, reply(1), kCheckpoints, errors)) {
        h.checkpoint_count = quantity_at(*doc, "ack_count");
        if (!h.checkpoint_count) errors.add(kCheckpoints, "no ack_count");
      }
      if (auto doc = read_object(parser, reply(2), kMilestones, errors)) {
        h.milestone_count = quantity_at(*doc, "count");
        if (!h.milestone_count) errors.add(kMilestones, "no count");
      }
      if (auto doc = read_object(parser, reply(3), kSpan, errors)) {
        simdjson::dom::object span;
        if ((*doc)["span"].get(span) == simdjson::SUCCESS) h.span_id = quantity_at(span, "id");
        if (!h.span_id) errors.add(kSpan, "no span.id");
      }
    }

    if (auto doc = read_object(parser, reply(rest_.empty() ? 1 : 4), kNetInfo, errors)) {
      simdjson::dom::object result;
      if ((*doc)["result"].get(result) != simdjson::SUCCESS) result = *doc;
      st.peers = quantity_at(result, "n_peers");
      if (!st.peers) errors.add(kNetInfo, "no n_peers");
    }

    if (st.reachable) {
      st.head = h.latest_block_height;
      st.head_timestamp = h.latest_block_time;
      st.syncing = h.catching_up;
      st.heimdall = h;
    }
    st.error = errors.str();
    return st;
  }

 private:
  std::string rpc_;
  std::string rest_;
};

}  // namespace

std::optional<uint64_t> parse_rfc3339_seconds(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+00:00)
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't') ||
      t[13] != ':' || t[16] != ':') {
    return std::nullopt;
  }
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(t.substr(0, 4), year) || !digits(t.substr(5, 2), month) ||
      !digits(t.substr(8, 2), day) || !digits(t.substr(11, 2), hour) ||
      !digits(t.substr(14, 2), minute) || !digits(t.substr(17, 2), second)) {
    return std::nullopt;
  }
  std::string_view rest = t.substr(19);
  if (!rest.empty() && rest[0] == '.') {
    size_t i = 1;
    while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') ++i;
    if (i == 1) return std::nullopt;
    rest.remove_prefix(i);
  }
  if (rest != "Z" && rest != "z" && rest != "+00:00") return std::nullopt;
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  time_t secs = timegm(&tm);
  if (secs < 0) return std::nullopt;
  return static_cast<uint64_t>(secs);
}

std::unique_ptr<Adapter> make_heimdall_adapter(std::string_view rpc_url, std::string_view rest_url) {
  return std::make_unique<HeimdallAdapter>(trim_slash(rpc_url), trim_slash(rest_url));
}

}  // namespace nodeops::chains
