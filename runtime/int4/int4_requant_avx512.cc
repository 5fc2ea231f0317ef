// AVX-512 form of int4_requant.cc's rule (the same bytes, sums and scales), on 16-bit words as
// int4_requant_ymm.h's AVX2 form (which says why no shuffles are needed): one 64-byte load of a
// group's codes holds quads 2h (low nibbles) and 2h + 1 (high nibbles) of its 16 columns in the
// packed-B layout already, and the column sums come from one VPDPBUSD per quad against ones.
// Only reached through kInt4Avx512Kernels after dispatch.
#include <immintrin.h>

#include "runtime/int4/int4_kernels.h"

namespace ember::runtime::int4 {
namespace {

// The zero-masked intrinsics throughout: the unmasked ones pass an undefined source that trips
// GCC 12's -Wmaybe-uninitialized.
constexpr __mmask16 kAll = 0xffff;

// The largest |q - z| the zero points allow: max(z, 15 - z), as floats.
__m512 zero_reach(__m512i z) {
  return _mm512_maskz_cvtepi32_ps(kAll, _mm512_maskz_max_epi32(kAll, z, _mm512_sub_epi32(_mm512_set1_epi32(15), z)));
}

__m512i load_zeros(const Int4Weights& w, const uint8_t* zeros, int64_t b) {
  if (!zeros) return _mm512_set1_epi32(w.uniform_zero());
  return _mm512_maskz_cvtepu8_epi32(kAll, _mm_loadu_si128(reinterpret_cast<const __m128i*>(zeros + b * kGroupRows)));
}

__m512 load_scales(const uint16_t* scales, int64_t b) {
  return _mm512_maskz_cvtph_ps(kAll, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales + b * kGroupRows)));
}

}  // namespace

void requantize_group_avx512(const Int4Weights& w, int64_t g, int8_t* panel, int32_t* col_sums, float* col_scales) {
  const uint16_t* scales = w.scales(g);
  const uint8_t* zeros = w.zeros(g);
  const uint8_t* codes = w.codes(g);
  __m512 smax = _mm512_setzero_ps();
  for (int64_t b = 0; b < w.blocks(); ++b)
    smax = _mm512_maskz_max_ps(kAll, smax, _mm512_mul_ps(_mm512_abs_ps(load_scales(scales, b)), zero_reach(load_zeros(w, zeros, b))));
  const __mmask16 nonzero = _mm512_cmp_ps_mask(smax, _mm512_setzero_ps(), _CMP_GT_OQ);
  const __m512 inv = _mm512_maskz_div_ps(nonzero, _mm512_set1_ps(32512.0f), smax);
  _mm512_storeu_ps(col_scales, _mm512_mul_ps(_mm512_div_ps(smax, _mm512_set1_ps(127.0f)), _mm512_set1_ps(w.scale_multiplier())));

  const __m512i low = _mm512_set1_epi16(0x000f), high_byte = _mm512_set1_epi16(static_cast<int16_t>(0xff00));
  const __m512i ones = _mm512_set1_epi8(1), zero = _mm512_setzero_si512();
  // Four column-sum chains: one VPDPBUSD chain would bound the loop by its latency.
  __m512i sums[4] = {zero, zero, zero, zero};
  for (int64_t b = 0; b < w.blocks(); ++b) {
    // Two blocks ahead into L1 (the driver's panel prefetch brought them to L2).
    for (int line = 0; line < 4; ++line)
      _mm_prefetch(reinterpret_cast<const char*>(codes + (b + 2) * kBlockBytes + line * 64), _MM_HINT_T0);
    const __m512i r = _mm512_maskz_cvtps_epi32(kAll, _mm512_mul_ps(load_scales(scales, b), inv));
    const __m512i offset = _mm512_sub_epi32(_mm512_set1_epi32(128), _mm512_mullo_epi32(load_zeros(w, zeros, b), r));
    // Each column's r and offset in both 16-bit words of its lane.
    const __m512i rr = _mm512_or_si512(_mm512_and_si512(r, _mm512_set1_epi32(0xffff)), _mm512_maskz_slli_epi32(kAll, r, 16));
    const __m512i oo =
        _mm512_or_si512(_mm512_and_si512(offset, _mm512_set1_epi32(0xffff)), _mm512_maskz_slli_epi32(kAll, offset, 16));
    int8_t* dst = panel + b * kRequantBlockBytes;
    // t = q r + 128 - z r in int16 (the products wrap, the result, |.| < 2^15, does not); w8 =
    // bits 8..15 of t, moved to the word's first byte for q_even, kept in its second for q_odd.
    auto quad = [&](__m512i q_even, __m512i q_odd, int8_t* out, __m512i& sum) {
      const __m512i t_even = _mm512_add_epi16(_mm512_mullo_epi16(q_even, rr), oo);
      const __m512i t_odd = _mm512_add_epi16(_mm512_mullo_epi16(q_odd, rr), oo);
      const __m512i w8 = _mm512_ternarylogic_epi32(_mm512_srli_epi16(t_even, 8), t_odd, high_byte, 0xf8);  // a | (b & c)
      _mm512_storeu_si512(out, w8);
      sum = _mm512_dpbusd_epi32(sum, ones, w8);
    };
#pragma GCC unroll 4
    for (int h = 0; h < 4; ++h) {
      const __m512i x = _mm512_loadu_si512(codes + b * kBlockBytes + h * 64);
      const __m512i x8 = _mm512_srli_epi16(x, 8);
      quad(_mm512_and_si512(x, low), _mm512_and_si512(x8, low), dst + 2 * h * 64, sums[h]);
      quad(_mm512_and_si512(_mm512_srli_epi16(x, 4), low), _mm512_srli_epi16(x, 12), dst + (2 * h + 1) * 64, sums[h]);
    }
  }
  _mm512_storeu_si512(col_sums, _mm512_add_epi32(_mm512_add_epi32(sums[0], sums[1]), _mm512_add_epi32(sums[2], sums[3])));
}

}  // namespace ember::runtime::int4
