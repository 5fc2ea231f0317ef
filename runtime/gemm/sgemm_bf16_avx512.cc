// AVX512-BF16 kernels for sgemm with GemmInputs::kBf16: op(A) and op(B) are rounded to
// bfloat16 (to nearest even) as they are packed, and vdpbf16ps sums their products in f32.
//
//   before: C[i, j] += sum_k A[i, k] B[k, j]                 one FMA per k  (16 lanes)
//   after:  C[i, j] += sum_p a_p[i] . b_p[j],  a_p[i] = (bf16 A[i, 2p], bf16 A[i, 2p + 1])
//           one vdpbf16ps per pair p: two products per lane, at the rate of one FMA
//
// so the tile does twice the multiply-adds of the f32 one per instruction (measured on Zen 5:
// 485 against 262 GFLOP/s of peak). Each packed element is a 32-bit word holding the pair of
// consecutive k, low half first; with elements counted as "floats" the f32 driver, tile
// (8 x 48, sgemm_avx512.cc) and panel layouts serve unchanged, at half the depth. Rounding the
// inputs costs about 3 significant digits of each product; the sums keep f32's.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "runtime/gemm/sgemm_avx512_traits.h"
#include "runtime/gemm/sgemm_microkernel.h"
#include "runtime/gemm/sgemm_pack_simd.h"

