// clip_tile.h: choose_params' clipping search for 16 groups at once, one per lane.
// Before: 26 candidates per tile, each scale (two divisions) and lower bound computed on the
// way, every candidate evaluated with both clamps. After: the same choice, bit for bit
// (clip_tile.h lists the shortcuts; why each is exact follows).
//
// Divisions: scale = a / qmax is y = a * r, e = a - y * qmax, y + e * r with r = fl(1 / qmax)
// (Markstein's correction, correctly rounded for these divisors), and inv = 1 / scale is a
// 14-bit estimate, a Newton step and the same correction, then one unit in the last place
// added for a significand of all ones (the one case the correction rounds down).
// test_clip_tile checks both against the division on every significand at many exponents,
// with the range of scales a finite tile can have (normal numbers below 2^126).
//
// The lower bound: the search's error of a candidate is a float sum, by fused multiply-adds
// into 16 accumulators and a tree of 4 additions, of the exact squares d_i^2 of the rounding
// errors d_i. A term passes through at most D = padded / 16 + 4 roundings, each of which
// keeps a non-negative value z above z (1 - u) - 2^-150 (u = 2^-24; the absolute part for
// subnormal results), so the sum is at least (1 - u)^D sum d_i^2 less (padded + 16) 2^-150.
// A value x above qmax * scale has the code qmax, so its d is x - qmax * scale rounded once
// (the fused multiply-add the search uses; the rounded difference is positive only when the
// exact one is); one below qmin * scale likewise; any other has d^2 >= 0. The bound adds those
// clipping errors of the two largest and two smallest values (rounded squares and sums: at
// most (1 + u)^4 above the exact), times 1 - 2^-17, less 2^-126 (two more roundings): below
// the error for groups up to 1024 values (D + 6 stays under 2^7 = 2^-17 / u); larger groups
// are not bounded.
#include <immintrin.h>

#include <cmath>

// GCC 12's AVX-512 headers pass _mm512_undefined_*() values through, which its
// -Wuninitialized and -Wmaybe-uninitialized report once inlined (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "passes/quantize/clip_search.h"
#include "passes/quantize/clip_tile.h"

