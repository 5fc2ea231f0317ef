// vector_math.h compiled for AVX-512 (the build gives *_avx512.cc files those flags): the
// same formulas on 16 lanes; FMA contraction as in the AVX2 build, so the two agree bit for bit
// except where GCC contracts a different multiply-add. The hottest loops are written out with
// intrinsics, for what the generic code cannot express:
//   - abs_max: four accumulators;
//   - quantize_u8: GCC's if-conversion of the generic loop juggles (and spills) mask registers;
//   - exp (Softmax, GELU, erf): 2^n applied by vscalefps, one instruction for the generic
//     code's two-step exponent arithmetic, exact wherever the result is a normal float;
//   - the divisions of GELU and erf: a reciprocal estimate and one Newton step (within an ulp).
#include <immintrin.h>

// GCC 12's AVX-512 headers pass _mm512_undefined_*() values through, which its
// -Wuninitialized and -Wmaybe-uninitialized report once inlined (GCC bug 105593): false
// positives.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <algorithm>

#include "runtime/vmath/vector_math_loops.h"

namespace ember::runtime::vmath {
namespace {
struct Avx512 {
  static constexpr bool kFma = true;  // compiled with -mfma
};
using Generic = Loops<Avx512>;

// Generic::quantize_u8's bytes. Its steps, with the clamp moved before the rounding: for
// integer bounds, clamp(round(v) + zp, lo, hi) == round(clamp(v, lo - zp, hi - zp)) + zp,
// and a clamped |v| < 2^22 lets the conversion round half to even by itself.
void quantize_u8(const float* x, int64_t n, float scale, int32_t zero_point, int32_t lo, int32_t hi, int32_t offset,
                 uint8_t* y) {
  const float r = 1.0f / scale;
  const bool reciprocal_ok = r == r && r < 1e37f && r > -1e37f && (r > 1e-37f || r < -1e-37f);
  const int64_t span = int64_t(hi) - zero_point, floor = int64_t(lo) - zero_point;
  if (!reciprocal_ok || lo > hi || span >= (1 << 22) || floor <= -(1 << 22))
    return Generic::quantize_u8(x, n, scale, zero_point, lo, hi, offset, y);
  const __m512 vr = _mm512_set1_ps(r), vs = _mm512_set1_ps(scale), limit = _mm512_set1_ps(Generic::QuantizeTo::kLimit);
  const __m512 vlo = _mm512_set1_ps(float(floor)), vhi = _mm512_set1_ps(float(span));
  const __m512i shift = _mm512_set1_epi32(zero_point + offset);
  auto quantize = [&](__m512 xv) {
    const __m512 q0 = _mm512_mul_ps(xv, vr);
    const __m512 q1 = _mm512_fmadd_ps(_mm512_fnmadd_ps(q0, vs, xv), vr, q0);  // RN(x / scale)
    // Beyond 2^22 (and for inf and NaN) q0 decides; NaN then becomes 0.
    __m512 v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(_mm512_abs_ps(q0), limit, _CMP_LT_OQ), q0, q1);
    v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v);

    v = _mm512_min_ps(_mm512_max_ps(v, vlo), vhi);
    return _mm512_add_epi32(_mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), shift);
  };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), _mm512_cvtepi32_epi8(quantize(_mm512_loadu_ps(x + i))));
  if (i < n) {
    const __mmask16 tail = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_cvtepi32_storeu_epi8(y + i, tail, quantize(_mm512_maskz_loadu_ps(tail, x + i)));
  }
}

// fast_math.h's fast_exp with the scaling by 2^n done by vscalefps.
inline __m512 exp16(__m512 x) {
  // The clamps of fast_exp; max and min return their second operand where one is NaN, so NaN passes.
  x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
  x = _mm512_min_ps(_mm512_set1_ps(88.8f), x);
  const __m512 round = _mm512_set1_ps(12582912.0f);
  const __m512 n = _mm512_sub_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), round), round);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  const __m512 y = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(y, n);
}

// 1 / d by the 14-bit estimate and one Newton step.
inline __m512 reciprocal16(__m512 d) {
  const __m512 r0 = _mm512_rcp14_ps(d);
  return _mm512_fmadd_ps(r0, _mm512_fnmadd_ps(d, r0, _mm512_set1_ps(1.0f)), r0);
}

// y[i] = f(x[i]) sixteen lanes at a time, the tail under a mask.
template <class F>
inline void map16(const float* x, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, f(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 tail = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, tail, f(_mm512_maskz_loadu_ps(tail, x + i)));
  }
}

