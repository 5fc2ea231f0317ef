#include <immintrin.h>

// GCC 12's AVX-512 headers pass _mm512_undefined_*() values through, which its
// -Wuninitialized and -Wmaybe-uninitialized report once inlined (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "passes/quantize/clip_search.h"

namespace ember::passes::quant {

void group_errors_avx512(const float* x, int64_t n, const GroupParams* params, int count, QuantFormat f, float* errors) {
  const __m512 magic = _mm512_set1_ps(12582912.0f), limit = _mm512_set1_ps(4194304.0f);
  const __m512 neg_limit = _mm512_set1_ps(-4194304.0f);
  for (int c = 0; c < count; ++c) {
    const float scale = params[c].scale;
    const __m512 inv = _mm512_set1_ps(1.0f / scale), s = _mm512_set1_ps(scale);
    const __m512 lo = _mm512_set1_ps(float(f.qmin() - params[c].zero_point));
    const __m512 hi = _mm512_set1_ps(float(f.qmax() - params[c].zero_point));
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
      const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
      const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
      __m512 q = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(v, inv), neg_limit), limit);
      q = _mm512_sub_ps(_mm512_add_ps(q, magic), magic);
      q = _mm512_min_ps(_mm512_max_ps(q, lo), hi);
      const __m512 d = _mm512_fnmadd_ps(q, s, v);  // masked-off lanes: v = 0, q = 0 (0 is in range)
      acc = _mm512_fmadd_ps(d, d, acc);
    }
    errors[c] = _mm512_reduce_add_ps(acc);
  }
}

}  // namespace ember::passes::quant
