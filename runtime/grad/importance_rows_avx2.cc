// AVX2+FMA kernel of importance_rows.h: eight elements per step, float lanes summed in double
// at the end of the row (rows are at most a few thousand elements).
#include <immintrin.h>

#include <cstring>

#include "runtime/grad/importance_rows.h"

namespace ember::runtime::grad {
namespace {

// Software prefetch distance in elements (16 KB of w): the hardware prefetcher alone left the
// row kernel at half the DRAM read rate.
constexpr int64_t kPrefetchFloats = 4096;

inline double horizontal_sum(__m256 v) {
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, v);
  double s = 0;
  for (float x : lanes) s += x;
  return s;
}

// The signed 4-bit value in bits [4 * kNibble, 4 * kNibble + 4) of each 32-bit lane, as float.
// Shifts rather than masks: no constant registers, so all nine accumulators stay in the 16
// ymm registers (one spilled accumulator chains every step through the stack).
template <int kNibble>
inline __m256 nibble_to_float(__m256i v) {
  return _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(v, 28 - 4 * kNibble), 28));
}

// Accumulates g dw and (g dw)^2 for one candidate.
[[gnu::always_inline]] inline void add_candidate(__m256 gi, __m256 wi, __m256 code, __m256 scale, __m256& gd, __m256& g2d2) {
  const __m256 q = _mm256_mul_ps(gi, _mm256_sub_ps(_mm256_mul_ps(code, scale), wi));
  gd = _mm256_add_ps(gd, q);
  g2d2 = _mm256_fmadd_ps(q, q, g2d2);
}

template <bool kCandidates, bool kColumns, bool kElementScales>
RowSums row_kernel(const float* g, const float* w, const RowCandidates* cand, int64_t n, float* col_gw, float* col_g2w2) {
  __m256 gw = _mm256_setzero_ps(), g2 = _mm256_setzero_ps(), g2w2 = _mm256_setzero_ps();
  __m256 gd0 = g2, gd1 = g2, gd2 = g2, g2d20 = g2, g2d21 = g2, g2d22 = g2;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    if ((i & 15) == 0) {  // once per 64-byte line: w and the codes come from DRAM, g from L3
      __builtin_prefetch(w + i + kPrefetchFloats);
      __builtin_prefetch(g + i + kPrefetchFloats);
      if constexpr (kCandidates) {
        if ((i & 63) == 0) {
          __builtin_prefetch(cand->q8 + i + kPrefetchFloats);
          __builtin_prefetch(cand->q4 + i + kPrefetchFloats);
        }
      }
    }
    const __m256 gi = _mm256_loadu_ps(g + i);
    const __m256 wi = _mm256_loadu_ps(w + i);
    const __m256 p = _mm256_mul_ps(gi, wi);
    gw = _mm256_add_ps(gw, p);
    g2 = _mm256_fmadd_ps(gi, gi, g2);
    g2w2 = _mm256_fmadd_ps(p, p, g2w2);
    if constexpr (kColumns) {
      _mm256_storeu_ps(col_gw + i, _mm256_add_ps(_mm256_loadu_ps(col_gw + i), p));
      _mm256_storeu_ps(col_g2w2 + i, _mm256_fmadd_ps(p, p, _mm256_loadu_ps(col_g2w2 + i)));
    }
    if constexpr (kCandidates) {
      int64_t q8;
      std::memcpy(&q8, cand->q8 + i, sizeof q8);
      const __m256 c8 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(q8)));
      int64_t q4;
      std::memcpy(&q4, cand->q4 + i, sizeof q4);
      const __m256i nibbles = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(q4));
      const __m256 c32 = nibble_to_float<0>(nibbles), c128 = nibble_to_float<1>(nibbles);
      if constexpr (kElementScales) {
        add_candidate(gi, wi, c8, _mm256_loadu_ps(cand->s8 + i), gd0, g2d20);
        add_candidate(gi, wi, c32, _mm256_loadu_ps(cand->s32 + i), gd1, g2d21);
        add_candidate(gi, wi, c128, _mm256_loadu_ps(cand->s128 + i), gd2, g2d22);
      } else {  // eight elements never straddle a block of 32 (i is a multiple of 8)
        add_candidate(gi, wi, c8, _mm256_set1_ps(cand->s8[0]), gd0, g2d20);
        add_candidate(gi, wi, c32, _mm256_set1_ps(cand->s32[i >> 5]), gd1, g2d21);
        add_candidate(gi, wi, c128, _mm256_set1_ps(cand->s128[i >> 7]), gd2, g2d22);
      }
    }
  }
  // The tail, through the reference (which indexes codes, scales and blocks from the row start).
  RowSums r = i < n ? accumulate_row_scalar(g, w, cand, n, col_gw, col_g2w2, i) : RowSums{};
  r.gw += horizontal_sum(gw);
  r.g2 += horizontal_sum(g2);
  r.g2w2 += horizontal_sum(g2w2);
  if constexpr (kCandidates) {
    r.gd[0] += horizontal_sum(gd0);
    r.gd[1] += horizontal_sum(gd1);
    r.gd[2] += horizontal_sum(gd2);
    r.g2d2[0] += horizontal_sum(g2d20);
    r.g2d2[1] += horizontal_sum(g2d21);
    r.g2d2[2] += horizontal_sum(g2d22);
  }
  return r;
}

}  // namespace

RowSums accumulate_row_avx2(const float* g, const float* w, const RowCandidates* cand, int64_t n, float* col_gw,
                            float* col_g2w2) {
  const bool columns = col_gw != nullptr;
  if (cand && cand->per_element_scales)
    return columns ? row_kernel<true, true, true>(g, w, cand, n, col_gw, col_g2w2) : row_kernel<true, false, true>(g, w, cand, n, nullptr, nullptr);
  if (cand)
    return columns ? row_kernel<true, true, false>(g, w, cand, n, col_gw, col_g2w2) : row_kernel<true, false, false>(g, w, cand, n, nullptr, nullptr);
  return columns ? row_kernel<false, true, false>(g, w, nullptr, n, col_gw, col_g2w2)
                 : row_kernel<false, false, false>(g, w, nullptr, n, nullptr, nullptr);
}

}  // namespace ember::runtime::grad
