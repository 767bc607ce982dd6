#include "chains/cache_rules.h"

#include <simdjson.h>

#include <algorithm>
#include <vector>

#include "core/json.h"

namespace nodeops::chains::evm {
namespace {

struct MethodRule {
  std::string_view method;
  CacheClass cls;
  int block_index;  // position of the block parameter, -1 when none
  bool block_in_result;
  bool immutable;
};

// Only reads whose answer is a pure function of (chain, block, params). Writes, filters,
// subscriptions, gas estimates and fee data (they follow the mempool) are absent on purpose.
constexpr MethodRule kRules[] = {
    {"eth_chainId", CacheClass::chain, -1, false, true},
    {"net_version", CacheClass::chain, -1, false, true},
    {"eth_getBlockByNumber", CacheClass::block, 0, false, false},
    {"eth_getBlockByHash", CacheClass::block, -1, true, false},
    {"eth_getBlockReceipts", CacheClass::block, 0, false, false},
    {"eth_getTransactionByHash", CacheClass::transaction, -1, true, false},
    {"eth_getTransactionReceipt", CacheClass::transaction, -1, true, false},
    {"eth_getLogs", CacheClass::logs, -1, false, false},
    {"eth_call", CacheClass::state, 1, false, false},
    {"eth_getBalance", CacheClass::state, 1, false, false},
    {"eth_getCode", CacheClass::state, 1, false, false},
    {"eth_getTransactionCount", CacheClass::state, 1, false, false},
    {"eth_getStorageAt", CacheClass::state, 2, false, false},
};

bool is_hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool is_hex_string(std::string_view s) {
  return s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') &&
         std::all_of(s.begin() + 2, s.end(), is_hex_digit);
}

std::optional<uint64_t> quantity(std::string_view s) {
  if (!is_hex_string(s) || s.size() < 3) return std::nullopt;
  auto digits = s.substr(2);
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
  if (digits.size() > 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : digits) {
    v = v * 16 + static_cast<uint64_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  return v;
}

std::string hex(uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  if (v == 0) return "0x0";
  std::string out;
  while (v) {
    out.push_back(kDigits[v & 15]);
    v >>= 4;
  }
  out += "x0";
  std::reverse(out.begin(), out.end());
  return out;
}

void write_canonical(std::string& out, simdjson::dom::element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::OBJECT: {
      std::vector<std::pair<std::string_view, simdjson::dom::element>> members;
      simdjson::dom::object object;
      if (e.get_object().get(object)) break;
      for (auto field : object) members.emplace_back(field.key, field.value);
      std::sort(members.begin(), members.end(), [](auto& a, auto& b) { return a.first < b.first; });
      out += '{';
      for (size_t i = 0; i < members.size(); ++i) {
        if (i) out += ',';
        json::append_string(out, members[i].first);
        out += ':';
        write_canonical(out, members[i].second);
      }
      out += '}';
      break;
    }
    case simdjson::dom::element_type::ARRAY: {
      simdjson::dom::array array;
      if (e.get_array().get(array)) break;
      out += '[';
      bool first = true;
      for (auto item : array) {
        if (!first) out += ',';
        first = false;
        write_canonical(out, item);
      }
      out += ']';
      break;
    }
    case simdjson::dom::element_type::STRING: {
      std::string_view s;
      if (e.get_string().get(s)) break;
      if (is_hex_string(s)) {
        // Hex quantities and data are case-insensitive: 0xAB and 0xab are the same call.
        std::string lowered(s);
        for (auto& c : lowered) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
        json::append_string(out, lowered);
      } else {
        json::append_string(out, s);
      }
      break;
    }
    default:
      out += simdjson::to_string(e);
      break;
  }
}

// What a block parameter says: a number, the head (a tag or a hash), or nothing cacheable.
struct BlockRef {
  enum Kind { number, head, invalid } kind = invalid;
  uint64_t n = 0;
};

BlockRef read_block_string(std::string_view s) {
  if (s == "earliest") return {BlockRef::number, 0};
  if (s == "latest" || s == "safe" || s == "finalized") return {BlockRef::head};
  if (s.size() == 66 && is_hex_string(s)) return {BlockRef::head};  // a block hash: height unknown here
  if (auto n = quantity(s)) return {BlockRef::number, *n};
  return {};  // "pending", or something the node will refuse
}

BlockRef read_block(simdjson::dom::element e) {
  std::string_view s;
  if (e.is_object()) {
    simdjson::dom::element member;
    if (!e["blockNumber"].get(member) && !member.get_string().get(s)) return read_block_string(s);
    if (!e["blockHash"].get(member) && member.is_string()) return {BlockRef::head};
    return {};
  }
  if (!e.get_string().get(s)) return read_block_string(s);
  return {};
}

}  // namespace

std::optional<std::string> canonical_json(std::string_view raw) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(raw).get(doc)) return std::nullopt;
  std::string out;
  out.reserve(raw.size());
  write_canonical(out, doc);
  return out;
}

