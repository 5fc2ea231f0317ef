#include <immintrin.h>

#include <cmath>
#include <algorithm>
#include <new>

// GCC 12's AVX-512 headers pass _mm512_undefined_*() values through, which its
// -Wuninitialized and -Wmaybe-uninitialized report once inlined (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "passes/quantize/clip_search.h"
#include "passes/quantize/clip_tile.h"
#include "passes/quantize/rtn_tile.h"

namespace ember::passes::quant {
namespace {

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

// One row's 16 codes (32-bit lanes) into the stored layout: bytes, or nibble pairs (lane 2i in
// the low nibble): each 64-bit pair of low nibbles folded into its low byte, 8 bytes a row.
void store_row_codes(__m512i code, int bits, int lanes, uint8_t* out) {
  if (bits != 4) return store_codes(_mm512_cvtepi32_epi8(code), bits, lanes, out);
  const __m512i low = _mm512_and_si512(code, _mm512_set1_epi32(0xf));
  const __m128i pairs = _mm512_cvtepi64_epi8(_mm512_or_si512(low, _mm512_srli_epi64(low, 28)));
  if (lanes >= 16) _mm_storel_epi64(reinterpret_cast<__m128i*>(out), pairs);
  else _mm_mask_storeu_epi8(out, __mmask16((1u << (lanes / 2)) - 1), pairs);
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
  const __m512* rows() const { return rows_; }
  int64_t n() const { return n_; }
  int64_t padded() const { return padded_; }
  TileRange range;  // added to row by row while loading, in order

 private:
  int64_t n_, padded_;
  __m512 stack_[128];
  __m512* rows_;
};

// Stored [K, C]: the rows are read in place, `stride` floats apart, `m` the real lanes.
// The next tiles along the same rows are asked for 4 tiles ahead: the hardware prefetchers
// do not follow 32 and more strided streams at once.
// The range is a local copy so that it stays in registers.
void load_strided(const float* w, int64_t stride, __mmask16 m, TileRows& t) {
  TileRange range;
  __m512* rows = t.rows();
  const int64_t n = t.n();
  for (int64_t k = 0; k < n; ++k) {
    _mm_prefetch(reinterpret_cast<const char*>(w + k * stride + 64), _MM_HINT_T0);
    const __m512 v = _mm512_maskz_loadu_ps(m, w + k * stride);
    rows[k] = v;
    range.add(v);
  }
  for (int64_t k = n; k < t.padded(); ++k) {
    rows[k] = _mm512_setzero_ps();
    range.add(rows[k]);
  }
  t.range = range;
}

// Stored [C, K]: lane c's group is the n contiguous floats at w + c * stride; blocks of 16
// rows are transposed in registers.
void load_transposed(const float* w, int64_t stride, int lanes, TileRows& t) {
  TileRange range;
  for (int64_t k0 = 0; k0 < t.padded(); k0 += 16) {
    const int64_t left = t.n() - k0;
    const __mmask16 m = left >= 16 ? __mmask16(0xffff) : left > 0 ? __mmask16((1u << left) - 1) : __mmask16(0);
    __m512* block = t.rows() + k0;
    for (int c = 0; c < 16; ++c) block[c] = c < lanes ? _mm512_maskz_loadu_ps(m, w + c * stride + k0) : _mm512_setzero_ps();
    transpose16(block);
    for (int i = 0; i < 16; ++i) range.add(block[i]);
  }
  t.range = range;
}

// Chooses each lane's scale (choose_params: min/max, or the clipping search, clip_tile.h) for
// the loaded tile (its range and squared sum found while loading); then quantize_value's codes
// per row into q[k] and the squared error.
struct TileCodes {
  __m512 scale;
  double num = 0, den = 0;
};

// quantize_value per element. kFinite (no NaN or infinity in the tile): |x / scale| <= qmax /
// clip, far below 2^22, so round_half_even is one conversion rounding to nearest even; else a
// row with |x / scale| >= 2^22 (or NaN) takes quantize_value lane by lane.
template <bool kFinite>
TileCodes tile_codes(const TileRows& t, LaneScales best, QuantFormat f, __m512i* q) {
  const __m512* rows = t.rows();
  const __m512 limit = _mm512_set1_ps(4194304.0f);
  const __m512i qlo = _mm512_set1_epi32(f.qmin()), qhi = _mm512_set1_epi32(f.qmax());
  __m512 num_acc = _mm512_setzero_ps();
  for (int64_t k = 0; k < t.padded(); ++k) {
    const __m512 v = rows[k], x = _mm512_mul_ps(v, best.inv);
    __m512i code = _mm512_cvt_roundps_epi32(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    code = _mm512_min_epi32(_mm512_max_epi32(code, qlo), qhi);
    if constexpr (!kFinite) {
      const __mmask16 inside = _mm512_cmp_ps_mask(_mm512_abs_ps(x), limit, _CMP_LT_OQ);
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
    }
    q[k] = code;
    const __m512 d = _mm512_sub_ps(v, _mm512_mul_ps(_mm512_cvtepi32_ps(code), best.scale));
    num_acc = _mm512_fmadd_ps(d, d, num_acc);  // rows past n are zeros: d = 0
  }
  return {best.scale, double(_mm512_reduce_add_ps(num_acc)), 0.0};
}

TileCodes quantize_tile(const TileRows& t, QuantFormat f, bool search, __m512i* q) {
  const TileRange& r = t.range;
  const LaneScales best = search ? clip_search_tile(t.rows(), t.padded(), r, f) : minmax_scales(r, f);
  TileCodes codes = r.finite() ? tile_codes<true>(t, best, f, q) : tile_codes<false>(t, best, f, q);
  codes.den = double(_mm512_reduce_add_ps(r.squares));  // rows past n are zeros
  return codes;
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
  for (int64_t k = 0; k < n; ++k) store_row_codes(q.q[k], f.bits, lanes, codes + k * code_stride);
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