void exp_shifted(const float* x, float* y, int64_t n, float shift) {
  const __m512 s = _mm512_set1_ps(shift);
  map16(x, y, n, [&](__m512 v) { return exp16(_mm512_sub_ps(v, s)); });
}

// v / (1 + e^(-2u)), u = sqrt(2/pi) (v + 0.044715 v^3). -2u stops at 88, where e^(-2u) is
// still finite (the reciprocal of inf would give NaN) and v / (1 + e^(-2u)) is 0 to 1e-37.
void gelu_tanh(const float* x, float* y, int64_t n) {
  map16(x, y, n, [](__m512 v) {
    const __m512 v2 = _mm512_mul_ps(v, v);
    __m512 t = _mm512_mul_ps(v, _mm512_fmadd_ps(v2, _mm512_set1_ps(-1.59576912160573071176f * 0.044715f),
                                                _mm512_set1_ps(-1.59576912160573071176f)));
    t = _mm512_min_ps(_mm512_set1_ps(88.0f), t);
    return _mm512_mul_ps(v, reciprocal16(_mm512_add_ps(_mm512_set1_ps(1.0f), exp16(t))));
  });
}

int64_t extent_above(const float* x, int64_t n, float threshold) {
  const __m512 t = _mm512_set1_ps(threshold);
  int64_t e = n;
  for (; e >= 16; e -= 16)  // NLE_UQ: not (x <= t), true for NaN
    if (_mm512_cmp_ps_mask(_mm512_loadu_ps(x + e - 16), t, _CMP_NLE_UQ)) break;
  while (e > 0 && x[e - 1] <= threshold) --e;
  return e;
}

// The max pass, then e^(x - max) stored and summed (float lanes over blocks of 64, block
// totals in double), then the scaling.
void softmax(const float* x, float* y, int64_t n) {
  __m512 top = _mm512_set1_ps(x[0]);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) top = _mm512_max_ps(_mm512_loadu_ps(x + i), top);  // NaN skipped
  const __mmask16 tail = static_cast<__mmask16>((1u << (n - i)) - 1);
  if (i < n) top = _mm512_mask_max_ps(top, tail, _mm512_maskz_loadu_ps(tail, x + i), top);
  const __m512 shift = _mm512_set1_ps(_mm512_reduce_max_ps(top));  // NaN only when x[0] is
  __m512d total_lo = _mm512_setzero_pd(), total_hi = _mm512_setzero_pd();
  for (i = 0; i < n; i += 64) {
    __m512 block = _mm512_setzero_ps();
    for (int64_t j = i; j < std::min(n, i + 64); j += 16) {
      const __mmask16 m = j + 16 <= n ? __mmask16(0xFFFF) : tail;
      const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + j), shift));
      _mm512_mask_storeu_ps(y + j, m, e);
      block = _mm512_mask_add_ps(block, m, block, e);
    }
    total_lo = _mm512_add_pd(total_lo, _mm512_cvtps_pd(_mm512_castps512_ps256(block)));
    total_hi = _mm512_add_pd(total_hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps(block, 1)));
  }
  const __m512 inv = _mm512_set1_ps(static_cast<float>(1.0 / _mm512_reduce_add_pd(_mm512_add_pd(total_lo, total_hi))));
  for (i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_loadu_ps(y + i), inv));
  if (i < n) _mm512_mask_storeu_ps(y + i, tail, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, y + i), inv));
}

// max |x| with four accumulators (the generic reduction keeps one); max returns its second
// operand where one is NaN, so NaNs are skipped.
float abs_max(const float* x, int64_t n) {
  __m512 m[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64)
    for (int k = 0; k < 4; ++k) m[k] = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + i + 16 * k)), m[k]);
  for (; i < n; i += 16) {
    const __mmask16 lanes = i + 16 <= n ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1);
    m[0] = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(lanes, x + i)), m[0]);
  }
  return _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(m[0], m[1]), _mm512_max_ps(m[2], m[3])));
}

constexpr Table make_table() {
  Table t = Generic::table();
  t.exp_shifted = exp_shifted;
  t.softmax = softmax;
  t.gelu_tanh = gelu_tanh;
  t.extent_above = extent_above;
  t.abs_max = abs_max;
  t.quantize_u8 = quantize_u8;
  return t;
}
constexpr Table kTable = make_table();
}  // namespace

const Table& avx512_table() { return kTable; }

}  // namespace ember::runtime::vmath
