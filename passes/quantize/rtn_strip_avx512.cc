// INT8 per channel for a weight stored [K, C] with AVX-512 (rtn_tile.h): a strip of up to 64
// channels over all K rows, read twice while it is still in the cache (range, then codes)
// instead of two passes over the whole matrix. Symmetric formats: the range gives the scale
// (params_from_range with no clipping), each code is quantize_value's.
#include <immintrin.h>

#include <cmath>

// GCC 12's AVX-512 headers pass _mm512_undefined_*() values through, which its
// -Wuninitialized and -Wmaybe-uninitialized report once inlined (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "passes/quantize/rtn_tile.h"

namespace ember::passes::quant {
namespace {

constexpr int kVectors = 4;  // 64 channels

__mmask16 lane_mask(int lanes, int v) {
  const int left = lanes - 16 * v;
  return left >= 16 ? __mmask16(0xffff) : left > 0 ? __mmask16((1u << left) - 1) : __mmask16(0);
}

}  // namespace

void rtn_strip64_int8_avx512(const float* w, int64_t K, int64_t stride, int lanes, QuantFormat f, float* scales,
                             uint8_t* codes, int64_t code_stride, double* num, double* den) {
  __mmask16 m[kVectors];
  __m512 lo[kVectors], hi[kVectors];
  for (int v = 0; v < kVectors; ++v) m[v] = lane_mask(lanes, v), lo[v] = hi[v] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k)
    for (int v = 0; v < kVectors; ++v) {
      const __m512 x = _mm512_maskz_loadu_ps(m[v], w + k * stride + 16 * v);
      lo[v] = _mm512_min_ps(x, lo[v]);  // std::min(lo, v) = v < lo ? v : lo, as group_range
      hi[v] = _mm512_max_ps(x, hi[v]);  // std::max(hi, v) = hi < v ? v : hi
    }
  // params_from_range(lo, hi, f, 1): amax = max(-lo, hi), scale = amax / qmax, or 1.
  const __m512 one = _mm512_set1_ps(1.0f), qmax = _mm512_set1_ps(float(f.qmax()));
  __m512 scale[kVectors], inv[kVectors];
  for (int v = 0; v < kVectors; ++v) {
    const __m512 amax = _mm512_max_ps(hi[v], _mm512_xor_ps(lo[v], _mm512_set1_ps(-0.0f)));
    const __mmask16 valid = _mm512_cmp_ps_mask(amax, _mm512_set1_ps(1e-30f), _CMP_GT_OQ);
    scale[v] = _mm512_mask_div_ps(one, valid, amax, qmax);
    inv[v] = _mm512_div_ps(one, scale[v]);
    _mm512_mask_storeu_ps(scales + 16 * v, m[v], scale[v]);
  }
  const __m512 limit = _mm512_set1_ps(4194304.0f);
  const __m512i qlo = _mm512_set1_epi32(f.qmin()), qhi = _mm512_set1_epi32(f.qmax());
  __m512 num_acc = _mm512_setzero_ps(), den_acc = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k)
    for (int v = 0; v < kVectors; ++v) {
      if (m[v] == 0) continue;
      const __m512 x = _mm512_maskz_loadu_ps(m[v], w + k * stride + 16 * v), t = _mm512_mul_ps(x, inv[v]);
      // Round half to even as round_half_even does below 2^22; beyond (or NaN) lane by lane.
      __m512i q = _mm512_cvttps_epi32(_mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
      q = _mm512_min_epi32(_mm512_max_epi32(q, qlo), qhi);
      const __mmask16 inside = _mm512_cmp_ps_mask(_mm512_abs_ps(t), limit, _CMP_LT_OQ);
      if ((inside & m[v]) != m[v]) {
        alignas(64) float xs[16], is[16];
        alignas(64) int32_t out[16];
        _mm512_store_ps(xs, x);
        _mm512_store_ps(is, inv[v]);
        _mm512_store_si512(out, q);
        for (int i = 0; i < 16; ++i)
          if (!((inside >> i) & 1)) out[i] = quantize_value(xs[i], is[i], 0, f.qmin(), f.qmax());
        q = _mm512_load_si512(out);
      }
      _mm512_mask_cvtepi32_storeu_epi8(codes + k * code_stride + 16 * v, m[v], q);
      const __m512 d = _mm512_maskz_sub_ps(m[v], x, _mm512_mul_ps(_mm512_cvtepi32_ps(q), scale[v]));
      num_acc = _mm512_fmadd_ps(d, d, num_acc);
      den_acc = _mm512_fmadd_ps(x, x, den_acc);
    }
  *num += double(_mm512_reduce_add_ps(num_acc));
  *den += double(_mm512_reduce_add_ps(den_acc));
}

}  // namespace ember::passes::quant
