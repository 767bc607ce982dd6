// http://host:port/path URLs of nodes and listen addresses (host:port).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nodeops {

struct Url {
  std::string host;
  uint16_t port = 80;
  std::string target = "/";  // path and query, never empty
  std::string origin() const { return host + ":" + std::to_string(port); }
  std::string str() const { return "http://" + origin() + (target == "/" ? "" : target); }
};

/// Parses "http://host[:port][/path]". Returns nullopt and sets `why` for anything else
/// (https is refused with a hint: terminate TLS in front of the node, e.g. a sidecar).
std::optional<Url> parse_url(std::string_view text, std::string* why = nullptr);

struct HostPort {
  std::string host;
  uint16_t port = 0;
};
/// Parses "host:port", ":port" (all interfaces) or "[v6]:port".
std::optional<HostPort> parse_host_port(std::string_view text);

}  // namespace nodeops
