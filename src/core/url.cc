#include "core/url.h"

#include <charconv>

namespace nodeops {
namespace {

std::optional<uint16_t> parse_port(std::string_view s) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

}  // namespace

std::optional<Url> parse_url(std::string_view text, std::string* why) {
  auto fail = [&](const char* msg) -> std::optional<Url> {
    if (why) *why = msg;
    return std::nullopt;
  };
  if (text.starts_with("https://")) {
    return fail("https is not supported yet: point at the node's plain http port (TLS ends at the ALB)");
  }
  if (!text.starts_with("http://")) return fail("expected a URL like http://host:port");
  text.remove_prefix(7);
  auto slash = text.find('/');
  std::string_view authority = text.substr(0, slash);
  Url url;
  if (slash != std::string_view::npos) url.target = std::string(text.substr(slash));
  for (char c : url.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return fail("the path has spaces or control characters");
  }
  if (authority.empty()) return fail("the URL has no host");
  if (authority.find('@') != std::string_view::npos) return fail("credentials in URLs are not supported");
  std::string_view host = authority;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return fail("unterminated IPv6 address");
    host = authority.substr(1, close - 1);
    auto rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fail("bad port");
      auto port = parse_port(rest.substr(1));
      if (!port) return fail("bad port");
      url.port = *port;
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    auto port = parse_port(authority.substr(colon + 1));
    if (!port) return fail("bad port");
    url.port = *port;
  }
  if (host.empty()) return fail("the URL has no host");
  for (char c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || c == ':')) {
      return fail("the host has invalid characters");
    }
  }
  url.host = std::string(host);
  return url;
}

std::optional<HostPort> parse_host_port(std::string_view text) {
  HostPort hp;
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto p = parse_port(port);
  if (!p) return std::nullopt;
  hp.host = host.empty() ? "0.0.0.0" : std::string(host);
  hp.port = *p;
  return hp;
}

}  // namespace nodeops
