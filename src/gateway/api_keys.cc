#include "gateway/api_keys.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>
#include <memory>
#include <set>

#include "core/concurrent.h"
#include "core/config_reader.h"
#include "core/log.h"

namespace nodeops::gateway {
namespace {

bool valid_key_name(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  }
  return true;
}

std::optional<KeyHash> parse_hash(const std::string& hex) {
  if (hex.size() != 64) return std::nullopt;
  KeyHash h{};
  for (size_t i = 0; i < 32; ++i) {
    auto digit = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = digit(hex[2 * i]), lo = digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    h[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return h;
}

bool matches(const std::string& rule, std::string_view method) {
  if (!rule.empty() && rule.back() == '_') return method.starts_with(rule);
  return method == rule;
}

KeySet read_keys(ConfigReader& reader, std::optional<ConfigMap> root) {
  if (!root) throw ConfigError(reader.errors());
  KeySet set;
  std::set<std::string> names;
  std::set<KeyHash> hashes;
  for (auto& k : root->list("keys")) {
    ApiKey key;
    if (auto name = k.required_string("name")) {
      key.name = *name;
      if (!valid_key_name(key.name)) {
        k.error("name", "use lowercase letters, digits, '-' and '_' (it is a metric label)");
      } else if (key.name == "anonymous") {
        k.error("name", "'anonymous' is the label of requests without a key; choose another name");
      } else if (!names.insert(key.name).second) {
        k.error("name", fmt::format("duplicate key name '{}'", key.name));
      }
    }
    if (auto hex = k.required_string("sha256")) {
      if (auto h = parse_hash(*hex)) {
        key.hash = *h;
        if (!hashes.insert(*h).second) k.error("sha256", "the same key hash is listed twice");
      } else {
        k.error("sha256",
                "expected the 64 hex digits of the key's SHA-256 (printf %s \"$KEY\" | sha256sum), "
                "not the key itself");
      }
    }
    key.chains = k.strings("chains");
    key.methods = k.strings("methods");
    key.rate.rps = k.number("rps", 0, 0, 1e9);
    key.rate.burst = k.number("burst", 0, 0, 1e9);
    if (key.rate.burst > 0 && key.rate.rps == 0) k.error("burst", "needs rps");
    k.finish();
    set.mutable_keys().push_back(std::move(key));
  }
  root->finish();
  if (!reader.ok()) throw ConfigError(reader.errors());
  return set;
}

}  // namespace

KeyHash sha256(std::string_view text) {
  // Every request with a key hashes it. EVP_Digest(..., EVP_sha256()) looks the algorithm up in
  // OpenSSL 3's provider tables and allocates a context each time, which was most of the key
  // check's cost (callgrind, bench/RESULTS.md): one fetched algorithm, one context per thread.
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  KeyHash out{};
  unsigned len = 0;
  if (!md || !ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), text.data(), text.size()) != 1 || EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1) {
    EVP_Digest(text.data(), text.size(), out.data(), &len, EVP_sha256(), nullptr);  // the slow path still hashes
  }
  return out;
}

bool ApiKey::allows_chain(std::string_view chain) const {
  if (chains.empty()) return true;
  for (const auto& c : chains) {
    if (c == chain) return true;
  }
  return false;
}

bool ApiKey::allows_method(std::string_view method) const {
  if (methods.empty()) return true;
  for (const auto& m : methods) {
    if (matches(m, method)) return true;
  }
  return false;
}

size_t KeySet::Hash::operator()(const KeyHash& h) const {
  size_t v;
  std::memcpy(&v, h.data(), sizeof v);  // a SHA-256 is as good a hash as any
  return v;
}

bool KeySet::Equal::operator()(const KeyHash& a, const KeyHash& b) const {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void KeySet::index() {
  by_hash_.clear();
  for (size_t i = 0; i < keys_.size(); ++i) by_hash_.emplace(keys_[i].hash, i);
}

const ApiKey* KeySet::find(std::string_view presented) const {
  if (presented.empty() || by_hash_.empty()) return nullptr;
  // The lookup is by the hash of what the client sent: its timing says something about that hash,
  // which the client knows already, and nothing about a stored key.
  auto it = by_hash_.find(sha256(presented));
  return it == by_hash_.end() ? nullptr : &keys_[it->second];
}

KeySet parse_key_file(const std::string& text, const std::string& file_name) {
  ConfigReader reader(file_name);
  auto root = reader.load_text(text);
  auto set = read_keys(reader, std::move(root));
  set.index();
  return set;
}

KeySet load_key_file(const std::string& path) {
  ConfigReader reader(path);
  auto root = reader.load();
  auto set = read_keys(reader, std::move(root));
  set.index();
  return set;
}

KeyStore::KeyStore(std::string path, Hooks hooks) : path_(std::move(path)), hooks_(std::move(hooks)) {
  seen_ = stamp();
  auto set = std::make_shared<KeySet>(load_key_file(path_));
  if (hooks_.prepare) hooks_.prepare(*set, nullptr);
  current_.store(std::move(set), std::memory_order_release);
}

KeyStore::Stamp KeyStore::stamp() const {
  struct stat st;
  if (::stat(path_.c_str(), &st) != 0) return {};
  return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino), static_cast<uint64_t>(st.st_size),
          static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec, true};
}

bool KeyStore::check() {
  auto now = stamp();
  if (now == seen_) return false;
  seen_ = now;
  try {
    auto set = std::make_shared<KeySet>(load_key_file(path_));
    auto previous = current();
    if (hooks_.prepare) hooks_.prepare(*set, previous.get());
    size_t n = set->keys().size();
    current_.store(std::move(set), std::memory_order_release);
    log::info("keys file reloaded", {{"file", path_}, {"keys", n}});
    if (hooks_.reloaded) hooks_.reloaded(true);
    return true;
  } catch (const ConfigError& e) {
    for (const auto& line : e.errors) {
      log::error("keys file rejected; the previous keys stay in use", {{"file", path_}, {"error", line}});
    }
    if (hooks_.reloaded) hooks_.reloaded(false);
    return false;
  }
}

void KeyStore::watch(boost::asio::io_context& io, Duration interval) {
  every(io, interval, [this] { check(); }, "keys file watch");
}

}  // namespace nodeops::gateway