namespace ember::passes::quant {
namespace {

using Candidate = LaneScales;

// params_from_range(lo, hi, f, clip) per lane, symmetric: amax = max(-lo, hi) * clip,
// scale = amax / qmax, or 1 when amax is not above 1e-30.
Candidate candidate(__m512 amax, float clip, float qmax) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 a = _mm512_mul_ps(amax, _mm512_set1_ps(clip));
  const __mmask16 valid = _mm512_cmp_ps_mask(a, _mm512_set1_ps(1e-30f), _CMP_GT_OQ);
  const __m512 scale = _mm512_mask_div_ps(one, valid, a, _mm512_set1_ps(qmax));
  return {scale, _mm512_div_ps(one, scale)};
}

// candidate's scale without a division (the header says why it is the same value), for a
// finite amax.
__m512 scale_fma(__m512 amax, float clip, float qmax) {
  const __m512 q = _mm512_set1_ps(qmax), r = _mm512_set1_ps(1.0f / qmax);
  const __m512 a = _mm512_mul_ps(amax, _mm512_set1_ps(clip));
  const __mmask16 valid = _mm512_cmp_ps_mask(a, _mm512_set1_ps(1e-30f), _CMP_GT_OQ);
  const __m512 y = _mm512_mul_ps(a, r);
  return _mm512_mask_mov_ps(_mm512_set1_ps(1.0f), valid, _mm512_fmadd_ps(_mm512_fnmadd_ps(y, q, a), r, y));
}

// 1 / scale without a division, for scales that are normal numbers below 2^126.
__m512 reciprocal_fma(__m512 scale) {
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 inv = _mm512_rcp14_ps(scale);
  inv = _mm512_fmadd_ps(_mm512_fnmadd_ps(scale, inv, one), inv, inv);
  inv = _mm512_fmadd_ps(_mm512_fnmadd_ps(scale, inv, one), inv, inv);
  const __m512i mantissa = _mm512_set1_epi32(0x7fffff);
  const __mmask16 all_ones =
      _mm512_cmpeq_epi32_mask(_mm512_and_si512(_mm512_castps_si512(scale), mantissa), mantissa);
  const __m512i bits = _mm512_castps_si512(inv);
  return _mm512_castsi512_ps(_mm512_mask_add_epi32(bits, all_ones, bits, _mm512_set1_epi32(1)));
}

__m512 abs_max(const TileRange& r) { return _mm512_max_ps(r.hi, _mm512_xor_ps(r.lo, _mm512_set1_ps(-0.0f))); }

enum Clamps { kNoClamp = 0, kClampHi = 1, kClampLo = 2, kClampBoth = 3 };

// The clipping factors, computed once (clip_factor keeps them out of FMA contraction), and the
// clamps each needs on a finite tile. A lane's values have |x| <= amax, and amax / scale
// (rounded as x / scale is, so never below any |x| / scale) is qmax / clip within 4 roundings
// (scale = amax * clip / qmax, then its reciprocal and the product): when qmax / clip, with
// a margin of 2^-20 for them, stays under qmax + 1/2 no code rounds past qmax, and under
// -qmin + 1/2 none below qmin (lanes whose scale is 1 hold values under 1e-30).
struct ClipFactors {
  float c[kClipSteps];
  int clamps[kClipSteps];
  explicit ClipFactors(int bits) {
    const double qmax = double((1 << (bits - 1)) - 1), qmin = -double(1 << (bits - 1));
    for (int s = 0; s < kClipSteps; ++s) {
      c[s] = clip_factor(bits, s);
      const double top = qmax / double(c[s]) * (1.0 + 0x1p-20);
      clamps[s] = (top < qmax + 0.5 ? 0 : kClampHi) | (top < -qmin + 0.5 ? 0 : kClampLo);
    }
  }
};
const ClipFactors& clip_factors(int bits) {
  static const ClipFactors four(4), eight(8);
  return bits <= 4 ? four : eight;
}

// The reduction tree of _mm512_reduce_add_ps over 16 accumulators: (i, i + 8), (i, i + 4),
// (0, 2) and (1, 3), then the two.
inline __attribute__((always_inline)) __m512 reduce_tree(const __m512* acc) {
  __m512 t[8];
  for (int i = 0; i < 8; ++i) t[i] = _mm512_add_ps(acc[i + 8], acc[i]);
  for (int i = 0; i < 4; ++i) t[i] = _mm512_add_ps(t[i + 4], t[i]);
  return _mm512_add_ps(_mm512_add_ps(t[0], t[2]), _mm512_add_ps(t[1], t[3]));
}

// One element's rounding error under a candidate, d = v - clamp(round(v / scale)) * scale, as
// group_errors_avx512 computes it. kFinite (a tile without NaN or infinity): |x / scale| <=
// qmax / clip, so the clamp to +-2^22 does nothing and the 1.5 * 2^23 trick is a plain rounding
// to nearest even: the same values in fewer steps. kLo / kHi: whether the code range's clamps
// are applied (false only when no value of the tile can reach past that end).
template <bool kFinite, bool kLo = true, bool kHi = true>
inline __attribute__((always_inline)) __m512 rounding_error(__m512 v, Candidate c, __m512 lo, __m512 hi) {
  __m512 q;
  if constexpr (kFinite) {
    q = _mm512_roundscale_ps(_mm512_mul_ps(v, c.inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  } else {
    const __m512 magic = _mm512_set1_ps(12582912.0f), limit = _mm512_set1_ps(4194304.0f);
    q = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(v, c.inv), _mm512_set1_ps(-4194304.0f)), limit);
    q = _mm512_sub_ps(_mm512_add_ps(q, magic), magic);
  }
  if constexpr (kLo) q = _mm512_max_ps(q, lo);
  if constexpr (kHi) q = _mm512_min_ps(q, hi);
  return _mm512_fnmadd_ps(q, c.scale, v);
}

// group_errors_avx512's error of one candidate for 16 groups at once: row k of the tile is
// element k of every lane's group, accumulated in acc[k mod 16] as that function's lane k mod
// 16, rows past n are zeros (its masked lanes), and the accumulators are reduced in its tree.
// kBlocks > 0: padded == 16 * kBlocks, known when compiling, so that the accumulators stay in
// registers (a loop of unknown length keeps them in memory); 0: any padded.
template <bool kFinite, bool kLo = true, bool kHi = true, int kBlocks = 0>
__m512 candidate_error(const __m512* rows, int64_t padded, Candidate c, float qmin, float qmax) {
  const __m512 lo = _mm512_set1_ps(qmin), hi = _mm512_set1_ps(qmax);
  __m512 acc[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_setzero_ps();
  const int64_t blocks = kBlocks > 0 ? kBlocks : padded / 16;
#pragma GCC unroll 8
  for (int64_t b = 0; b < blocks; ++b) {
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) {
      const __m512 d = rounding_error<kFinite, kLo, kHi>(rows[16 * b + i], c, lo, hi);
      acc[i] = _mm512_fmadd_ps(d, d, acc[i]);
    }
  }
  return reduce_tree(acc);
}

template <bool kLo, bool kHi>
__m512 finite_error_clamped(const __m512* rows, int64_t padded, Candidate c, float qmin, float qmax) {
  switch (padded) {  // blocks of 32, 64 and 128 values
    case 32: return candidate_error<true, kLo, kHi, 2>(rows, padded, c, qmin, qmax);
    case 64: return candidate_error<true, kLo, kHi, 4>(rows, padded, c, qmin, qmax);
    case 128: return candidate_error<true, kLo, kHi, 8>(rows, padded, c, qmin, qmax);
    default: return candidate_error<true, kLo, kHi>(rows, padded, c, qmin, qmax);
  }
}

__m512 finite_error(const __m512* rows, int64_t padded, Candidate c, int clamps, float qmin, float qmax) {
  switch (clamps) {
    case kNoClamp: return finite_error_clamped<false, false>(rows, padded, c, qmin, qmax);
    case kClampHi: return finite_error_clamped<false, true>(rows, padded, c, qmin, qmax);
    case kClampLo: return finite_error_clamped<true, false>(rows, padded, c, qmin, qmax);
    default: return finite_error_clamped<true, true>(rows, padded, c, qmin, qmax);
  }
}

// The lower bound of a candidate's error per lane: the clipping errors of the two largest and
// two smallest values, less the margin (the header says why).
__m512 lower_bound(const TileRange& r, __m512 scale, __m512 code_lo, __m512 code_hi) {
  const __m512 zero = _mm512_setzero_ps();
  const auto above = [&](__m512 x) {
    const __m512 d = _mm512_max_ps(_mm512_fnmadd_ps(code_hi, scale, x), zero);
    return _mm512_mul_ps(d, d);
  };
  const auto below = [&](__m512 x) {
    const __m512 d = _mm512_min_ps(_mm512_fnmadd_ps(code_lo, scale, x), zero);
    return _mm512_mul_ps(d, d);
  };
  const __m512 sum = _mm512_add_ps(_mm512_add_ps(above(r.hi), above(r.hi2)), _mm512_add_ps(below(r.lo), below(r.lo2)));
  const __m512 shrunk = _mm512_mul_ps(sum, _mm512_set1_ps(1.0f - 0x1p-17f));
  return _mm512_sub_ps(shrunk, _mm512_set1_ps(0x1p-126f));
}

// The search on a tile with a NaN or an infinity: every candidate, with the exact slow steps.
Candidate search_non_finite(const __m512* rows, int64_t padded, __m512 amax, QuantFormat f) {
  const float qmin = float(f.qmin()), qmax = float(f.qmax());
  const ClipFactors& clips = clip_factors(f.bits);
  Candidate best = candidate(amax, clips.c[0], qmax);
  __m512 best_err = candidate_error<false>(rows, padded, best, qmin, qmax);
  for (int s = 1; s < kClipSteps; ++s) {
    const Candidate c = candidate(amax, clips.c[s], qmax);
    const __mmask16 open = _mm512_cmp_ps_mask(best_err, _mm512_setzero_ps(), _CMP_GT_OQ);
    const __m512 err = candidate_error<false>(rows, padded, c, qmin, qmax);
    const __mmask16 take = open & _mm512_cmp_ps_mask(err, best_err, _CMP_LT_OQ);
    best_err = _mm512_mask_mov_ps(best_err, take, err);
    best.scale = _mm512_mask_mov_ps(best.scale, take, c.scale);
    best.inv = _mm512_mask_mov_ps(best.inv, take, c.inv);
  }
  return best;
}

}  // namespace