namespace {

const MethodRule* rule_for(std::string_view method) {
  for (const auto& r : kRules) {
    if (r.method == method) return &r;
  }
  return nullptr;
}

// The number a block tag stands for, if the gateway knows one.
std::optional<uint64_t> tag_number(simdjson::dom::element e, const TagNumbers& numbers) {
  std::string_view s;
  if (e.get_string().get(s)) return std::nullopt;
  if (s == "latest") return numbers.latest;
  if (s == "finalized") return numbers.finalized;
  return std::nullopt;
}

void append_quantity(std::string& out, uint64_t n) { out.append(1, '"').append(hex(n)).append(1, '"'); }

// An eth_getLogs filter with its fromBlock/toBlock tags (omitted: latest) as numbers; false when
// it keeps every tag it has.
bool resolve_logs_filter(std::string& out, simdjson::dom::object filter, const TagNumbers& numbers) {
  simdjson::dom::element member;
  if (!filter["blockHash"].get(member)) return false;
  std::vector<std::pair<std::string_view, simdjson::dom::element>> members;
  for (auto field : filter) members.emplace_back(field.key, field.value);
  std::optional<uint64_t> from, to;
  if (filter["fromBlock"].get(member)) from = numbers.latest;
  else from = tag_number(member, numbers);
  if (filter["toBlock"].get(member)) to = numbers.latest;
  else to = tag_number(member, numbers);
  if (!from && !to) return false;
  auto is_bound = [](std::string_view k) { return k == "fromBlock" || k == "toBlock"; };
  std::erase_if(members, [&](auto& m) { return is_bound(m.first) && (m.first == "fromBlock" ? from : to); });
  std::sort(members.begin(), members.end(), [](auto& a, auto& b) { return a.first < b.first; });
  // Sorted keys, the resolved bounds in their places ("fromBlock" < "toBlock" among the others).
  out += '{';
  bool first = true;
  auto key = [&](std::string_view k) {
    if (!first) out += ',';
    first = false;
    json::append_string(out, k);
    out += ':';
  };
  auto bound = [&](std::string_view k, const std::optional<uint64_t>& n) {
    if (!n) return;
    key(k);
    append_quantity(out, *n);
  };
  bool from_done = !from, to_done = !to;
  for (auto& [k, v] : members) {
    if (!from_done && k > "fromBlock") bound("fromBlock", from), from_done = true;
    if (!to_done && k > "toBlock") bound("toBlock", to), to_done = true;
    key(k);
    write_canonical(out, v);
  }
  if (!from_done) bound("fromBlock", from);
  if (!to_done) bound("toBlock", to);
  out += '}';
  return true;
}

}  // namespace

std::optional<std::string> resolve_block_tags(std::string_view method, std::string_view params,
                                              const TagNumbers& numbers) {
  const MethodRule* rule = rule_for(method);
  bool logs = method == "eth_getLogs";
  if (!rule || (rule->block_index < 0 && !logs) || (!numbers.latest && !numbers.finalized)) return std::nullopt;
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array arr;
  if (params.empty()) params = "[]";
  if (parser.parse(params).get(doc) || doc.get_array().get(arr)) return std::nullopt;
  std::string out;
  out.reserve(params.size() + 16);
  out += '[';
  bool resolved = false;
  size_t i = 0;
  for (auto item : arr) {
    if (i) out += ',';
    simdjson::dom::object filter;
    std::optional<uint64_t> n;
    if (logs && i == 0 && !item.get_object().get(filter) && resolve_logs_filter(out, filter, numbers)) {
      resolved = true;
    } else if (static_cast<int>(i) == rule->block_index && (n = tag_number(item, numbers))) {
      append_quantity(out, *n);
      resolved = true;
    } else {
      write_canonical(out, item);
    }
    ++i;
  }
  // The block parameter left out means latest (only the last one may be; fewer params are the
  // node's to refuse).
  if (!logs && static_cast<int>(arr.size()) == rule->block_index && numbers.latest) {
    if (i) out += ',';
    append_quantity(out, *numbers.latest);
    resolved = true;
  }
  out += ']';
  if (!resolved) return std::nullopt;
  return out;
}

