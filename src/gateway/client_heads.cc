#include "gateway/client_heads.h"

#include <functional>

namespace nodeops::gateway {

ClientHeads::Shard& ClientHeads::shard(std::string_view client) const {
  return shards_[std::hash<std::string_view>{}(client) % shards_.size()];
}

std::optional<uint64_t> ClientHeads::get(std::string_view client, Clock::time_point now) const {
  auto& s = shard(client);
  std::lock_guard lock(s.mu);
  auto it = s.clients.find(std::string(client));
  if (it == s.clients.end() || now - it->second.at > kIdle) return std::nullopt;
  return it->second.block;
}

void ClientHeads::saw(std::string_view client, uint64_t block, Clock::time_point now) {
  auto& s = shard(client);
  std::lock_guard lock(s.mu);
  if (s.clients.size() >= kMaxClients / shards_.size()) {
    // Full: forget the idle ones first; if none is idle, this client is not tracked.
    std::erase_if(s.clients, [&](const auto& kv) { return now - kv.second.at > kIdle; });
    if (s.clients.size() >= kMaxClients / shards_.size() && !s.clients.contains(std::string(client))) return;
  }
  auto& e = s.clients[std::string(client)];
  e.block = std::max(e.block, block);
  e.at = now;
}

}  // namespace nodeops::gateway
