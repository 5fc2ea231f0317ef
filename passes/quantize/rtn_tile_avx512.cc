#include <immintrin.h>

#include <cmath>
#include <new>

// GCC 12's AVX-512 headers pass _mm512_undefined_*() values through, which its
// -Wuninitialized and -Wmaybe-uninitialized report once inlined (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "passes/quantize/clip_search.h"
#include "passes/quantize/rtn_tile.h"

namespace ember::passes::quant {
namespace {

struct Candidate {
  __m512 scale, inv;
};

// params_from_range(lo, hi, f, clip) per lane, symmetric: amax = max(-lo, hi) * clip,
// scale = amax / qmax, or 1 when amax is not above 1e-30.
Candidate candidate(__m512 amax, float clip, float qmax) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 a = _mm512_mul_ps(amax, _mm512_set1_ps(clip));
  const __mmask16 valid = _mm512_cmp_ps_mask(a, _mm512_set1_ps(1e-30f), _CMP_GT_OQ);
  const __m512 scale = _mm512_mask_div_ps(one, valid, a, _mm512_set1_ps(qmax));
  return {scale, _mm512_div_ps(one, scale)};
}

// group_errors_avx512's error of one candidate for 16 groups at once: row k of the tile is
// element k of every lane's group, accumulated in acc[k mod 16] as that function's lane k mod
// 16, rows past n are zeros (its masked lanes), and the accumulators are reduced in the tree
// of _mm512_reduce_add_ps: (i, i + 8), (i, i + 4), (0, 2) and (1, 3), then the two.
// kFinite (a tile without NaN or infinity): |x / scale| <= qmax / clip, so the clamp to
// +-2^22 does nothing and the 1.5 * 2^23 trick is a plain rounding to nearest even: 6 steps
// instead of 9, the same values.
template <bool kFinite>
__m512 candidate_error(const __m512* rows, int64_t padded, Candidate c, float qmin, float qmax) {
  const __m512 magic = _mm512_set1_ps(12582912.0f), limit = _mm512_set1_ps(4194304.0f);
  const __m512 neg_limit = _mm512_set1_ps(-4194304.0f);
  const __m512 lo = _mm512_set1_ps(qmin), hi = _mm512_set1_ps(qmax);
  __m512 acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_setzero_ps();
  for (int64_t k0 = 0; k0 < padded; k0 += 16) {
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) {
      const __m512 v = rows[k0 + i];
      __m512 q;
      if constexpr (kFinite) {
        q = _mm512_roundscale_ps(_mm512_mul_ps(v, c.inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      } else {
        q = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(v, c.inv), neg_limit), limit);
        q = _mm512_sub_ps(_mm512_add_ps(q, magic), magic);
      }
      q = _mm512_min_ps(_mm512_max_ps(q, lo), hi);
      const __m512 d = _mm512_fnmadd_ps(q, c.scale, v);
      acc[i] = _mm512_fmadd_ps(d, d, acc[i]);
    }
  }
  __m512 t[8];
  for (int i = 0; i < 8; ++i) t[i] = _mm512_add_ps(acc[i + 8], acc[i]);
  for (int i = 0; i < 4; ++i) t[i] = _mm512_add_ps(t[i + 4], t[i]);
  return _mm512_add_ps(_mm512_add_ps(t[0], t[2]), _mm512_add_ps(t[1], t[3]));
}

// One row's 16 codes (bytes) into the stored layout: bytes, or nibble pairs (lane 2i low).
void store_codes(__m128i bytes, int bits, int lanes, uint8_t* out) {
  if (bits == 4) {
    const __m128i pairs = _mm_or_si128(_mm_and_si128(bytes, _mm_set1_epi16(0x000f)),
                                       _mm_and_si128(_mm_srli_epi16(bytes, 4), _mm_set1_epi16(0x00f0)));
    bytes = _mm_packus_epi16(pairs, pairs);
    lanes /= 2;
  }
  _mm_mask_storeu_epi8(out, __mmask16(lanes >= 16 ? 0xffff : (1u << lanes) - 1), bytes);
}

}  // namespace