int64_t clip_division_mismatches(int exponent, int qmax) {
  const __m512 q = _mm512_set1_ps(float(qmax)), one = _mm512_set1_ps(1.0f);
  int64_t mismatches = 0;
  for (uint32_t m = 0; m < (1u << 23); m += 16) {
    const __m512i bits = _mm512_or_si512(_mm512_set1_epi32(int((uint32_t(exponent + 127) << 23) | m)),
                                         _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    const __m512 x = _mm512_castsi512_ps(bits);
    // scale_fma with clip 1 divides x by qmax (x above 1e-30); reciprocal_fma inverts x.
    const __mmask16 scale_wrong = _mm512_cmp_ps_mask(scale_fma(x, 1.0f, float(qmax)), _mm512_div_ps(x, q), _CMP_NEQ_UQ);
    const __mmask16 inv_wrong = _mm512_cmp_ps_mask(reciprocal_fma(x), _mm512_div_ps(one, x), _CMP_NEQ_UQ);
    mismatches += __builtin_popcount(unsigned(exponent >= -99 ? scale_wrong : 0)) + __builtin_popcount(unsigned(inv_wrong));
  }
  return mismatches;
}

LaneScales minmax_scales(const TileRange& range, QuantFormat f) { return candidate(abs_max(range), 1.0f, float(f.qmax())); }

LaneScales clip_search_tile(const __m512* rows, int64_t padded, const TileRange& range, QuantFormat f) {
  const __m512 amax = abs_max(range);
  if (!range.finite()) return search_non_finite(rows, padded, amax, f);
  const float qmin = float(f.qmin()), qmax = float(f.qmax());
  const __m512 code_lo = _mm512_set1_ps(qmin), code_hi = _mm512_set1_ps(qmax);
  const ClipFactors& clips = clip_factors(f.bits);
  Candidate best;
  best.scale = scale_fma(amax, clips.c[0], qmax);
  best.inv = reciprocal_fma(best.scale);
  __m512 best_err = finite_error(rows, padded, best, clips.clamps[0], qmin, qmax);
  // Takes the candidate in the lanes of `open` whose error is below their best.
  const auto consider = [&](Candidate c, __mmask16 open, int clamps) {
    const __m512 err = finite_error(rows, padded, c, clamps, qmin, qmax);
    const __mmask16 take = open & _mm512_cmp_ps_mask(err, best_err, _CMP_LT_OQ);
    best_err = _mm512_mask_mov_ps(best_err, take, err);
    best.scale = _mm512_mask_mov_ps(best.scale, take, c.scale);
    best.inv = _mm512_mask_mov_ps(best.inv, take, c.inv);
  };
  int s = 1;
  // The first candidates clip nothing: every lane with a best error above 0 evaluates them, so
  // they are evaluated without a branch on the errors before them, and overlap.
  for (; s < kClipSteps && clips.clamps[s] == kNoClamp; ++s) {
    const __m512 scale = scale_fma(amax, clips.c[s], qmax);
    consider({scale, reciprocal_fma(scale)}, _mm512_cmp_ps_mask(best_err, _mm512_setzero_ps(), _CMP_GT_OQ), kNoClamp);
  }
  // The others while some lane may take them. The bound only grows from one candidate to the
  // next (a smaller scale clips more: every step of lower_bound is monotone in it) and the best
  // error only falls, so once no lane is open none will be.
  const bool bounded = padded <= 1024;
  for (; s < kClipSteps; ++s) {
    const __m512 scale = scale_fma(amax, clips.c[s], qmax);
    const __m512 bound = bounded ? lower_bound(range, scale, code_lo, code_hi) : _mm512_setzero_ps();
    // A lane takes the candidate only while its best error is above 0 and the error is below.
    const __mmask16 open = _mm512_cmp_ps_mask(best_err, _mm512_setzero_ps(), _CMP_GT_OQ) &
                           _mm512_cmp_ps_mask(bound, best_err, _CMP_LT_OQ);
    if (open == 0) break;
    consider({scale, reciprocal_fma(scale)}, open, clips.clamps[s]);
  }
  return best;
}

}  // namespace ember::passes::quant
