// Any body a client sends must parse into calls or a JSON-RPC error, never crash.
#include <cstdint>
#include <string_view>

#include "core/jsonrpc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto parsed = nodeops::jsonrpc::parse_request(body);
  for (const auto& call : parsed.calls) {
    // Views must stay inside the body.
    if (!call.params.empty() && (call.params.data() < body.data() || call.params.data() + call.params.size() > body.data() + body.size())) __builtin_trap();
    if (!call.id.empty() && call.id != "null" && (call.id.data() < body.data() || call.id.data() + call.id.size() > body.data() + body.size())) __builtin_trap();
    (void)nodeops::jsonrpc::upstream_request(1, call.method, call.params);
  }
  return 0;
}
