// A broken config is a ConfigError with file:line messages, never a crash or another exception.
#include <cstdint>
#include <string>

#include "core/config_reader.h"
#include "gateway/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    nodeops::gateway::parse_gateway_config(text, "fuzz.yaml");
  } catch (const nodeops::ConfigError& e) {
    if (e.errors.empty()) __builtin_trap();
  }
  return 0;
}
