// AVX-512 forms of int4_act.cc's activation quantizer (the same integers and floats as its
// scalar rule, NaN and infinities included). One block at a time, each block's maximum and
// code sum are horizontal reductions of a few shuffles each, and its two divisions scalar;
// a row's whole blocks go sixteen at a time instead: the sixteen maxima and sums are
// reduced together by a transposing tree (two vectors into one per level, lane b of the
// result is block b) and the divisions are one vector each, about half the instructions.
// Only reached through kInt4Avx512Kernels after dispatch.
#include <immintrin.h>

#include "runtime/int4/int4_kernels.h"

namespace ember::runtime::int4 {
namespace {

// Shuffles, permutations and conversions use the zero-masked intrinsics: the unmasked ones pass
// an undefined source that trips GCC 12's -Wmaybe-uninitialized / -Wuninitialized.

// Codes of one half block (16 values) at inv = 127 / max: NaN products (NaN inputs, or
// infinities times 0) are 0, the rest clamp to +-127 and round half to even.
inline __m512i quantize_half(__m512 v, __m512 inv, int8_t* q) {
  __m512 r = _mm512_mul_ps(v, inv);
  r = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(r, r, _CMP_ORD_Q), r);
  r = _mm512_maskz_min_ps(0xffff, _mm512_maskz_max_ps(0xffff, r, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
  const __m512i qi = _mm512_maskz_cvt_roundps_epi32(0xffff, r, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_maskz_cvtepi32_epi8(0xffff, qi));
  return qi;
}

// |x| lanes with NaN skipped: max_ps returns its second operand when either is NaN.
inline __m512 abs_max(__m512 acc, __m512 v) { return _mm512_maskz_max_ps(0xffff, _mm512_abs_ps(v), acc); }

// Lane b of the result reduces v[b]'s 16 lanes with `op` (associative and commutative here:
// max of non-NaN values, or integer addition, so the order does not change the value).
template <class Op>
__m512 reduce_sixteen(const __m512 (&v)[16], Op op) {
  __m512 u[8], w[4], t[2];
  // Pairs of vectors -> 8 lanes each: [a.q0 a.q1 b.q0 b.q1] op [a.q2 a.q3 b.q2 b.q3].
  for (int j = 0; j < 8; ++j)
    u[j] = op(_mm512_maskz_shuffle_f32x4(0xffff, v[2 * j], v[2 * j + 1], _MM_SHUFFLE(1, 0, 1, 0)),
              _mm512_maskz_shuffle_f32x4(0xffff, v[2 * j], v[2 * j + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  // -> 4 lanes each: 128-bit lane k of w[j] holds block 4j + k.
  for (int j = 0; j < 4; ++j)
    w[j] = op(_mm512_maskz_shuffle_f32x4(0xffff, u[2 * j], u[2 * j + 1], _MM_SHUFFLE(2, 0, 2, 0)),
              _mm512_maskz_shuffle_f32x4(0xffff, u[2 * j], u[2 * j + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  // -> 2 lanes each: 128-bit lane k of t[j] holds blocks 8j + k and 8j + 4 + k.
  for (int j = 0; j < 2; ++j)
    t[j] = op(_mm512_maskz_shuffle_ps(0xffff, w[2 * j], w[2 * j + 1], _MM_SHUFFLE(1, 0, 1, 0)),
              _mm512_maskz_shuffle_ps(0xffff, w[2 * j], w[2 * j + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  // -> 1 lane each: element 4k + p holds block k + 4p; the permutation puts block b at b.
  const __m512 r = op(_mm512_maskz_shuffle_ps(0xffff, t[0], t[1], _MM_SHUFFLE(2, 0, 2, 0)), _mm512_maskz_shuffle_ps(0xffff, t[0], t[1], _MM_SHUFFLE(3, 1, 3, 1)));
  return _mm512_maskz_permutexvar_ps(0xffff, _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), r);
}

// Sixteen whole blocks (512 values).
void quantize_sixteen_blocks(const float* x, float scale_multiplier, int8_t* q, float* scales, int32_t* sums) {
  __m512 amax[16];
  for (int b = 0; b < 16; ++b)
    amax[b] = abs_max(abs_max(_mm512_setzero_ps(), _mm512_loadu_ps(x + 32 * b)), _mm512_loadu_ps(x + 32 * b + 16));
  const __m512 block_max =
      reduce_sixteen(amax, [](__m512 a, __m512 b) { return _mm512_maskz_max_ps(0xffff, a, b); });
  const __m512 levels = _mm512_set1_ps(127.0f);
  _mm512_storeu_ps(scales, _mm512_mul_ps(_mm512_div_ps(block_max, levels), _mm512_set1_ps(scale_multiplier)));
  alignas(64) float inv[16];
  _mm512_store_ps(inv, _mm512_maskz_div_ps(_mm512_cmp_ps_mask(block_max, _mm512_setzero_ps(), _CMP_GT_OQ), levels, block_max));
  __m512 totals[16];
  for (int b = 0; b < 16; ++b) {
    const __m512 inv_b = _mm512_set1_ps(inv[b]);
    const __m512i lo = quantize_half(_mm512_loadu_ps(x + 32 * b), inv_b, q + 32 * b);
    const __m512i hi = quantize_half(_mm512_loadu_ps(x + 32 * b + 16), inv_b, q + 32 * b + 16);
    totals[b] = _mm512_castsi512_ps(_mm512_add_epi32(lo, hi));
  }
  const __m512 block_sums = reduce_sixteen(totals, [](__m512 a, __m512 b) {
    return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(a), _mm512_castps_si512(b)));
  });
  _mm512_storeu_si512(sums, _mm512_castps_si512(block_sums));
}

}  // namespace

// int4_act.cc's rule on one block: NaN lanes count as 0 in the maximum (std::max skips them)
// and quantize to 0; infinities clamp to +-127 before the conversion rounds half to even.
void quantize_block_avx512(const float* x, float scale_multiplier, int8_t* q, float* scale, int32_t* sum) {
  const __m512 v[2] = {_mm512_loadu_ps(x), _mm512_loadu_ps(x + 16)};
  __m512 amax_lanes = _mm512_setzero_ps();
  for (const __m512 vi : v)
    amax_lanes = _mm512_maskz_max_ps(0xffff, amax_lanes,
                                     _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(vi, vi, _CMP_ORD_Q), _mm512_abs_ps(vi)));
  const __m256 m8 = _mm256_max_ps(_mm512_maskz_extractf32x8_ps(0xff, amax_lanes, 0), _mm512_maskz_extractf32x8_ps(0xff, amax_lanes, 1));
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m8), _mm256_extractf128_ps(m8, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  const float amax = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
  const __m512 inv = _mm512_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
  __m512i total = _mm512_setzero_si512();
  for (int h = 0; h < 2; ++h) total = _mm512_add_epi32(total, quantize_half(v[h], inv, q + 16 * h));
  *scale = amax / 127.0f * scale_multiplier;
  const __m256i t8 = _mm256_add_epi32(_mm512_maskz_extracti32x8_epi32(0xff, total, 0), _mm512_maskz_extracti32x8_epi32(0xff, total, 1));
  __m128i t4 = _mm_add_epi32(_mm256_castsi256_si128(t8), _mm256_extracti128_si256(t8, 1));
  t4 = _mm_add_epi32(t4, _mm_shuffle_epi32(t4, 0x4e));
  *sum = _mm_cvtsi128_si32(_mm_add_epi32(t4, _mm_shuffle_epi32(t4, 0xb1)));
}

void quantize_row_avx512(const float* x, int64_t blocks, float scale_multiplier, int8_t* q, float* scales, int32_t* sums) {
  int64_t b = 0;
  for (; b + 16 <= blocks; b += 16)
    quantize_sixteen_blocks(x + b * kBlock, scale_multiplier, q + b * kBlock, scales + b, sums + b);
  for (; b < blocks; ++b) quantize_block_avx512(x + b * kBlock, scale_multiplier, q + b * kBlock, scales + b, sums + b);
}

}  // namespace ember::runtime::int4
