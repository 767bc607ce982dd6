// Whatever an upstream sends back is either a usable reply or a named problem, never a crash.
#include <cstdint>
#include <string_view>

#include "core/jsonrpc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto reply = nodeops::jsonrpc::parse_upstream_reply(body, 1);
  if (reply.kind == nodeops::jsonrpc::UpstreamReply::Kind::invalid && reply.problem.empty()) __builtin_trap();
  if (reply.kind != nodeops::jsonrpc::UpstreamReply::Kind::invalid && reply.payload.empty()) __builtin_trap();
  return 0;
}
