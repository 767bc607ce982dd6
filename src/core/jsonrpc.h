// JSON-RPC 2.0 codec. Requests are validated once and split into calls whose id, method and params
// are kept as the client's raw bytes; replies are assembled around an upstream's raw `result` or
// `error` bytes, so what a node answered reaches the client byte for byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nodeops::jsonrpc {

enum Code : int {
  kParseError = -32700,
  kInvalidRequest = -32600,
  kMethodNotFound = -32601,
  kInvalidParams = -32602,
  kInternalError = -32603,
  // Gateway errors (server-defined range); docs/gateway.md lists them.
  kNoHealthyUpstream = -32010,
  kUpstreamFailed = -32011,
  kTimeout = -32012,
  kBatchTooLarge = -32013,
  kReplyTooLarge = -32014,
  kLimitExceeded = -32005,  // EIP-1474 "limit exceeded": shed under overload or rate limited, retry later
  kUnauthorized = -32020,   // no API key, or a wrong one (HTTP 401)
  kForbidden = -32021,      // the key may not use this chain or method, or the origin is not allowed (HTTP 403)
  kFilterNotFound = -32000, // geth's code and message for an unknown or expired filter id ("filter not found")
};

/// @brief One call of a request. Views point into the body the request was parsed from.
struct Call {
  std::string_view id;      // raw JSON of the id: "1", "\"abc\"", "null"; empty for a notification
  std::string method;
  std::string_view params;  // raw JSON array or object; empty when absent
  /// Set when this item is not a valid call; the reply is this error with `id` (or null).
  std::optional<std::pair<int, std::string>> invalid;
  bool notification() const { return id.empty(); }
};

struct ParsedRequest {
  bool batch = false;
  std::vector<Call> calls;
  /// Set for a body that is not JSON at all (-32700) or an empty batch (-32600): one error reply.
  std::optional<std::pair<int, std::string>> fatal;
};

/// Parses a request body. The body must outlive the result. A batch of more than `max_calls` calls
/// is refused (fatal kBatchTooLarge) before any of its calls is read.
ParsedRequest parse_request(std::string_view body, size_t max_calls = SIZE_MAX);

/// `{"jsonrpc":"2.0","id":<id>,"error":{"code":..,"message":..}}`; id "null" when empty.
std::string error_reply(std::string_view id, int code, std::string_view message);
/// `{"jsonrpc":"2.0","id":<id>,"result":<result>}` with `result` copied as is.
std::string result_reply(std::string_view id, std::string_view result_raw);
/// `{"jsonrpc":"2.0","id":<id>,"error":<error>}` with `error` copied as is.
std::string error_object_reply(std::string_view id, std::string_view error_raw);
/// Same as result_reply (or error_object_reply when `error`), built in the buffer of `body`, which
/// `payload` points into: a large reply is moved within its own buffer instead of copied.
std::string reply_in_place(std::string&& body, std::string_view payload, std::string_view id, bool error);

/// The request sent upstream for one call: our own numeric id, the client's method and params bytes.
std::string upstream_request(uint64_t id, std::string_view method, std::string_view params);

/// @brief An upstream's reply to upstream_request(), checked.
struct UpstreamReply {
  enum class Kind { result, error, invalid };
  Kind kind = Kind::invalid;
  std::string_view payload;  // raw `result` or `error` bytes (views into the parsed body)
  int error_code = 0;        // for Kind::error
  std::string error_message; // for Kind::error
  std::string problem;       // for Kind::invalid: why it is not a usable JSON-RPC reply
};

/// Validates a single JSON-RPC response whose id must equal `expected_id`.
UpstreamReply parse_upstream_reply(std::string_view body, uint64_t expected_id);

/// @brief An upstream's reply to a batch of upstream_request()s, split into its elements.
struct BatchReply {
  bool is_array = false;  // false: the node did not answer the batch as a batch (`problem` says how)
  std::string problem;
  /// Raw bytes of each element whose `id` is an unsigned integer, with that id, in reply order.
  /// Each is still to be checked with parse_upstream_reply().
  std::vector<std::pair<uint64_t, std::string_view>> items;
};
/// Splits `body` (views into it); never throws on any input.
BatchReply split_batch_reply(std::string_view body);

/// @brief What a message from an upstream's WebSocket is, for matching it to the call it answers.
struct MessageId {
  bool json = false;               // false: not JSON at all (the stream is garbage)
  std::optional<uint64_t> id;      // a reply's unsigned integer id; a batch reply's first such id
};
/// Reads `message` just far enough to say which call it answers; never throws on any input.
MessageId message_id(std::string_view message);
/// An id's raw JSON as an unsigned integer, when it is one ("17"; not "\"17\"", "1.0" or "-1").
std::optional<uint64_t> unsigned_id(std::string_view raw);
/// The id of a reply written the way upstream_request() writes requests, and geth and anvil their
/// replies (`{"jsonrpc":"2.0","id":<digits>,...`), or of the first reply of a batch of them: read
/// off the front without a parse. nullopt for any other text (then use message_id()).
std::optional<uint64_t> leading_reply_id(std::string_view text);
/// The ids of a request made of upstream_request() calls (one, or a batch `[a,b,...]`), in order,
/// appended to `ids`; read with a bounded scan instead of a parse. False for any other text.
bool upstream_request_ids(std::string_view body, std::vector<uint64_t>& ids);

}  // namespace nodeops::jsonrpc
