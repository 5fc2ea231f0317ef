// The inner loop of the importance accumulator: one pass over a stored row of a weight's
// gradient g and value w, returning the row's sums of g w, g^2, (g w)^2 and, per candidate
// precision, g dw and (g dw)^2 with dw the candidate's quantization error (bf16); for a
// column-major layer it also adds g w and (g w)^2 into per-column accumulators. A scalar
// reference and an AVX2+FMA kernel (importance_rows_avx2.cc), chosen by runtime::isa_level().
#pragma once
#include <cstdint>

namespace ember::passes::analysis {

inline constexpr int kMaxRowCandidates = 3;

struct RowSums {
  double gw = 0, g2 = 0, g2w2 = 0;
  double gd[kMaxRowCandidates] = {0, 0, 0}, g2d2[kMaxRowCandidates] = {0, 0, 0};
  void add(const RowSums& o) {
    gw += o.gw;
    g2 += o.g2;
    g2w2 += o.g2w2;
    for (int c = 0; c < kMaxRowCandidates; ++c) {
      gd[c] += o.gd[c];
      g2d2[c] += o.g2d2[c];
    }
  }
};

// dw[c] for c < candidates (0..3) point at the row's bf16 errors; col_gw / col_g2w2 may be null.
RowSums accumulate_row(const float* g, const float* w, const uint16_t* const* dw, int candidates, int64_t n,
                       float* col_gw, float* col_g2w2);
RowSums accumulate_row_scalar(const float* g, const float* w, const uint16_t* const* dw, int candidates, int64_t n,
                              float* col_gw, float* col_g2w2);
RowSums accumulate_row_avx2(const float* g, const float* w, const uint16_t* const* dw, int candidates, int64_t n,
                            float* col_gw, float* col_g2w2);

}  // namespace ember::passes::analysis
