#include "core/url.h"

#include <cctype>
#include <charconv>

namespace nodeops {
namespace {

std::optional<uint16_t> parse_port(std::string_view s) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

// A path segment or query value that looks like an API key: long, letters and digits mixed.
bool looks_like_key(std::string_view s) {
  if (s.size() < 16) return false;
  bool alpha = false, digit = false;
  for (char c : s) {
    if (std::isdigit(static_cast<unsigned char>(c))) digit = true;
    else if (std::isalpha(static_cast<unsigned char>(c))) alpha = true;
  }
  return alpha && digit;
}

constexpr std::string_view kRedacted = "<redacted>";

}  // namespace

std::string_view Url::scheme_name() const {
  switch (scheme) {
    case Scheme::http: return "http";
    case Scheme::https: return "https";
    case Scheme::ws: return "ws";
    case Scheme::wss: return "wss";
  }
  return "http";
}

std::string Url::str() const {
  std::string out(scheme_name());
  out += "://";
  out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  out += ":" + std::to_string(port);
  if (target != "/") out += target;
  return out;
}

std::string Url::shown() const {
  std::string out(scheme_name());
  out += "://";
  out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  out += ":" + std::to_string(port);
  if (target == "/") return out;
  if (secret) {
    out += '/';
    out += kRedacted;
    return out;
  }
  std::string_view rest = target;
  auto q = rest.find('?');
  std::string_view path = rest.substr(0, q);
  size_t start = 0;
  while (start < path.size()) {
    // path starts with '/': each piece is "/segment"
    auto next = path.find('/', start + 1);
    auto segment = path.substr(start + 1, next == std::string_view::npos ? std::string_view::npos : next - start - 1);
    out += '/';
    if (looks_like_key(segment)) out += kRedacted;
    else out += segment;
    if (next == std::string_view::npos) break;
    start = next;
  }
  if (q != std::string_view::npos) {
    // Query values are parameters like ?apikey=...: never shown.
    std::string_view query = rest.substr(q + 1);
    out += '?';
    bool first = true;
    while (!query.empty()) {
      auto amp = query.find('&');
      auto pair = query.substr(0, amp);
      if (!first) out += '&';
      first = false;
      auto eq = pair.find('=');
      out += pair.substr(0, eq);
      if (eq != std::string_view::npos) {
        out += '=';
        out += kRedacted;
      }
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }
  return out;
}

std::optional<Url> parse_url(std::string_view text, std::string* why) {
  auto fail = [&](const char* msg) -> std::optional<Url> {
    if (why) *why = msg;
    return std::nullopt;
  };
  Url url;
  if (text.starts_with("http://")) {
    text.remove_prefix(7);
  } else if (text.starts_with("https://")) {
    url.scheme = Url::Scheme::https;
    url.port = 443;
    text.remove_prefix(8);
  } else if (text.starts_with("ws://")) {
    url.scheme = Url::Scheme::ws;
    text.remove_prefix(5);
  } else if (text.starts_with("wss://")) {
    url.scheme = Url::Scheme::wss;
    url.port = 443;
    text.remove_prefix(6);
  } else {
    return fail("expected a URL like http://host:port or https://host/path");
  }
  auto slash = text.find('/');
  auto query = text.find('?');
  if (query < slash) slash = query;  // "https://host?key=..." has a query and no path
  std::string_view authority = text.substr(0, slash);
  if (slash != std::string_view::npos) {
    url.target = std::string(text.substr(slash));
    if (url.target.front() == '?') url.target.insert(0, "/");
  }
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
