#include <immintrin.h>

#include <cmath>
#include <algorithm>
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

// The reduction tree of _mm512_reduce_add_ps over 16 accumulators: (i, i + 8), (i, i + 4),
// (0, 2) and (1, 3), then the two.
inline __attribute__((always_inline)) __m512 reduce_tree(const __m512* acc) {
  __m512 t[8];
  for (int i = 0; i < 8; ++i) t[i] = _mm512_add_ps(acc[i + 8], acc[i]);
  for (int i = 0; i < 4; ++i) t[i] = _mm512_add_ps(t[i + 4], t[i]);
  return _mm512_add_ps(_mm512_add_ps(t[0], t[2]), _mm512_add_ps(t[1], t[3]));
}

// One element's rounding error under a candidate, d = v - clamp(round(v / scale)) * scale,
// computed as candidate_error computes it (kFinite: see there); its term of the error is d * d.
template <bool kFinite>
inline __attribute__((always_inline)) __m512 rounding_error(__m512 v, Candidate c, __m512 lo, __m512 hi) {
  __m512 q;
  if constexpr (kFinite) {
    q = _mm512_roundscale_ps(_mm512_mul_ps(v, c.inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  } else {
    const __m512 magic = _mm512_set1_ps(12582912.0f), limit = _mm512_set1_ps(4194304.0f);
    q = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(v, c.inv), _mm512_set1_ps(-4194304.0f)), limit);
    q = _mm512_sub_ps(_mm512_add_ps(q, magic), magic);
  }
  q = _mm512_min_ps(_mm512_max_ps(q, lo), hi);
  return _mm512_fnmadd_ps(q, c.scale, v);
}

// group_errors_avx512's error of one candidate for 16 groups at once: row k of the tile is
// element k of every lane's group, accumulated in acc[k mod 16] as that function's lane k mod
// 16, rows past n are zeros (its masked lanes), and the accumulators are reduced in its tree.
// kFinite (a tile without NaN or infinity): |x / scale| <= qmax / clip, so the clamp to
// +-2^22 does nothing and the 1.5 * 2^23 trick is a plain rounding to nearest even: 6 steps
// instead of 9, the same values.
// The search only needs errors below `bound` (the best so far): after each block of 16 rows
// but the last, when no lane's partial sum is below it, the partial sum is returned. That is
// exact, not an estimate: every accumulator only grows (adding non-negative terms with
// rounding to nearest never decreases a float) and the tree's additions are monotone, so the
// full error would be at least the partial one, and not below the bound either.
template <bool kFinite>
__m512 candidate_error(const __m512* rows, int64_t padded, Candidate c, float qmin, float qmax, __m512 bound) {
  const __m512 lo = _mm512_set1_ps(qmin), hi = _mm512_set1_ps(qmax);
  __m512 acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_setzero_ps();
  for (int64_t k0 = 0; k0 < padded; k0 += 16) {
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) {
      const __m512 d = rounding_error<kFinite>(rows[k0 + i], c, lo, hi);
      acc[i] = _mm512_fmadd_ps(d, d, acc[i]);
    }
    if (kFinite && k0 + 16 < padded) {
      const __m512 partial = reduce_tree(acc);
      if (_mm512_cmp_ps_mask(partial, bound, _CMP_LT_OQ) == 0) return partial;
    }
  }
  return reduce_tree(acc);
}

// choose_params' clipping search for the 16 lanes of a tile whose range is [lo, hi] (nan: the
// lanes holding a NaN): the candidates in order, a candidate replacing the best while the best
// error is above 0 and its error is below. Two exact shortcuts, neither changes a choice:
// - a lane whose largest or smallest value alone has a squared rounding error (a term of the
//   candidate's error, computed the same way) at least the best error cannot take the
//   candidate: float sums of non-negative terms are at least each term; when no lane can,
//   the candidate's error is not computed;
// - candidate_error stops once no lane's partial sum is below the best error.
Candidate search_candidates(const __m512* rows, int64_t padded, __m512 lo, __m512 hi, __mmask16 nan, QuantFormat f) {
  const __m512 amax = _mm512_max_ps(hi, _mm512_xor_ps(lo, _mm512_set1_ps(-0.0f)));  // std::max(-lo, hi)
  const float qmin = float(f.qmin()), qmax = float(f.qmax());
  const __m512 code_lo = _mm512_set1_ps(qmin), code_hi = _mm512_set1_ps(qmax), inf = _mm512_set1_ps(INFINITY);
  Candidate best = candidate(amax, 1.0f, qmax);
  const bool finite = nan == 0 && _mm512_cmp_ps_mask(amax, inf, _CMP_LT_OQ) == 0xffff;
  __m512 best_err = finite ? candidate_error<true>(rows, padded, best, qmin, qmax, inf)
                           : candidate_error<false>(rows, padded, best, qmin, qmax, inf);
  for (int s = 1; s < kClipSteps; ++s) {
    const Candidate c = candidate(amax, clip_factor(f.bits, s), qmax);
    __mmask16 open = _mm512_cmp_ps_mask(best_err, _mm512_setzero_ps(), _CMP_GT_OQ);
    if (finite) {
      const __m512 d_hi = rounding_error<true>(hi, c, code_lo, code_hi);
      const __m512 d_lo = rounding_error<true>(lo, c, code_lo, code_hi);
      const __m512 floor = _mm512_max_ps(_mm512_mul_ps(d_hi, d_hi), _mm512_mul_ps(d_lo, d_lo));
      open &= _mm512_cmp_ps_mask(floor, best_err, _CMP_LT_OQ);
      if (open == 0) continue;
    }
    const __m512 bound = _mm512_maskz_mov_ps(open, best_err);
    const __m512 err = finite ? candidate_error<true>(rows, padded, c, qmin, qmax, bound)
                              : candidate_error<false>(rows, padded, c, qmin, qmax, bound);
    const __mmask16 take = open & _mm512_cmp_ps_mask(err, best_err, _CMP_LT_OQ);
    best_err = _mm512_mask_mov_ps(best_err, take, err);
    best.scale = _mm512_mask_mov_ps(best.scale, take, c.scale);
    best.inv = _mm512_mask_mov_ps(best.inv, take, c.inv);
  }
  return best;
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

// 16 x 16 floats held in 16 registers, transposed in place (unpack pairs, then 64- and
// 128-bit pieces).
void transpose16(__m512* r) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
    r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
  }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
  }
}