namespace ember::runtime::gemm {
namespace {

// The f32 traits but for the k step: a bf16 pair word is broadcast as bits (a float load could
// be read as a value) and multiplied by vdpbf16ps.
struct Avx512Bf16 : Avx512 {
  static Reg broadcast(const float* p) {
    int32_t bits;
    std::memcpy(&bits, p, sizeof bits);
    return _mm512_castsi512_ps(_mm512_set1_epi32(bits));
  }
  static Reg dot(Reg a, Reg b, Reg c) { return _mm512_dpbf16_ps(c, (__m512bh)a, (__m512bh)b); }
};

constexpr int kMr = 8, kNv = 3;

// Lanes [0, n) of 16 (n clamped to 0..16).
__mmask16 first_lanes(int64_t n) {
  return n >= 16 ? __mmask16(0xffff) : (n <= 0 ? __mmask16(0) : static_cast<__mmask16>((1u << n) - 1u));
}

// 16 floats (lanes past `valid` zero) times alpha, as 8 pair words.
__m256 pairs_of_16(const float* src, int64_t valid, float alpha) {
  __m512 v = _mm512_maskz_loadu_ps(first_lanes(valid), src);
  if (alpha != 1.0f) v = _mm512_mul_ps(v, _mm512_set1_ps(alpha));
  return _mm256_castsi256_ps((__m256i)_mm512_cvtneps_pbh(v));
}

// Pair words (lo[i], hi[i]) of two rows of 16 floats: one conversion of both (hi in the
// upper 16 bf16), then one permute that interleaves them.
__m512i interleave_16(__m512 lo, __m512 hi) {
  const __m512i bf16 = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
  const __m512i order = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6,
                                         21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  return _mm512_permutexvar_epi16(order, bf16);
}

// Eight stored rows contiguous along k (null: a row of zeros), from k = kk: 16 floats of each
// (zero past K) times alpha become 8 pair words, transposed 8 x 8 so that pair row c (of
// `steps`, at most 8) holds the 8 rows' words at out + c * out_stride.
void pack_8_rows_of_pairs(const float* const (&rows)[8], int64_t kk, int64_t K, float alpha, int steps, float* out,
                          int64_t out_stride) {
  __m256 v[8];
#pragma GCC unroll 8
  for (int r = 0; r < 8; ++r) v[r] = rows[r] ? pairs_of_16(rows[r] + kk, K - kk, alpha) : _mm256_setzero_ps();
  transpose8x8<Avx512Bf16>(v);
  for (int c = 0; c < steps; ++c) _mm256_storeu_ps(out + c * out_stride, v[c]);
}

// pack_a_block in pair words: panel p holds depth pair rows of m words, word (k, r) =
// (A[row r, 2k], A[row r, 2k + 1]) for pairs [k0, k0 + depth). Stores may run kPackASlack
// words past the block, as the f32 packer's.
void pack_a_pairs(const MatrixRef& a, int64_t row0, int64_t rows, int64_t k0, int64_t depth, int mr, float alpha,
                  float* out) {
  const int64_t K = a.k_extent;
  if (a.trans) {
    // op(A) rows are the stored matrix's columns: a pair is two stored rows, m floats each.
    // Two pairs at a time: the 8-float rows 2k and 2k + 2 side by side in one vector. The
    // stored rows are a layer's width apart (the saved activation X of X^T dY, long out of
    // cache), which no hardware prefetcher follows: the loop runs along k over all panels,
    // and asks for the rows 8 steps on across the whole block.
    constexpr int64_t kAheadRows = 32;
    const __m512 scale = _mm512_set1_ps(alpha);
    const float* base = a.data + row0;
    for (int64_t kk = 2 * k0; kk < std::min(K, 2 * k0 + kAheadRows); ++kk)
      for (int64_t c = 0; c < rows; c += 16) __builtin_prefetch(base + kk * a.ld + c);
    for (int64_t k = 0; k < depth; k += 2) {
      const int64_t kk = 2 * (k0 + k);
      for (int64_t ahead = kk + kAheadRows; ahead < kk + kAheadRows + 4 && ahead < K; ++ahead)
        for (int64_t c = 0; c < rows; c += 16) __builtin_prefetch(base + ahead * a.ld + c);
      for (int64_t i = 0; i < rows; i += mr) {
        const int m = static_cast<int>(rows - i < mr ? rows - i : mr);
        const __mmask16 low = static_cast<__mmask16>((1u << m) - 1u);
        // Rows r and r2 of the stored matrix (zero past K) in lanes 0-7 and 8-15: the second
        // load is masked to lanes 8 on, from 8 floats before its row.
        auto row_pair = [&](int64_t r, int64_t r2) {
          __m512 v = _mm512_maskz_loadu_ps(r < K ? low : 0, base + i + r * a.ld);
          v = _mm512_mask_loadu_ps(v, r2 < K ? __mmask16(low << 8) : 0, base + i + r2 * a.ld - 8);
          return alpha != 1.0f ? _mm512_mul_ps(v, scale) : v;
        };
        const __m512i words = interleave_16(row_pair(kk, kk + 2), row_pair(kk + 1, kk + 3));
        // Words 0-7 are pair k, 8-15 pair k + 1 (stored when it is in the block, by a store
        // masked to lanes 8 on, from 8 words before its place).
        float* panel = out + i * depth;
        _mm512_mask_storeu_epi32(panel + k * m, 0x00ff, words);
        if (k + 1 < depth) _mm512_mask_storeu_epi32(panel + (k + 1) * m - 8, 0xff00, words);
      }
    }
    return;
  }
  // Rows contiguous along k: 8 rows at a time, transposed into pair rows of the panel.
  for (int64_t i = 0; i < rows; i += mr) {
    const int m = static_cast<int>(rows - i < mr ? rows - i : mr);
    float* panel = out + i * depth;
    const float* src[8];
    for (int r = 0; r < 8; ++r) src[r] = a.data + (row0 + i + (r < m ? r : m - 1)) * a.ld;  // past m: the last again
    for (int64_t k = 0; k < depth; k += 8)
      pack_8_rows_of_pairs(src, 2 * (k0 + k), K, alpha, depth - k < 8 ? static_cast<int>(depth - k) : 8,
                           panel + k * m, m);
  }
}

// pack_b_panel in pair words: depth rows of nr words, word (k, j) = (B[2k, j], B[2k + 1, j]),
// the columns past cols zero.
void pack_b_pairs(const MatrixRef& b, int64_t k0, int64_t depth, int64_t col0, int64_t cols, int nr, float* out) {
  const int64_t K = b.k_extent;
  if (!b.trans) {
    for (int64_t k = 0; k < depth; ++k) {
      const int64_t kk = 2 * (k0 + k);
      const float* lo = b.data + kk * b.ld + col0;
      for (int j = 0; j < nr; j += 16) {
        const __mmask16 lanes = first_lanes(cols - j);
        const __m512 l = _mm512_maskz_loadu_ps(lanes, lo + j);
        const __m512 h = _mm512_maskz_loadu_ps(kk + 1 < K ? lanes : __mmask16(0), lo + b.ld + j);
        _mm512_storeu_si512(out + k * nr + j, interleave_16(l, h));
      }
    }
    return;
  }
  // Stored rows of B are columns of the panel: 8 of them at a time, transposed into pair rows.
  for (int j = 0; j < nr; j += 8) {
    const float* src[8];
    for (int r = 0; r < 8; ++r) src[r] = j + r < cols ? b.data + (col0 + j + r) * b.ld : nullptr;  // past cols: zeros
    for (int64_t k = 0; k < depth; k += 8)
      pack_8_rows_of_pairs(src, 2 * (k0 + k), K, 1.0f, depth - k < 8 ? static_cast<int>(depth - k) : 8,
                           out + k * nr + j, nr);
  }
}

void no_gemv(const GemvArgs&) {}  // the driver sends no GEMV to kernels of 2 k per element

}  // namespace

constinit const GemmKernels kAvx512Bf16Kernels = {
    .mr = kMr,
    .nr = kNv * Avx512Bf16::kWidth,
    .kc = 192,  // pairs: the panels take the bytes of the f32 kernels' at kc = 192
    .mc = 144,
    .k_per_element = 2,
    .tile = &tile_dispatch<Avx512Bf16, kMr, kNv>,
    .gemv_t = &no_gemv,
    .gemv_n = &no_gemv,
    .pack_a = &pack_a_pairs,
    .pack_b = &pack_b_pairs,
};

}  // namespace ember::runtime::gemm
