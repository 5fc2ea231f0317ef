// vector_math.h compiled for AVX-512 (the build gives *_avx512.cc files those flags): the
// same formulas on 16 lanes; FMA contraction as in the AVX2 build, so the two agree bit for bit
// except where GCC contracts a different multiply-add. quantize_u8 is written out with
// intrinsics: GCC's if-conversion of the generic loop juggles (and spills) mask registers.
#include <immintrin.h>

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
    // (The all-lanes mask forms: GCC 12 warns that the plain ones' undefined sources are used.)
    v = _mm512_mask_min_ps(v, 0xFFFF, _mm512_mask_max_ps(v, 0xFFFF, v, vlo), vhi);
    const __m512i q = _mm512_mask_cvt_roundps_epi32(shift, 0xFFFF, v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm512_add_epi32(q, shift);
  };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_mask_cvtepi32_storeu_epi8(y + i, 0xFFFF, quantize(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 tail = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_cvtepi32_storeu_epi8(y + i, tail, quantize(_mm512_maskz_loadu_ps(tail, x + i)));
  }
}

constexpr Table make_table() {
  Table t = Generic::table();
  t.quantize_u8 = quantize_u8;
  return t;
}
constexpr Table kTable = make_table();
}  // namespace

const Table& avx512_table() { return kTable; }

}  // namespace ember::runtime::vmath