// A tile: row k holds element k of each lane's group (zeros past n, up to `padded`, a multiple
// of 16), on the stack for groups up to 128 rows, else on the heap.
class TileRows {
 public:
  explicit TileRows(int64_t n) : n_(n), padded_((n + 15) / 16 * 16) {
    rows_ = padded_ <= 128 ? stack_ : static_cast<__m512*>(_mm_malloc(size_t(padded_) * 64, 64));
    if (!rows_) throw std::bad_alloc();
  }
  ~TileRows() {
    if (rows_ != stack_) _mm_free(rows_);
  }
  TileRows(const TileRows&) = delete;
  TileRows& operator=(const TileRows&) = delete;
  __m512* rows() { return rows_; }
  int64_t n() const { return n_; }
  int64_t padded() const { return padded_; }
  // Adds row k (in order) to the lanes' range, widened to include 0, and their NaN mask.
  void add_to_range(__m512 v) {
    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    lo = _mm512_min_ps(v, lo);  // std::min(lo, v) = v < lo ? v : lo, as group_range
    hi = _mm512_max_ps(v, hi);  // std::max(hi, v) = hi < v ? v : hi
  }
  __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
  __mmask16 nan = 0;

 private:
  int64_t n_, padded_;
  __m512 stack_[128];
  __m512* rows_;
};

// Stored [K, C]: the rows are read in place, `stride` floats apart, `m` the real lanes.
// The next tiles along the same rows are asked for 4 tiles ahead: the hardware prefetchers
// do not follow 32 and more strided streams at once.
void load_strided(const float* w, int64_t stride, __mmask16 m, TileRows& t) {
  for (int64_t k = 0; k < t.padded(); ++k) {
    if (k < t.n()) _mm_prefetch(reinterpret_cast<const char*>(w + k * stride + 64), _MM_HINT_T0);
    t.rows()[k] = k < t.n() ? _mm512_maskz_loadu_ps(m, w + k * stride) : _mm512_setzero_ps();
    t.add_to_range(t.rows()[k]);
  }
}

// Stored [C, K]: lane c's group is the n contiguous floats at w + c * stride; blocks of 16
// rows are transposed in registers.
void load_transposed(const float* w, int64_t stride, int lanes, TileRows& t) {
  for (int64_t k0 = 0; k0 < t.padded(); k0 += 16) {
    const int64_t left = t.n() - k0;
    const __mmask16 m = left >= 16 ? __mmask16(0xffff) : left > 0 ? __mmask16((1u << left) - 1) : __mmask16(0);
    __m512* block = t.rows() + k0;
    for (int c = 0; c < 16; ++c) block[c] = c < lanes ? _mm512_maskz_loadu_ps(m, w + c * stride + k0) : _mm512_setzero_ps();
    transpose16(block);
    for (int i = 0; i < 16; ++i) t.add_to_range(block[i]);
  }
}

