// Packed 4-bit values (ONNX INT4 / UINT4, and Ember's own 4-bit codes): element i is the low
// nibble of byte i/2 when i is even and the high nibble when i is odd; an odd count leaves the
// last high nibble zero. The one place where nibbles are packed, unpacked and sign-extended.
#pragma once
#include <cstdint>

namespace ember::nibbles {

// 0..15 as the signed 4-bit value it encodes, -8..7.
inline int32_t sign_extend(uint32_t nibble) { return static_cast<int32_t>(nibble & 0x0f) - static_cast<int32_t>((nibble & 0x08) << 1); }
inline uint8_t low(uint8_t byte) { return byte & 0x0f; }
inline uint8_t high(uint8_t byte) { return byte >> 4; }
// Two values (their low 4 bits) in one byte, `lo` first.
inline uint8_t pack_pair(int32_t lo, int32_t hi) { return static_cast<uint8_t>((lo & 0x0f) | ((hi & 0x0f) << 4)); }

// Element i of a packed array: 0..15, or -8..7 when `is_signed`.
inline uint8_t get(const uint8_t* packed, int64_t i) { return (i & 1) ? high(packed[i >> 1]) : low(packed[i >> 1]); }
inline int32_t get(const uint8_t* packed, int64_t i, bool is_signed) {
  const uint8_t v = get(packed, i);
  return is_signed ? sign_extend(v) : v;
}
// Writes element i (its low 4 bits), keeping the other nibble of the byte.
inline void set(uint8_t* packed, int64_t i, int32_t value) {
  uint8_t& byte = packed[i >> 1];
  const uint8_t v = static_cast<uint8_t>(value & 0x0f);
  byte = (i & 1) ? static_cast<uint8_t>((byte & 0x0f) | (v << 4)) : static_cast<uint8_t>((byte & 0xf0) | v);
}

// n values into (n + 1) / 2 bytes.
template <class T>
void pack(const T* values, int64_t n, uint8_t* out) {
  for (int64_t i = 0; i < n; i += 2)
    out[i >> 1] = pack_pair(static_cast<int32_t>(values[i]), i + 1 < n ? static_cast<int32_t>(values[i + 1]) : 0);
}
// n values out of (n + 1) / 2 bytes.
template <class T>
void unpack(const uint8_t* packed, int64_t n, bool is_signed, T* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(get(packed, i, is_signed));
}

}  // namespace ember::nibbles
