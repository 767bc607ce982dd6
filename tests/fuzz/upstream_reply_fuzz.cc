// Whatever an upstream sends back is either a usable reply or a named problem, never a crash.
#include <cstdint>
#include <string_view>

#include "core/jsonrpc.h"
#include "raw_span_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto reply = nodeops::jsonrpc::parse_upstream_reply(body, 1);
  if (reply.kind == nodeops::jsonrpc::UpstreamReply::Kind::invalid && reply.problem.empty()) __builtin_trap();
  if (reply.kind == nodeops::jsonrpc::UpstreamReply::Kind::result) check_raw_span(body, reply.payload, "\"-0123456789{[tfn");
  if (reply.kind == nodeops::jsonrpc::UpstreamReply::Kind::error) check_raw_span(body, reply.payload, "{");
  // The same bytes as the answer to a batch: each element split out is an object within the body.
  auto batch = nodeops::jsonrpc::split_batch_reply(body);
  if (!batch.is_array && batch.problem.empty()) __builtin_trap();
  if (!batch.is_array && !batch.items.empty()) __builtin_trap();
  for (const auto& item : batch.items) check_raw_span(body, item.second, "{");
  return 0;
}