// Chooses each lane's scale (choose_params: min/max, or the clipping search) for the loaded
// tile (its range found while loading); then quantize_value's codes per row into q[k] and the squared error and sum.
struct TileCodes {
  __m512 scale;
  double num = 0, den = 0;
};
TileCodes quantize_tile(TileRows& t, QuantFormat f, bool search, __m512i* q) {
  const __m512* rows = t.rows();
  const __m512 lo = t.lo, hi = t.hi;
  const __mmask16 nan = t.nan;
  const Candidate best = search ? search_candidates(rows, t.padded(), lo, hi, nan, f)
                                : candidate(_mm512_max_ps(hi, _mm512_xor_ps(lo, _mm512_set1_ps(-0.0f))), 1.0f, float(f.qmax()));
  // quantize_value per element; a row with |x / scale| >= 2^22 (or NaN) takes it lane by lane.
  const __m512 limit = _mm512_set1_ps(4194304.0f);
  const __m512i qlo = _mm512_set1_epi32(f.qmin()), qhi = _mm512_set1_epi32(f.qmax());
  __m512 num_acc = _mm512_setzero_ps(), den_acc = _mm512_setzero_ps();
  for (int64_t k = 0; k < t.padded(); ++k) {
    const __m512 v = rows[k], x = _mm512_mul_ps(v, best.inv);
    const __mmask16 inside = _mm512_cmp_ps_mask(_mm512_abs_ps(x), limit, _CMP_LT_OQ);
    // Round half to even as round_half_even's 1.5 * 2^23 trick does below 2^22 (written as a
    // rounding instruction: GCC would contract the trick's add into the multiply, an FMA).
    __m512i code = _mm512_cvttps_epi32(_mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    code = _mm512_min_epi32(_mm512_max_epi32(code, qlo), qhi);
    if (inside != 0xffff) {
      alignas(64) float xs[16], s[16];
      alignas(64) int32_t out[16];
      _mm512_store_ps(xs, v);
      _mm512_store_ps(s, best.scale);
      _mm512_store_si512(out, code);
      for (int i = 0; i < 16; ++i)
        if (!((inside >> i) & 1)) out[i] = quantize_value(xs[i], 1.0f / s[i], 0, f.qmin(), f.qmax());
      code = _mm512_load_si512(out);
    }
    q[k] = code;
    const __m512 d = _mm512_sub_ps(v, _mm512_mul_ps(_mm512_cvtepi32_ps(code), best.scale));
    num_acc = _mm512_fmadd_ps(d, d, num_acc);  // rows past n are zeros: d = 0
    den_acc = _mm512_fmadd_ps(v, v, den_acc);
  }
  return {best.scale, double(_mm512_reduce_add_ps(num_acc)), double(_mm512_reduce_add_ps(den_acc))};
}

// The tile's own storage for its codes (one vector per row).
struct TileQ {
  explicit TileQ(int64_t padded) : q(padded <= 128 ? stack : heap_alloc(padded)) {}
  ~TileQ() {
    if (q != stack) _mm_free(q);
  }
  TileQ(const TileQ&) = delete;
  TileQ& operator=(const TileQ&) = delete;
  static __m512i* heap_alloc(int64_t padded) {
    auto* p = static_cast<__m512i*>(_mm_malloc(size_t(padded) * 64, 64));
    if (!p) throw std::bad_alloc();
    return p;
  }
  __m512i stack[128];
  __m512i* q;
};

}  // namespace

void rtn_tile16_avx512(const float* w, int64_t stride, int64_t n, int lanes, QuantFormat f, bool search, float* scales,
                       uint8_t* codes, int64_t code_stride, double* num, double* den) {
  const __mmask16 m = lanes >= 16 ? __mmask16(0xffff) : __mmask16((1u << lanes) - 1);
  TileRows t(n);
  load_strided(w, stride, m, t);
  TileQ q(t.padded());
  const TileCodes r = quantize_tile(t, f, search, q.q);
  _mm512_mask_storeu_ps(scales, m, r.scale);
  for (int64_t k = 0; k < n; ++k) store_codes(_mm512_cvtepi32_epi8(q.q[k]), f.bits, lanes, codes + k * code_stride);
  *num += r.num;
  *den += r.den;
}

void rtn_tile16_rows_avx512(const float* w, int64_t stride, int64_t n, int lanes, QuantFormat f, bool search,
                            float* scales, int64_t scale_stride, uint8_t* codes, int64_t code_stride, double* num,
                            double* den) {
  TileRows t(n);
  load_transposed(w, stride, lanes, t);
  TileQ q(t.padded());
  const TileCodes r = quantize_tile(t, f, search, q.q);
  alignas(64) float s[16];
  _mm512_store_ps(s, r.scale);
  for (int c = 0; c < lanes; ++c) scales[c * scale_stride] = s[c];
  // Back to one channel per register, 16 codes of its group in each: bytes or nibble pairs.
  for (int64_t k0 = 0; k0 < n; k0 += 16) {
    __m512 block[16];
    for (int i = 0; i < 16; ++i) block[i] = _mm512_castsi512_ps(q.q[k0 + i]);
    transpose16(block);
    const int count = int(std::min<int64_t>(16, n - k0));
    uint8_t* out = codes + (f.bits == 4 ? k0 / 2 : k0);
    for (int c = 0; c < lanes; ++c)
      store_codes(_mm512_cvtepi32_epi8(_mm512_castps_si512(block[c])), f.bits, count, out + c * code_stride);
  }
  *num += r.num;
  *den += r.den;
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
