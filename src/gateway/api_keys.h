// Client API keys: the keys file, its immutable snapshots, and the watcher that reloads it.
//
// The file holds SHA-256 hashes of keys, never keys (it comes from a Kubernetes Secret, but a hash
// leaked in a log or a backup still opens nothing):
//
//   keys:
//     - name: dapp-prod                # the `key` label of the metrics; lowercase, digits, - and _
//       sha256: 9f86d08188...           # sha256 of the key as the client sends it (64 hex digits)
//       chains: [ethereum]              # default: every chain
//       methods: [eth_call, eth_get]   # exact names or prefixes ending in "_"; default: every method the chain allows
//       rps: 50                         # the key's token bucket; 0 (default): no per-key limit
//       burst: 100                      # default: one second's worth
//
// Threads: traffic loops read the current KeySet through KeyStore::current() without a lock; the
// admin loop loads new ones and publishes them whole. A broken file never replaces a good set.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/units.h"
#include "gateway/rate_limit.h"

namespace nodeops::gateway {

using KeyHash = std::array<uint8_t, 32>;

/// SHA-256 of `text` (OpenSSL's libcrypto).
KeyHash sha256(std::string_view text);

struct ClientSeries;  // gateway/client_gate.h: the key's metric series

/// @brief One client key as the keys file describes it, with its live parts (bucket, series).
struct ApiKey {
  std::string name;
  KeyHash hash{};
  std::vector<std::string> chains;   // empty: every chain
  std::vector<std::string> methods;  // empty: every method the chain allows
  BucketRate rate;
  /// The key's token bucket (null: no per-key limit); kept across reloads while the name stays.
  std::shared_ptr<TokenBucket> bucket;
  const ClientSeries* series = nullptr;

  bool allows_chain(std::string_view chain) const;
  bool allows_method(std::string_view method) const;
};

/// @brief One version of the keys file. Immutable once published.
class KeySet {
 public:
  /// The key whose hash is sha256(`presented`), or null. Hashes are compared in constant time.
  const ApiKey* find(std::string_view presented) const;
  const std::vector<ApiKey>& keys() const { return keys_; }
  std::vector<ApiKey>& mutable_keys() { return keys_; }  // before publishing only
  void index();                                          // after the keys are final

 private:
  struct Hash {
    size_t operator()(const KeyHash& h) const;
  };
  struct Equal {
    bool operator()(const KeyHash& a, const KeyHash& b) const;
  };
  std::vector<ApiKey> keys_;
  std::unordered_map<KeyHash, size_t, Hash, Equal> by_hash_;
};

/// Parses a keys file's text; throws ConfigError with every problem as file:line: key: message.
KeySet parse_key_file(const std::string& text, const std::string& file_name);
/// Reads and parses the file at `path` (same errors; a missing file is one).
KeySet load_key_file(const std::string& path);

/// @brief The current KeySet of a keys file, reloaded when the file changes.
/// Lifecycle: the constructor loads the file (throws ConfigError when it is broken: the gateway
/// does not start on a broken keys file); watch() polls it from `io` (the admin loop) every
/// `interval` — by inode, size and mtime, so a Kubernetes Secret's symlink swap counts — and
/// publishes a new set when it parses, or logs each error and keeps the old one.
class KeyStore {
 public:
  /// Called on the new set before it is published (attach buckets and metric series), and after
  /// each reload with whether it worked.
  struct Hooks {
    std::function<void(KeySet& next, const KeySet* previous)> prepare;
    std::function<void(bool ok)> reloaded;
  };
  KeyStore(std::string path, Hooks hooks);
  void watch(boost::asio::io_context& io, Duration interval);
  std::shared_ptr<const KeySet> current() const { return current_.load(std::memory_order_acquire); }
  /// Checks the file now; true when a new set was published. (The watcher calls this.)
  bool check();

 private:
  struct Stamp {
    uint64_t dev = 0, ino = 0, size = 0;
    int64_t mtime_ns = 0;
    bool exists = false;
    bool operator==(const Stamp&) const = default;
  };
  Stamp stamp() const;

  std::string path_;
  Hooks hooks_;
  Stamp seen_;
  std::atomic<std::shared_ptr<const KeySet>> current_;
};

}  // namespace nodeops::gateway
