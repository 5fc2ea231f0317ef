// Internal to runtime/int4: int4_requant.cc's rule with AVX2 (the same bytes, sums and scales),
// for the AVX2 and AVX-VNNI kernel tables; in an anonymous namespace so each including ISA file
// gets its own copy compiled with its own flags (see int4_microkernel.h).
//
// A group's 16 columns are two YMM halves of 8, each 32-byte load of codes holds four k of each
// column: 32-bit lane c is column c, bytes i = 0..3 with depth 8h + i in the low nibble (quad
// 2h) and 8h + 4 + i in the high one (quad 2h + 1). In 16-bit words, a column's step r and
// offset 128 - z r are the same for both bytes of a word, so the words are never shuffled:
//   word x = bytes (b0, b1): quad 2h takes q = x & 15 (b0) and (x >> 8) & 15 (b1), quad 2h + 1
//   (x >> 4) & 15 and x >> 12; t = q r + 128 - z r (int16, wrapping); w8 = bits 8..15 of t,
// which go back to b0 by a shift right of 8 and stay in b1 under a mask of 0xff00.
#pragma once
#include <immintrin.h>

#include "runtime/int4/int4_kernels.h"

namespace ember::runtime::int4 {
namespace {

inline __m256i ymm_group_zeros(const Int4Weights& w, const uint8_t* zeros, int64_t b, int half) {
  if (!zeros) return _mm256_set1_epi32(w.uniform_zero());
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(zeros + b * kGroupRows + 8 * half)));
}

inline __m256 ymm_group_scales(const uint16_t* scales, int64_t b, int half) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + b * kGroupRows + 8 * half)));
}

// Both 16-bit words of each lane set to the lane's low 16 bits.
inline __m256i ymm_both_words(__m256i v) {
  return _mm256_or_si256(_mm256_and_si256(v, _mm256_set1_epi32(0xffff)), _mm256_slli_epi32(v, 16));
}

// One quad of one half (32 bytes) from its codes in words: q_even the first byte's, q_odd the
// second's (each in 0..15).
inline __m256i ymm_requant_words(__m256i q_even, __m256i q_odd, __m256i r, __m256i offset) {
  const __m256i t_even = _mm256_add_epi16(_mm256_mullo_epi16(q_even, r), offset);
  const __m256i t_odd = _mm256_add_epi16(_mm256_mullo_epi16(q_odd, r), offset);
  return _mm256_or_si256(_mm256_srli_epi16(t_even, 8), _mm256_and_si256(t_odd, _mm256_set1_epi16(static_cast<int16_t>(0xff00))));
}

void requantize_group_ymm(const Int4Weights& w, int64_t g, int8_t* panel, int32_t* col_sums, float* col_scales) {
  const uint16_t* scales = w.scales(g);
  const uint8_t* zeros = w.zeros(g);
  const uint8_t* codes = w.codes(g);
  __m256 inv[2];
  for (int half = 0; half < 2; ++half) {
    __m256 smax = _mm256_setzero_ps();
    for (int64_t b = 0; b < w.blocks(); ++b) {
      const __m256i z = ymm_group_zeros(w, zeros, b, half);
      const __m256 reach = _mm256_cvtepi32_ps(_mm256_max_epi32(z, _mm256_sub_epi32(_mm256_set1_epi32(15), z)));
      const __m256 magnitude = _mm256_and_ps(ymm_group_scales(scales, b, half), _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
      smax = _mm256_max_ps(smax, _mm256_mul_ps(magnitude, reach));
    }
    const __m256 nonzero = _mm256_cmp_ps(smax, _mm256_setzero_ps(), _CMP_GT_OQ);
    inv[half] = _mm256_and_ps(_mm256_div_ps(_mm256_set1_ps(32512.0f), smax), nonzero);
    _mm256_storeu_ps(col_scales + 8 * half,
                     _mm256_mul_ps(_mm256_div_ps(smax, _mm256_set1_ps(127.0f)), _mm256_set1_ps(w.scale_multiplier())));
  }

  const __m256i low = _mm256_set1_epi16(0x000f), ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
  __m256i sums[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
  for (int64_t b = 0; b < w.blocks(); ++b) {
    _mm_prefetch(reinterpret_cast<const char*>(codes + (b + 2) * kBlockBytes), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(codes + (b + 2) * kBlockBytes + 64), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(codes + (b + 2) * kBlockBytes + 128), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(codes + (b + 2) * kBlockBytes + 192), _MM_HINT_T0);
    int8_t* dst = panel + b * kRequantBlockBytes;
    for (int half = 0; half < 2; ++half) {
      const __m256i r = _mm256_cvtps_epi32(_mm256_mul_ps(ymm_group_scales(scales, b, half), inv[half]));
      const __m256i offset = _mm256_sub_epi32(_mm256_set1_epi32(128), _mm256_mullo_epi32(ymm_group_zeros(w, zeros, b, half), r));
      const __m256i rr = ymm_both_words(r), oo = ymm_both_words(offset);
      // int16 sums of pairs of k per column: at most 8 quads x 2 x 127, widened once per block.
      __m256i pairs = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int h = 0; h < 4; ++h) {
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + b * kBlockBytes + h * 64 + 32 * half));
        const __m256i x8 = _mm256_srli_epi16(x, 8);
        const __m256i lo = ymm_requant_words(_mm256_and_si256(x, low), _mm256_and_si256(x8, low), rr, oo);
        const __m256i hi = ymm_requant_words(_mm256_and_si256(_mm256_srli_epi16(x, 4), low), _mm256_srli_epi16(x, 12), rr, oo);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 2 * h * 64 + 32 * half), lo);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + (2 * h + 1) * 64 + 32 * half), hi);
        pairs = _mm256_add_epi16(pairs, _mm256_add_epi16(_mm256_maddubs_epi16(ones8, lo), _mm256_maddubs_epi16(ones8, hi)));
      }
      sums[half] = _mm256_add_epi32(sums[half], _mm256_madd_epi16(pairs, ones16));
    }
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(col_sums), sums[0]);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(col_sums + 8), sums[1]);
}

}  // namespace
}  // namespace ember::runtime::int4
