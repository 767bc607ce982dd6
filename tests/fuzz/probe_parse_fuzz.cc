// Whatever a node answers to a health probe, its adapter returns a NodeStatus, never crashes, and
// says why when it learned nothing. Built once per adapter (NODEOPS_ADAPTER: evm, beacon, heimdall,
// solana, and solana_gossip: the slow getIdentity + getClusterNodes probe). Input: the replies to the probe's calls, separated by NUL bytes; the first byte of each
// reply picks its HTTP status (200, 500, or a transport error) so every branch is reachable.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chains/adapter.h"
#include "chains/solana.h"

namespace {
std::unique_ptr<nodeops::chains::Adapter> make_target_adapter() {
  if (std::string_view(NODEOPS_ADAPTER) == "solana_gossip") {
    return nodeops::chains::make_solana_gossip_adapter("http://127.0.0.1:1");
  }
  return nodeops::chains::make_adapter(NODEOPS_ADAPTER, "http://127.0.0.1:1", "http://127.0.0.1:2");
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto adapter = make_target_adapter();
  static const size_t calls = adapter->probe_calls().size();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<nodeops::chains::HttpReply> replies(calls);
  for (size_t i = 0; i < calls; ++i) {
    auto end = in.find('\0');
    std::string_view part = in.substr(0, end);
    in = end == std::string_view::npos ? std::string_view{} : in.substr(end + 1);
    auto& r = replies[i];
    char kind = part.empty() ? '2' : part.front();
    if (kind == '2' || kind == '5') part.remove_prefix(part.empty() ? 0 : 1);
    r.ok = kind != 'x';
    r.status = kind == '5' ? 500 : 200;
    r.body = std::string(part);
    if (!r.ok) r.error = "connect: refused";
  }
  auto status = adapter->parse_probe(replies);
  if (!status.reachable && status.error.empty()) __builtin_trap();
  if (status.client_version.size() > 64) __builtin_trap();
  for (char c : status.client_version) {
    if (c < 0x20 || c > 0x7e) __builtin_trap();
  }
  return 0;
}
