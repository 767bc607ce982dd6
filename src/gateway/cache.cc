#include "gateway/cache.h"

#include <algorithm>

namespace nodeops::gateway {

CacheValue S3FifoStore::find(std::string_view key, CacheClock::time_point now) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  auto entry = it->second;
  if (entry->expires <= now) {
    erase(entry, false);
    return nullptr;
  }
  if (entry->freq < 3) ++entry->freq;
  return entry->value;
}

bool S3FifoStore::insert(std::string key, CacheValue value, std::optional<CacheClock::time_point> expires) {
  uint64_t bytes = key.size() + value->size() + kEntryOverhead;
  if (bytes > max_bytes_) return false;
  if (auto it = index_.find(key); it != index_.end()) erase(it->second, false);
  size_t h = std::hash<std::string_view>{}(key);
  bool to_main = false;
  if (auto g = ghost_.find(h); g != ghost_.end()) {
    // Evicted from the small queue not long ago and wanted again: it is not a one-time read.
    to_main = true;
    ghost_.erase(g);  // its slot in ghost_order_ is skipped when it comes to the front
  }
  auto& queue = to_main ? main_ : small_;
  queue.push_back(Entry{std::move(key), std::move(value), bytes,
                        expires.value_or(CacheClock::time_point::max()), 0, to_main});
  auto entry = std::prev(queue.end());
  index_.emplace(entry->key, entry);
  bytes_ += bytes;
  if (!to_main) small_bytes_ += bytes;
  if (bytes_ > max_bytes_) make_room(CacheClock::now());
  return true;
}

void S3FifoStore::make_room(CacheClock::time_point now) {
  while (bytes_ > max_bytes_) {
    // Keep the small queue at about a tenth of the bytes; take from main otherwise.
    if (!small_.empty() && (small_bytes_ > max_bytes_ / 10 || main_.empty())) {
      evict_small(now);
    } else {
      evict_main(now);
    }
  }
}

void S3FifoStore::evict_small(CacheClock::time_point now) {
  auto it = small_.begin();
  if (it->expires <= now) {
    erase(it, true);
    return;
  }
  if (it->freq > 0) {
    it->freq = 0;
    it->main = true;
    small_bytes_ -= it->bytes;
    main_.splice(main_.end(), small_, it);
    return;
  }
  remember_ghost(it->key);
  erase(it, true);
}

void S3FifoStore::evict_main(CacheClock::time_point now) {
  auto it = main_.begin();
  if (it->freq > 0 && it->expires > now) {
    --it->freq;
    main_.splice(main_.end(), main_, it);
    return;
  }
  erase(it, true);
}

void S3FifoStore::erase(Queue::iterator it, bool evicted) {
  index_.erase(std::string_view(it->key));
  bytes_ -= it->bytes;
  if (!it->main) small_bytes_ -= it->bytes;
  if (evicted) ++evictions_;
  (it->main ? main_ : small_).erase(it);
}

void S3FifoStore::remember_ghost(const std::string& key) {
  size_t h = std::hash<std::string_view>{}(key);
  uint64_t seq = ++ghost_seq_;
  ghost_order_.emplace_back(h, seq);
  ghost_[h] = seq;
  // As many ghosts as live entries: enough to recognise a key that comes back within one pass.
  size_t limit = std::max<size_t>(index_.size(), 64);
  while (ghost_order_.size() > limit) {
    auto [old, old_seq] = ghost_order_.front();
    ghost_order_.pop_front();
    // Only the newest remembering of a hash owns its map slot.
    if (auto g = ghost_.find(old); g != ghost_.end() && g->second == old_seq) ghost_.erase(g);
  }
}

std::pair<std::shared_ptr<Flights::Flight>, bool> Flights::join(const std::string& key) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = flights_.try_emplace(key);
  if (inserted) it->second = std::make_shared<Flight>();
  return {it->second, inserted};
}

void Flights::finish(const std::string& key, const std::shared_ptr<Flight>& flight, CacheValue result) {
  {
    std::lock_guard lock(mu_);
    auto it = flights_.find(key);
    if (it != flights_.end() && it->second == flight) flights_.erase(it);
  }
  std::vector<std::function<void()>> waiters;
  {
    std::lock_guard lock(flight->mu);
    flight->done = true;
    flight->result = std::move(result);
    waiters.swap(flight->waiters);
  }
  for (auto& wake : waiters) wake();
}

bool Flights::wait(Flight& flight, std::function<void()> wake) {
  std::lock_guard lock(flight.mu);
  if (flight.done) return true;
  flight.waiters.push_back(std::move(wake));
  return false;
}

size_t Flights::waiting(const std::string& key) {
  std::shared_ptr<Flight> flight;
  {
    std::lock_guard lock(mu_);
    auto it = flights_.find(key);
    if (it == flights_.end()) return 0;
    flight = it->second;
  }
  std::lock_guard lock(flight->mu);
  return flight->waiters.size();
}

ResponseCache::ResponseCache(const Options& options) : options_(options) {
  for (size_t i = 0; i < options.shards; ++i) {
    shards_.push_back(std::make_unique<Shard>(options.max_bytes / options.shards));
  }
}

ResponseCache::Shard& ResponseCache::shard_of(std::string_view key) {
  return *shards_[std::hash<std::string_view>{}(key) % shards_.size()];
}

CacheValue ResponseCache::find(std::string_view key, CacheClock::time_point now) {
  auto& s = shard_of(key);
  std::lock_guard lock(s.mu);
  return s.store.find(key, now);
}

bool ResponseCache::insert(std::string key, CacheValue value, std::optional<CacheClock::time_point> expires) {
  if (key.size() + value->size() > options_.max_entry_bytes) return false;
  auto& s = shard_of(key);
  std::lock_guard lock(s.mu);
  return s.store.insert(std::move(key), std::move(value), expires);
}

uint64_t ResponseCache::bytes() const {
  uint64_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mu);
    n += s->store.bytes();
  }
  return n;
}

uint64_t ResponseCache::entries() const {
  uint64_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mu);
    n += s->store.entries();
  }
  return n;
}

uint64_t ResponseCache::evictions() const {
  uint64_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mu);
    n += s->store.evictions();
  }
  return n;
}

}  // namespace nodeops::gateway