void rtn_tile16_avx512(const float* w, int64_t stride, int64_t n, int lanes, QuantFormat f, bool search, float* scales,
                       uint8_t* codes, int64_t code_stride, double* num, double* den) {
  const __mmask16 m = lanes >= 16 ? __mmask16(0xffff) : __mmask16((1u << lanes) - 1);
  const int64_t padded = (n + 15) / 16 * 16;
  // The tile's rows, zero past n; kept on the stack (a group of up to 128 rows) or the heap.
  __m512 stack_rows[128];
  __m512* rows = padded <= 128 ? stack_rows : static_cast<__m512*>(_mm_malloc(size_t(padded) * 64, 64));
  if (!rows) throw std::bad_alloc();
  __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
  __mmask16 nan = 0;
  for (int64_t k = 0; k < padded; ++k) {
    const __m512 v = k < n ? _mm512_maskz_loadu_ps(m, w + k * stride) : _mm512_setzero_ps();
    rows[k] = v;
    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    lo = _mm512_min_ps(v, lo);  // std::min(lo, v) = v < lo ? v : lo, as group_range
    hi = _mm512_max_ps(v, hi);  // std::max(hi, v) = hi < v ? v : hi
  }
  const __m512 amax = _mm512_max_ps(hi, _mm512_xor_ps(lo, _mm512_set1_ps(-0.0f)));  // std::max(-lo, hi)
  const float qmin = float(f.qmin()), qmax = float(f.qmax());
  Candidate best = candidate(amax, 1.0f, qmax);
  const bool finite = nan == 0 && _mm512_cmp_ps_mask(amax, _mm512_set1_ps(INFINITY), _CMP_LT_OQ) == 0xffff;
  const auto error_of = [&](Candidate c) {
    return finite ? candidate_error<true>(rows, padded, c, qmin, qmax) : candidate_error<false>(rows, padded, c, qmin, qmax);
  };
  if (search) {
    __m512 best_err = error_of(best);
    for (int s = 1; s < kClipSteps; ++s) {
      const Candidate c = candidate(amax, clip_factor(f.bits, s), qmax);
      const __m512 err = error_of(c);
      // choose_params: a candidate replaces the best while the best error is above 0.
      const __mmask16 take = _mm512_cmp_ps_mask(best_err, _mm512_setzero_ps(), _CMP_GT_OQ) &
                             _mm512_cmp_ps_mask(err, best_err, _CMP_LT_OQ);
      best_err = _mm512_mask_mov_ps(best_err, take, err);
      best.scale = _mm512_mask_mov_ps(best.scale, take, c.scale);
      best.inv = _mm512_mask_mov_ps(best.inv, take, c.inv);
    }
  }
  _mm512_mask_storeu_ps(scales, m, best.scale);
  // quantize_value per element; a row with |x / scale| >= 2^22 (or NaN) takes it lane by lane.
  const __m512 limit = _mm512_set1_ps(4194304.0f);
  const __m512i qlo = _mm512_set1_epi32(f.qmin()), qhi = _mm512_set1_epi32(f.qmax());
  __m512 num_acc = _mm512_setzero_ps(), den_acc = _mm512_setzero_ps();
  for (int64_t k = 0; k < n; ++k) {
    const __m512 v = rows[k], t = _mm512_mul_ps(v, best.inv);
    const __mmask16 inside = _mm512_cmp_ps_mask(_mm512_abs_ps(t), limit, _CMP_LT_OQ);
    // Round half to even as round_half_even's 1.5 * 2^23 trick does below 2^22 (written as a
    // rounding instruction: GCC would contract the trick's add into the multiply, an FMA).
    __m512i q = _mm512_cvttps_epi32(_mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    q = _mm512_min_epi32(_mm512_max_epi32(q, qlo), qhi);
    if (inside != 0xffff) {
      alignas(64) float x[16], s[16];
      alignas(64) int32_t out[16];
      _mm512_store_ps(x, v);
      _mm512_store_ps(s, best.scale);
      _mm512_store_si512(out, q);
      for (int i = 0; i < 16; ++i)
        if (!((inside >> i) & 1)) out[i] = quantize_value(x[i], 1.0f / s[i], 0, f.qmin(), f.qmax());
      q = _mm512_load_si512(out);
    }
    store_codes(_mm512_cvtepi32_epi8(q), f.bits, lanes, codes + k * code_stride);
    const __m512 d = _mm512_sub_ps(v, _mm512_mul_ps(_mm512_cvtepi32_ps(q), best.scale));
    num_acc = _mm512_fmadd_ps(d, d, num_acc);
    den_acc = _mm512_fmadd_ps(v, v, den_acc);
  }
  *num += double(_mm512_reduce_add_ps(num_acc));
  *den += double(_mm512_reduce_add_ps(den_acc));
  if (rows != stack_rows) _mm_free(rows);
}

bool rtn_row8_avx512(const float* x, int64_t n, const float* inv, const float* scale, const int32_t* zp, QuantFormat f,
                     uint8_t* out, double* num, double* den) {
  const __m512 limit = _mm512_set1_ps(4194304.0f);
  const __m512i qlo = _mm512_set1_epi32(f.qmin()), qhi = _mm512_set1_epi32(f.qmax());
  // First pass: all in range? (|x * inv| < 2^22, where round_half_even is a plain rounding.)
  for (int64_t c = 0; c < n; c += 16) {
    const __mmask16 m = n - c >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - c)) - 1);
    const __m512 t = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + c), _mm512_maskz_loadu_ps(m, inv + c));
    if (_mm512_mask_cmp_ps_mask(m, _mm512_abs_ps(t), limit, _CMP_LT_OQ) != m) return false;
  }
  __m512 num_acc = _mm512_setzero_ps(), den_acc = _mm512_setzero_ps();
  for (int64_t c = 0; c < n; c += 16) {
    const __mmask16 m = n - c >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - c)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + c), s = _mm512_maskz_loadu_ps(m, scale + c);
    const __m512i z = _mm512_maskz_loadu_epi32(m, zp + c);
    const __m512 t = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, inv + c));
    __m512i q = _mm512_add_epi32(_mm512_cvttps_epi32(_mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)), z);
    q = _mm512_min_epi32(_mm512_max_epi32(q, qlo), qhi);
    _mm512_mask_cvtepi32_storeu_epi8(out + c, m, q);
    const __m512 d = _mm512_sub_ps(v, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(q, z)), s));
    num_acc = _mm512_fmadd_ps(d, d, num_acc);
    den_acc = _mm512_fmadd_ps(v, v, den_acc);
  }
  *num += double(_mm512_reduce_add_ps(num_acc));
  *den += double(_mm512_reduce_add_ps(den_acc));
  return true;
}

}  // namespace ember::passes::quant
