// Any body a client sends must parse into calls or a JSON-RPC error, never crash.
#include <cstdint>
#include <string_view>

#include "core/jsonrpc.h"
#include "raw_span_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto parsed = nodeops::jsonrpc::parse_request(body);
  for (const auto& call : parsed.calls) {
    // Views stay inside the body and are whole values of the right kind.
    if (!call.params.empty()) check_raw_span(body, call.params, "[{");
    if (!call.invalid && !call.id.empty()) check_raw_span(body, call.id, "\"-0123456789n");
    (void)nodeops::jsonrpc::upstream_request(1, call.method, call.params);
  }
  return 0;
}
