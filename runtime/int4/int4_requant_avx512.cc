// AVX-512 form of int4_requant.cc's rule (the same bytes, sums and scales). One 64-byte load
// of a group's codes holds quads 2h (low nibbles) and 2h + 1 (high nibbles) of its 16 columns
// in the packed-B layout already; each quad is widened to int16 in place (unpacklo / unpackhi
// take columns 4L, 4L + 1 and 4L + 2, 4L + 3 of each 128-bit lane L), multiplied by the
// column's step r, offset by 128 - z r, shifted right by 8 and packed back to bytes (in-lane,
// so the order returns), and the column sums come from one VPDPBUSD against ones.
// Only reached through kInt4Avx512Kernels after dispatch.
#include <immintrin.h>

#include "runtime/int4/int4_kernels.h"

namespace ember::runtime::int4 {
namespace {

// The zero-masked intrinsics throughout: the unmasked ones pass an undefined source that trips
// GCC 12's -Wmaybe-uninitialized.
constexpr __mmask16 kAll = 0xffff;

// vpermw indices from [r, 128 - z r] of columns 0..15 (32 int16, interleaved) to the four int16
// vectors that multiply and offset the unpacked low / high halves of each lane.
struct StepIndex {
  __m512i r_lo, r_hi, o_lo, o_hi;
};

StepIndex step_index() {
  alignas(64) int16_t lo[32], hi[32];
  for (int p = 0; p < 32; ++p) {
    const int lane = p / 8, column = (p % 8) / 4;
    lo[p] = static_cast<int16_t>(2 * (4 * lane + column));
    hi[p] = static_cast<int16_t>(2 * (4 * lane + 2 + column));
  }
  const __m512i l = _mm512_load_si512(lo), h = _mm512_load_si512(hi), one = _mm512_set1_epi16(1);
  return {l, h, _mm512_add_epi16(l, one), _mm512_add_epi16(h, one)};
}

// The largest |q - z| the zero points allow: max(z, 15 - z), as floats.
__m512 zero_reach(__m512i z) { return _mm512_maskz_cvtepi32_ps(kAll, _mm512_maskz_max_epi32(kAll, z, _mm512_sub_epi32(_mm512_set1_epi32(15), z))); }

__m512i load_zeros(const Int4Weights& w, const uint8_t* zeros, int64_t b) {
  if (!zeros) return _mm512_set1_epi32(w.uniform_zero());
  return _mm512_maskz_cvtepu8_epi32(kAll, _mm_loadu_si128(reinterpret_cast<const __m128i*>(zeros + b * kGroupRows)));
}

__m512 load_scales(const uint16_t* scales, int64_t b) {
  return _mm512_maskz_cvtph_ps(kAll, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales + b * kGroupRows)));
}

}  // namespace

void requantize_group_avx512(const Int4Weights& w, int64_t g, int8_t* panel, int32_t* col_sums, float* col_scales) {
  static const StepIndex index = step_index();
  const uint16_t* scales = w.scales(g);
  const uint8_t* zeros = w.zeros(g);
  const uint8_t* codes = w.codes(g);
  __m512 smax = _mm512_setzero_ps();
  for (int64_t b = 0; b < w.blocks(); ++b)
    smax = _mm512_maskz_max_ps(kAll, smax, _mm512_mul_ps(load_scales(scales, b), zero_reach(load_zeros(w, zeros, b))));
  const __mmask16 nonzero = _mm512_cmp_ps_mask(smax, _mm512_setzero_ps(), _CMP_GT_OQ);
  const __m512 inv = _mm512_maskz_div_ps(nonzero, _mm512_set1_ps(32512.0f), smax);
  _mm512_storeu_ps(col_scales, _mm512_mul_ps(_mm512_div_ps(smax, _mm512_set1_ps(127.0f)), _mm512_set1_ps(w.scale_multiplier())));

  const __m512i nibble = _mm512_set1_epi8(0x0f), ones = _mm512_set1_epi8(1), zero = _mm512_setzero_si512();
  // Four column-sum chains: one VPDPBUSD chain would bound the loop by its latency.
  __m512i sums[4] = {zero, zero, zero, zero};
  for (int64_t b = 0; b < w.blocks(); ++b) {
    // Two blocks ahead into L1 (the driver's panel prefetch brought them to L2).
    for (int line = 0; line < 4; ++line)
      _mm_prefetch(reinterpret_cast<const char*>(codes + (b + 2) * kBlockBytes + line * 64), _MM_HINT_T0);
    const __m512i r = _mm512_maskz_cvtps_epi32(kAll, _mm512_mul_ps(load_scales(scales, b), inv));
    const __m512i offset = _mm512_sub_epi32(_mm512_set1_epi32(128), _mm512_mullo_epi32(load_zeros(w, zeros, b), r));
    // Column c's r in int16 word 2c, its offset in word 2c + 1 (both fit: r <= 4064).
    const __m512i steps = _mm512_or_si512(_mm512_and_si512(r, _mm512_set1_epi32(0xffff)), _mm512_maskz_slli_epi32(kAll, offset, 16));
    const __m512i r_lo = _mm512_permutexvar_epi16(index.r_lo, steps), r_hi = _mm512_permutexvar_epi16(index.r_hi, steps);
    const __m512i o_lo = _mm512_permutexvar_epi16(index.o_lo, steps), o_hi = _mm512_permutexvar_epi16(index.o_hi, steps);
    int8_t* dst = panel + b * kRequantBlockBytes;
    // (q r + 128 - z r) >> 8 in int16: the products wrap, the result (|.| < 2^15) does not.
    auto quad = [&](__m512i q, int8_t* out, __m512i& sum) {
      const __m512i lo = _mm512_add_epi16(_mm512_mullo_epi16(_mm512_unpacklo_epi8(q, zero), r_lo), o_lo);
      const __m512i hi = _mm512_add_epi16(_mm512_mullo_epi16(_mm512_unpackhi_epi8(q, zero), r_hi), o_hi);
      const __m512i w8 = _mm512_packs_epi16(_mm512_srai_epi16(lo, 8), _mm512_srai_epi16(hi, 8));
      _mm512_storeu_si512(out, w8);
      sum = _mm512_dpbusd_epi32(sum, ones, w8);
    };
#pragma GCC unroll 4
    for (int h = 0; h < 4; ++h) {
      const __m512i raw = _mm512_loadu_si512(codes + b * kBlockBytes + h * 64);
      quad(_mm512_and_si512(raw, nibble), dst + 2 * h * 64, sums[h]);
      quad(_mm512_and_si512(_mm512_srli_epi16(raw, 4), nibble), dst + (2 * h + 1) * 64, sums[h]);
    }
  }
  _mm512_storeu_si512(col_sums, _mm512_add_epi32(_mm512_add_epi32(sums[0], sums[1]), _mm512_add_epi32(sums[2], sums[3])));
}

}  // namespace ember::runtime::int4
