// Block parameters of any shape are read or ignored, never a crash.
#include <cstdint>
#include <string_view>

#include "chains/evm.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view params(reinterpret_cast<const char*>(data), size);
  for (auto m : {"eth_getBlockByNumber", "eth_call", "eth_getLogs", "eth_getStorageAt"}) {
    auto r = nodeops::chains::evm::block_range(m, params);
    if (r.low && r.high && *r.low > *r.high && std::string_view(m) != "eth_getLogs") __builtin_trap();
  }
  return 0;
}
