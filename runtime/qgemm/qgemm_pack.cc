// Packing of int8 weights into the VPDPBUSD panel layout of qgemm.h, once at load time.
#include <algorithm>

#include "runtime/qgemm/qgemm.h"

namespace ember::runtime::qgemm {

PackedB PackedB::pack(const void* b, bool b_unsigned, bool trans_b, int64_t K, int64_t N, int64_t ldb,
                      const int32_t* zero_points) {
  PackedB p;
  p.K_ = K;
  p.N_ = N;
  p.k_quads_ = (K + kQuad - 1) / kQuad;
  const int64_t panels = (N + kPanelWidth - 1) / kPanelWidth;
  const int64_t padded_n = panels * kPanelWidth;
  p.panels_ = weight_arena().allocate_array<int8_t>(static_cast<size_t>(panels * p.panel_bytes()));
  p.col_sums_ = weight_arena().allocate_array<int32_t>(static_cast<size_t>(padded_n));
  // Unsigned weights move to the int8 range with their zero points, keeping b - zp.
  const int32_t shift = b_unsigned ? 128 : 0;
  const auto* bytes = static_cast<const uint8_t*>(b);
  int8_t* out = p.panels_.get();
  int32_t* sums = p.col_sums_.get();
  // Reads follow B's stored rows (k outer unless B is transposed), so big matrices pack fast.
  auto put = [&](int64_t k, int64_t n, uint8_t raw) {
    const int32_t v = b_unsigned ? int32_t{raw} - shift : int32_t{static_cast<int8_t>(raw)};
    out[(n / kPanelWidth) * p.panel_bytes() + (k / kQuad) * kQuad * kPanelWidth + (n % kPanelWidth) * kQuad + k % kQuad] =
        static_cast<int8_t>(v);
    sums[n] += v;
    p.has_int8_min_ |= v == -128;
  };
  if (trans_b) {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) put(k, n, bytes[n * ldb + k]);
  } else {
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < N; ++n) put(k, n, bytes[k * ldb + n]);
  }
  auto zero_point = [&](int64_t n) { return (zero_points ? zero_points[n] : 0) - shift; };
  bool any_zero_point = false;
  for (int64_t n = 0; n < N; ++n) any_zero_point |= zero_point(n) != 0;
  if (any_zero_point) {
    p.zero_points_ = weight_arena().allocate_array<int32_t>(static_cast<size_t>(padded_n));
    for (int64_t n = 0; n < N; ++n) p.zero_points_.get()[n] = zero_point(n);
  }
  return p;
}

int32_t PackedB::at(int64_t k, int64_t n) const {
  return panels_.get()[(n / kPanelWidth) * panel_bytes() + (k / kQuad) * kQuad * kPanelWidth + (n % kPanelWidth) * kQuad +
                       k % kQuad];
}

}  // namespace ember::runtime::qgemm
