#include "passes/analysis/importance_rows.h"

#include <cstring>

#include "runtime/cpu.h"

namespace ember::passes::analysis {
namespace {

inline float from_bf16(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

}  // namespace

RowSums accumulate_row_scalar(const float* g, const float* w, const uint16_t* const* dw, int candidates, int64_t n,
                              float* col_gw, float* col_g2w2) {
  RowSums r;
  for (int64_t i = 0; i < n; ++i) {
    const double gi = g[i], p = gi * w[i];
    r.gw += p;
    r.g2 += gi * gi;
    r.g2w2 += p * p;
    if (col_gw) {
      col_gw[i] += static_cast<float>(p);
      col_g2w2[i] += static_cast<float>(p * p);
    }
    for (int c = 0; c < candidates; ++c) {
      const double q = gi * from_bf16(dw[c][i]);
      r.gd[c] += q;
      r.g2d2[c] += q * q;
    }
  }
  return r;
}

RowSums accumulate_row(const float* g, const float* w, const uint16_t* const* dw, int candidates, int64_t n,
                       float* col_gw, float* col_g2w2) {
  static const bool avx2 = runtime::isa_level() >= runtime::IsaLevel::kAvx2;
  return avx2 ? accumulate_row_avx2(g, w, dw, candidates, n, col_gw, col_g2w2)
              : accumulate_row_scalar(g, w, dw, candidates, n, col_gw, col_g2w2);
}

}  // namespace ember::passes::analysis