CachePlan plan_cache(std::string_view method, std::string_view params) {
  CachePlan plan;
  const MethodRule* rule = rule_for(method);
  if (!rule) return plan;
  plan.key.reserve(method.size() + params.size() + 2);
  plan.key.append(method);
  plan.key += '(';
  if (!params.empty()) {
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(params).get(doc)) return plan;
    simdjson::dom::array arr;
    if (doc.get_array().get(arr)) return plan;  // by-name params: no EVM node takes them
    size_t i = 0;
    for (auto item : arr) {
      if (i) plan.key += ',';
      if (static_cast<int>(i) == rule->block_index) {
        auto ref = read_block(item);
        if (ref.kind == BlockRef::invalid) return plan;
        if (ref.kind == BlockRef::head) {
          plan.at_head = true;
          write_canonical(plan.key, item);
        } else {
          plan.block = ref.n;
          if (item.is_string()) {
            plan.key += '"' + hex(ref.n) + '"';  // "0x0A", "0xa" and "earliest"/"0x0" are one entry
          } else {
            write_canonical(plan.key, item);
          }
        }
      } else {
        write_canonical(plan.key, item);
      }
      ++i;
    }
    if (rule->block_index >= 0 && static_cast<int>(arr.size()) <= rule->block_index) plan.at_head = true;
    if (method == "eth_getLogs") {
      simdjson::dom::object filter;
      if (arr.at(0).get_object().get(filter)) return plan;
      simdjson::dom::element member;
      if (!filter["blockHash"].get(member)) {
        plan.at_head = true;
      } else {
        if (!filter["fromBlock"].get(member) && read_block(member).kind == BlockRef::invalid) return plan;
        if (filter["toBlock"].get(member)) {
          plan.at_head = true;  // the range ends at latest
        } else {
          auto to = read_block(member);
          if (to.kind == BlockRef::invalid) return plan;
          if (to.kind == BlockRef::head) plan.at_head = true;
          else plan.block = to.n;
        }
      }
    }
  } else if (rule->block_index >= 0 || method == "eth_getLogs") {
    plan.at_head = true;
  }
  plan.key += ')';
  plan.block_in_result = rule->block_in_result;
  plan.immutable = rule->immutable;
  plan.cls = rule->cls;
  return plan;
}

Finality classify_answer(const CachePlan& plan, std::string_view result_raw, std::optional<uint64_t> finalized) {
  if (plan.cls == CacheClass::none || result_raw.empty() || result_raw == "null") return Finality::uncacheable;
  if (plan.immutable) return Finality::final;
  if (plan.at_head) return Finality::unfinal;
  std::optional<uint64_t> block = plan.block;
  if (plan.block_in_result) {
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element doc, member;
    if (parser.parse(result_raw).get(doc) || !doc.is_object()) return Finality::uncacheable;
    std::string_view s;
    if (!doc["blockNumber"].get(member) || !doc["number"].get(member)) {
      if (!member.get_string().get(s)) block = quantity(s);
    }
    // A transaction still pending has no block: its answer changes once it is mined.
    if (!block) return Finality::uncacheable;
  }
  if (block && finalized && *block <= *finalized) return Finality::final;
  return Finality::unfinal;
}

}  // namespace nodeops::chains::evm

namespace nodeops::chains::solana {

evm::CachePlan plan_cache(std::string_view method, std::string_view params) {
  evm::CachePlan plan;
  evm::CacheClass cls = method == "getBlock"         ? evm::CacheClass::block
                        : method == "getTransaction" ? evm::CacheClass::transaction
                                                     : evm::CacheClass::none;
  if (cls == evm::CacheClass::none || params.empty()) return plan;
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc, config, member;
  simdjson::dom::array arr;
  if (parser.parse(params).get(doc) || doc.get_array().get(arr) || arr.size() == 0) return plan;
  // The second param is the config object; its commitment defaults to finalized. `processed` and
  // `confirmed` answers may still be rolled back: not kept.
  if (!arr.at(1).get(config)) {
    if (!config.is_object()) return plan;
    std::string_view commitment;
    if (!config["commitment"].get(member) && (member.get_string().get(commitment) || commitment != "finalized")) {
      return plan;
    }
  }
  auto canonical = evm::canonical_json(params);
  if (!canonical) return plan;
  plan.key.reserve(method.size() + canonical->size());
  plan.key.append(method).append(*canonical);
  plan.immutable = true;
  plan.cls = cls;
  return plan;
}

}  // namespace nodeops::chains::solana
