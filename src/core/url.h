// http(s)://host:port/path URLs of nodes and providers, and listen addresses (host:port).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nodeops {

struct Url {
  /// ws and wss: JSON-RPC over a WebSocket (core/ws_client.h); what may use them decides.
  enum class Scheme { http, https, ws, wss };
  Scheme scheme = Scheme::http;
  std::string host;
  uint16_t port = 80;
  std::string target = "/";  // path and query, never empty
  /// The path and query are a credential (a provider's key in the URL, read from a url_file):
  /// shown() never prints them.
  bool secret = false;

  bool tls() const { return scheme == Scheme::https || scheme == Scheme::wss; }
  bool websocket() const { return scheme == Scheme::ws || scheme == Scheme::wss; }
  std::string_view scheme_name() const;
  std::string origin() const { return host + ":" + std::to_string(port); }
  /// The whole URL, credentials included: for requests only, never for logs or pages.
  std::string str() const;
  /// The URL as logs, /status and error messages show it: scheme, host and port, and a path with
  /// its secrets redacted: the whole path and query of a secret URL; otherwise every query value
  /// and every path segment that looks like a key (16+ characters mixing letters and digits).
  std::string shown() const;

  bool operator==(const Url&) const = default;
};

/// Parses "http[s]://host[:port][/path]" (and ws/wss). Returns nullopt and sets `why` for anything
/// else. `why` never repeats the text: the URL may hold a credential.
std::optional<Url> parse_url(std::string_view text, std::string* why = nullptr);

struct HostPort {
  std::string host;
  uint16_t port = 0;

  bool operator==(const HostPort&) const = default;
};
/// Parses "host:port", ":port" (all interfaces) or "[v6]:port".
std::optional<HostPort> parse_host_port(std::string_view text);

}  // namespace nodeops
