// The inner loop of the importance accumulator: one pass over a stored row of a weight's
// gradient g and value w, returning the row's sums of g w, g^2, (g w)^2 and, per candidate
// precision (INT8 per channel, INT4 blocks of 32 and 128), g dw and (g dw)^2 with
// dw = Q(w) - w rebuilt from the candidate's codes and scales: 2 bytes a weight (an int8 code
// and a byte of two 4-bit codes) instead of three stored errors, since the pass is bound by the
// bytes it reads from DRAM. For a column-major layer it also adds g w and (g w)^2 into
// per-column accumulators. A scalar reference and an AVX2+FMA kernel
// (importance_rows_avx2.cc), chosen by runtime::isa_level().
#pragma once
#include <cstdint>

namespace ember::runtime::grad {

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

// The candidates' codes and scales for one stored row of n weights. Q(w) = code * scale with
//   candidate 0 (INT8 per channel): q8[i] and s8,
//   candidate 1 (INT4 block 32):    the low nibble of q4[i] (two's complement) and s32,
//   candidate 2 (INT4 block 128):   the high nibble of q4[i] and s128.
// Column-major rows (reduction steps of a [K, N] weight) hold one channel per element, so
// their scales are per element: s8[i], s32[i], s128[i]. Row-major rows are one channel, so
// the scales are per block along the row: s8[0], s32[i >> 5], s128[i >> 7].
struct RowCandidates {
  const int8_t* q8 = nullptr;
  const uint8_t* q4 = nullptr;
  const float *s8 = nullptr, *s32 = nullptr, *s128 = nullptr;
  // true: one scale per element (a column-major row crosses the output channels); false: the
  // row is one channel, with one INT8 scale and one scale per block of 32 / 128.
  bool per_element_scales = false;
};

// `cand` may be null (no candidates). col_gw / col_g2w2 (null: not wanted) gather per-column
// sums: the output channels of a column-major row, or the input channels of a row-major one.
RowSums accumulate_row(const float* g, const float* w, const RowCandidates* cand, int64_t n, float* col_gw,
                       float* col_g2w2);
// The reference over elements [begin, n) of the row (the AVX2 kernel's tail).
RowSums accumulate_row_scalar(const float* g, const float* w, const RowCandidates* cand, int64_t n, float* col_gw,
                              float* col_g2w2, int64_t begin = 0);
RowSums accumulate_row_avx2(const float* g, const float* w, const RowCandidates* cand, int64_t n, float* col_gw,
                            float* col_g2w2);

}  // namespace ember::runtime::grad
