// Packing of 4-bit weights into the interleaved block layout of int4_format.h.
#include <algorithm>
#include <cmath>

#include "ir/dtype.h"
#include "ir/nibbles.h"
#include "runtime/int4/int4_format.h"

namespace ember::runtime::int4 {
namespace {

// A power of two that maps the largest |scale| into [256, 512): fp16 then keeps full
// precision for scales down to 2^-22 of the largest.
float pick_scale_multiplier(const std::vector<float>& scales) {
  float largest = 0.0f;
  for (float s : scales)
    if (std::isfinite(s)) largest = std::max(largest, std::fabs(s));
  if (largest == 0.0f) return 1.0f;
  return std::ldexp(1.0f, std::ilogb(largest) - 8);
}

// Byte offset, within one group-block, of the nibble holding (row j, depth i of the block).
int64_t nibble_byte(int64_t j, int64_t i) { return (i / 8) * 64 + j * 4 + (i % 4); }
bool nibble_is_high(int64_t i) { return (i % 8) >= 4; }

}  // namespace

Int4Weights Int4Weights::pack(const Int4Source& s) {
  Int4Weights w;
  w.K_ = s.K;
  w.N_ = s.N;
  w.blocks_ = (s.K + kBlock - 1) / kBlock;
  w.groups_ = (s.N + kGroupRows - 1) / kGroupRows;
  const int64_t source_blocks = s.source_blocks();

  bool uniform = true;
  for (uint8_t z : s.zeros) uniform = uniform && z == s.zeros.front();
  w.uniform_zero_ = s.zeros.empty() ? 8 : s.zeros.front();
  w.scale_multiplier_ = pick_scale_multiplier(s.scales);

  const size_t cells = static_cast<size_t>(w.groups_ * w.blocks_);
  w.codes_ = weight_arena().allocate(cells * kBlockBytes);
  w.scales_ = weight_arena().allocate_array<uint16_t>(cells * kGroupRows);
  if (!uniform) w.zeros_ = weight_arena().allocate(cells * kGroupRows);

  for (int64_t n = 0; n < s.N; ++n) {
    const int64_t g = n / kGroupRows, j = n % kGroupRows;
    const uint8_t* column = s.codes.data() + n * s.K;
    for (int64_t b = 0; b < w.blocks_; ++b) {
      const int64_t cell = g * w.blocks_ + b;
      const int64_t source = n * source_blocks + std::min(source_blocks - 1, b * kBlock / s.block_size);
      const int32_t zero = s.zeros.empty() ? 8 : s.zeros[size_t(source)];
      w.scales_.get()[cell * kGroupRows + j] = float_to_half(s.scales[size_t(source)] / w.scale_multiplier_);
      if (w.zeros_) w.zeros_.get()[cell * kGroupRows + j] = static_cast<uint8_t>(zero);
      uint8_t* bytes = w.codes_.get() + cell * kBlockBytes;
      for (int64_t i = 0; i < kBlock; ++i) {
        const int64_t k = b * kBlock + i;
        // Depth past K holds the zero point, so it adds nothing even before the activations'
        // zero padding does.
        const int32_t q = k < s.K ? column[k] : zero;
        uint8_t& byte = bytes[nibble_byte(j, i)];
        byte = nibble_is_high(i) ? nibbles::pack_pair(nibbles::low(byte), q) : nibbles::pack_pair(q, nibbles::high(byte));
      }
    }
  }
  return w;
}

size_t Int4Weights::bytes() const {
  const size_t cells = static_cast<size_t>(groups_ * blocks_);
  return cells * (kBlockBytes + kGroupRows * sizeof(uint16_t) + (zeros_ ? kGroupRows : 0));
}

int32_t Int4Weights::code(int64_t n, int64_t k) const {
  const int64_t g = n / kGroupRows, j = n % kGroupRows, b = k / kBlock, i = k % kBlock;
  const uint8_t byte = codes_.get()[(g * blocks_ + b) * kBlockBytes + nibble_byte(j, i)];
  return nibble_is_high(i) ? nibbles::high(byte) : nibbles::low(byte);
}

}  // namespace ember::runtime::int4
