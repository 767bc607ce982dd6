#include "gateway/recent_writes.h"

namespace nodeops::gateway {

void RecentWrites::record(std::string_view client, std::string_view tx_hash, size_t upstream, Clock::time_point now) {
  std::lock_guard lock(mu_);
  by_tx_[std::string(tx_hash)] = {upstream, now};
  by_client_[std::string(client)] = {upstream, now};
  order_.emplace_back(tx_hash, client);
  trim(now);
}

void RecentWrites::trim(Clock::time_point now) {
  while (!order_.empty()) {
    const auto& [tx, client] = order_.front();
    auto t = by_tx_.find(tx);
    bool old = t == by_tx_.end() || now - t->second.at > kWindow;
    if (!old && order_.size() <= kMaxEntries) break;
    // Only drop what this entry put there: a newer write of the same client or tx stays.
    if (t != by_tx_.end() && (old || order_.size() > kMaxEntries)) by_tx_.erase(t);
    auto c = by_client_.find(client);
    if (c != by_client_.end() && now - c->second.at > kWindow) by_client_.erase(c);
    order_.pop_front();
  }
}

std::optional<size_t> RecentWrites::upstream_of_tx(std::string_view tx_hash, Clock::time_point now) const {
  std::lock_guard lock(mu_);
  auto it = by_tx_.find(std::string(tx_hash));
  if (it == by_tx_.end() || now - it->second.at > kWindow) return std::nullopt;
  return it->second.upstream;
}

std::optional<size_t> RecentWrites::upstream_of_client(std::string_view client, Clock::time_point now) const {
  std::lock_guard lock(mu_);
  auto it = by_client_.find(std::string(client));
  if (it == by_client_.end() || now - it->second.at > kWindow) return std::nullopt;
  return it->second.upstream;
}

}  // namespace nodeops::gateway
