#include "core/keccak.h"

#include <gtest/gtest.h>

using namespace nodeops;

namespace {
std::string hash_hex(std::string_view s) {
  auto h = keccak256(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  return encode_hex(h);
}
}  // namespace

TEST(Keccak, KnownVectors) {
  EXPECT_EQ(hash_hex(""), "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  EXPECT_EQ(hash_hex("abc"), "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
  // Longer than one 136-byte block; vector from `cast keccak`.
  EXPECT_EQ(hash_hex(std::string(200, 'a')), "0x96ea54061def936c4be90b518992fdc6f12f535068a256229aca54267b4d084d");
}

TEST(Keccak, HexRoundTripAndRejects) {
  auto b = decode_hex("0x00ff10");
  ASSERT_TRUE(b);
  EXPECT_EQ(encode_hex(std::span(reinterpret_cast<const uint8_t*>(b->data()), b->size())), "0x00ff10");
  EXPECT_FALSE(decode_hex("0x123"));
  EXPECT_FALSE(decode_hex("0xzz"));
}
