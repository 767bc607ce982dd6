// Client params of any shape get a cache plan or none, never a crash; and the canonical key is a
// fixed point: canonicalising a key's params again gives the same key (one call, one entry).
#include <cstdint>
#include <string_view>

#include "chains/cache_rules.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nodeops::chains::evm;
  std::string_view params(reinterpret_cast<const char*>(data), size);
  for (auto m : {"eth_getBlockByNumber", "eth_call", "eth_getLogs", "eth_getStorageAt", "eth_getTransactionReceipt"}) {
    auto plan = plan_cache(m, params);
    if (plan.cls == CacheClass::none) continue;
    // The key is method(params...): the params part read as a JSON array is already canonical.
    std::string_view key = plan.key;
    auto inner = "[" + std::string(key.substr(key.find('(') + 1, key.size() - key.find('(') - 2)) + "]";
    auto again = plan_cache(m, inner);
    if (again.cls == CacheClass::none || again.key != plan.key) __builtin_trap();
    classify_answer(plan, params, 10);  // any bytes as a result: judged or refused, never a crash
  }
  canonical_json(params);
  return 0;
}
