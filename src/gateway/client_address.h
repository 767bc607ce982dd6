// Who the client is: the direct peer, or — when that peer is one of our own proxies (the ALB, an
// ingress) — the hop its X-Forwarded-For names. Rate limits, read-your-writes, monotonic reads and
// the active-client count all key on this address, so a client must not be able to choose it.
//
//   auto proxies = TrustedProxies::parse({"10.0.0.0/8", "fd00::/8"}, &why);
//   std::string ip = proxies->client_address("10.0.3.4", "198.51.100.7, 10.0.1.9");  // "198.51.100.7"
//
// Each proxy appends the address it received the connection from, so the list reads
// client-controlled on the left and proxy-written on the right. The client is the right-most hop
// that is not a trusted proxy: everything left of it could have been written by the client.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nodeops::gateway {

/// @brief An IPv4 or IPv6 address as 16 bytes (IPv4 as ::ffff:a.b.c.d, so IPv4-mapped peers of
/// a dual-stack socket match IPv4 ranges).
struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  bool v4 = false;
  /// Parses "1.2.3.4", "2001:db8::1", "::ffff:1.2.3.4", and, from X-Forwarded-For hops, "1.2.3.4:80"
  /// and "[2001:db8::1]:80". nullopt for anything else.
  static std::optional<IpAddress> parse(std::string_view text);
  std::string to_string() const;
};

/// @brief An address range "10.0.0.0/8", "2001:db8::/32"; a bare address is a /32 or /128.
struct Cidr {
  IpAddress base;       // host bits cleared
  unsigned prefix = 0;  // in bits of the 16-byte form (IPv4 /8 is 96 + 8)
  static std::optional<Cidr> parse(std::string_view text, std::string* why = nullptr);
  bool contains(const IpAddress& ip) const;
};

/// @brief The trusted_proxies list and the client-address rule above. Immutable; any thread.
class TrustedProxies {
 public:
  TrustedProxies() = default;
  explicit TrustedProxies(std::vector<Cidr> ranges) : ranges_(std::move(ranges)) {}

  bool trusts(const IpAddress& ip) const;
  bool empty() const { return ranges_.empty(); }
  /// The client's address for a connection from `peer` carrying `forwarded_for` (empty when
  /// none): the peer itself unless it is trusted; else the right-most X-Forwarded-For hop that is
  /// not trusted (the left-most one when all are). A hop that is not an address ends the walk at
  /// the trusted hop right of it: a proxy we trust wrote nonsense, and nothing left of it counts.
  std::string client_address(std::string_view peer, std::string_view forwarded_for) const;

 private:
  std::vector<Cidr> ranges_;
};

}  // namespace nodeops::gateway
