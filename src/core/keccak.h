// Keccak-256 as Ethereum uses it (the original padding, not NIST SHA3-256). The gateway needs it
// for one thing: the hash of a raw transaction, to answer a re-sent write that a node reports as
// "already known" with the transaction hash the client expects.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace nodeops {

std::array<uint8_t, 32> keccak256(std::span<const uint8_t> data);
/// Decodes "0x..." hex; nullopt for odd length or non-hex characters.
std::optional<std::string> decode_hex(std::string_view hex);
std::string encode_hex(std::span<const uint8_t> bytes);  // "0x..." lowercase

}  // namespace nodeops
