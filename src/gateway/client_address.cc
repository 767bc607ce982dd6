#include "gateway/client_address.h"

#include <arpa/inet.h>

#include <cstring>

namespace nodeops::gateway {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<IpAddress> parse_exact(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  char buf[64];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = 0;
  IpAddress ip;
  in_addr a4;
  if (inet_pton(AF_INET, buf, &a4) == 1) {
    ip.v4 = true;
    ip.bytes[10] = ip.bytes[11] = 0xff;
    std::memcpy(ip.bytes.data() + 12, &a4, 4);
    return ip;
  }
  in6_addr a6;
  if (inet_pton(AF_INET6, buf, &a6) == 1) {
    std::memcpy(ip.bytes.data(), &a6, 16);
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    ip.v4 = std::memcmp(ip.bytes.data(), kMapped, 12) == 0;
    return ip;
  }
  return std::nullopt;
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  text = trim(text);
  if (auto ip = parse_exact(text)) return ip;
  if (text.starts_with('[')) {  // "[v6]:port" or "[v6]"
    auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    auto rest = text.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || rest.size() < 2)) return std::nullopt;
    auto ip = parse_exact(text.substr(1, close - 1));
    if (ip && ip->v4) return std::nullopt;
    return ip;
  }
  auto colon = text.find(':');
  if (colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos) {  // "v4:port"
    auto port = text.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) {
      return std::nullopt;
    }
    auto ip = parse_exact(text.substr(0, colon));
    if (ip && ip->v4) return ip;
  }
  return std::nullopt;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  if (v4) return inet_ntop(AF_INET, bytes.data() + 12, buf, sizeof buf);
  return inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
}

std::optional<Cidr> Cidr::parse(std::string_view text, std::string* why) {
  auto fail = [&](std::string message) -> std::optional<Cidr> {
    if (why) *why = std::move(message);
    return std::nullopt;
  };
  auto slash = text.find('/');
  auto ip = parse_exact(trim(text.substr(0, slash)));
  if (!ip) return fail("not an IPv4 or IPv6 address");
  unsigned max = ip->v4 ? 32 : 128;
  unsigned prefix = max;
  if (slash != std::string_view::npos) {
    auto bits = text.substr(slash + 1);
    if (bits.empty() || bits.size() > 3 || bits.find_first_not_of("0123456789") != std::string_view::npos) {
      return fail("the prefix length after '/' must be a number");
    }
    prefix = static_cast<unsigned>(std::stoul(std::string(bits)));
    if (prefix > max) return fail("the prefix length is at most " + std::to_string(max));
  }
  Cidr c;
  c.prefix = ip->v4 ? 96 + prefix : prefix;
  c.base = *ip;
  for (unsigned bit = c.prefix; bit < 128; ++bit) c.base.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  // A range with host bits set ("10.1.2.3/8") is almost always a typo for something else.
  if (c.base.bytes != ip->bytes)
    return fail("host bits are set; did you mean " + c.base.to_string() + "/" + std::to_string(prefix) + "?");
  return c;
}

bool Cidr::contains(const IpAddress& ip) const {
  unsigned full = prefix / 8;
  if (std::memcmp(ip.bytes.data(), base.bytes.data(), full) != 0) return false;
  if (prefix % 8 == 0) return true;
  auto mask = static_cast<uint8_t>(0xff00u >> (prefix % 8));
  return (ip.bytes[full] & mask) == base.bytes[full];
}

bool TrustedProxies::trusts(const IpAddress& ip) const {
  for (const auto& r : ranges_) {
    if (r.contains(ip)) return true;
  }
  return false;
}

std::string TrustedProxies::client_address(std::string_view peer, std::string_view forwarded_for) const {
  if (ranges_.empty() || forwarded_for.empty()) return std::string(peer);
  auto peer_ip = IpAddress::parse(peer);
  if (!peer_ip || !trusts(*peer_ip)) return std::string(peer);
  std::string client = peer_ip->to_string();
  // Right to left: each hop was written by the proxy right of it, trusted so far.
  std::string_view rest = forwarded_for;
  while (!rest.empty()) {
    auto comma = rest.rfind(',');
    std::string_view hop = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
    if (trim(hop).empty()) continue;
    auto ip = IpAddress::parse(hop);
    if (!ip) break;
    client = ip->to_string();
    if (!trusts(*ip)) break;
  }
  return client;
}

}  // namespace nodeops::gateway
