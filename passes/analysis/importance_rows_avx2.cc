// AVX2+FMA kernel of importance_rows.h: eight elements per step, float lanes summed in double
// at the end of the row (rows are at most a few thousand elements).
#include <immintrin.h>

#include "passes/analysis/importance_rows.h"

namespace ember::passes::analysis {
namespace {

inline double horizontal_sum(__m256 v) {
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, v);
  double s = 0;
  for (float x : lanes) s += x;
  return s;
}

inline __m256 load_bf16(const uint16_t* p) {
  const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

template <int NC, bool kColumns>
RowSums row_kernel(const float* g, const float* w, const uint16_t* const* dw, int64_t n, float* col_gw, float* col_g2w2) {
  __m256 gw = _mm256_setzero_ps(), g2 = _mm256_setzero_ps(), g2w2 = _mm256_setzero_ps();
  __m256 gd[kMaxRowCandidates], g2d2[kMaxRowCandidates];
  for (int c = 0; c < kMaxRowCandidates; ++c) gd[c] = g2d2[c] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 gi = _mm256_loadu_ps(g + i);
    const __m256 p = _mm256_mul_ps(gi, _mm256_loadu_ps(w + i));
    gw = _mm256_add_ps(gw, p);
    g2 = _mm256_fmadd_ps(gi, gi, g2);
    g2w2 = _mm256_fmadd_ps(p, p, g2w2);
    if constexpr (kColumns) {
      _mm256_storeu_ps(col_gw + i, _mm256_add_ps(_mm256_loadu_ps(col_gw + i), p));
      _mm256_storeu_ps(col_g2w2 + i, _mm256_fmadd_ps(p, p, _mm256_loadu_ps(col_g2w2 + i)));
    }
    // Unrolled, so the per-candidate accumulators stay in registers (a rolled loop keeps
    // them on the stack and chains every step through store-to-load forwarding).
#pragma GCC unroll 3
    for (int c = 0; c < NC; ++c) {
      const __m256 q = _mm256_mul_ps(gi, load_bf16(dw[c] + i));
      gd[c] = _mm256_add_ps(gd[c], q);
      g2d2[c] = _mm256_fmadd_ps(q, q, g2d2[c]);
    }
  }
  const uint16_t* tail_dw[kMaxRowCandidates] = {nullptr, nullptr, nullptr};
  for (int c = 0; c < NC; ++c) tail_dw[c] = dw[c] + i;
  RowSums r = accumulate_row_scalar(g + i, w + i, tail_dw, NC, n - i, kColumns ? col_gw + i : nullptr,
                                    kColumns ? col_g2w2 + i : nullptr);
  r.gw += horizontal_sum(gw);
  r.g2 += horizontal_sum(g2);
  r.g2w2 += horizontal_sum(g2w2);
  for (int c = 0; c < NC; ++c) {
    r.gd[c] += horizontal_sum(gd[c]);
    r.g2d2[c] += horizontal_sum(g2d2[c]);
  }
  return r;
}

}  // namespace

RowSums accumulate_row_avx2(const float* g, const float* w, const uint16_t* const* dw, int candidates, int64_t n,
                            float* col_gw, float* col_g2w2) {
  const bool columns = col_gw != nullptr;
  if (candidates == 3) return columns ? row_kernel<3, true>(g, w, dw, n, col_gw, col_g2w2) : row_kernel<3, false>(g, w, dw, n, nullptr, nullptr);
  if (candidates == 0) return columns ? row_kernel<0, true>(g, w, dw, n, col_gw, col_g2w2) : row_kernel<0, false>(g, w, dw, n, nullptr, nullptr);
  return accumulate_row_scalar(g, w, dw, candidates, n, col_gw, col_g2w2);
}

}  // namespace ember::passes::analysis
