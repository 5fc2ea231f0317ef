// Internal to runtime/gemm: packing with 8 x 8 AVX transposes, instantiated by the AVX2 and
// AVX-512 files with their vector-traits type V (see sgemm_microkernel.h for why every
// function here is a template on V). Cases the transposes do not cover go to the portable
// packers of sgemm_pack.h.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "runtime/gemm/sgemm_pack.h"

namespace ember::runtime::gemm {

// Rows r[0..7] become columns: afterwards r[c][i] holds the old r[i][c].
template <class V>
[[gnu::always_inline]] inline void transpose8x8(__m256 (&r)[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xee);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xee);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xee);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xee);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// pack_a_block for row-major op(A) panels of up to 8 rows: 8 k at a time, each transposed
// group is stored as 8-float vectors m floats apart. A store's lanes past m land on the
// positions the next store (or the next panel, or the tail loop) writes, all in ascending
// order, so only the last store of the block can leave up to 8 - m floats past its end: the
// caller's buffer has kPackASlack floats of room.
template <class V>
void pack_a_block_simd(const MatrixRef& a, int64_t row0, int64_t rows, int64_t k0, int64_t depth, int mr,
                       float alpha, float* out) {
  if (mr > 8) return pack_a_block(a, row0, rows, k0, depth, mr, alpha, out);
  const __m256 scale = _mm256_set1_ps(alpha);
  if (a.trans) {
    // op(A) rows are columns of the stored matrix: each k of a panel is m contiguous floats
    // (the x^T dY products of gradients), loaded under a mask and stored as a full vector
    // whose lanes past m the next k's store overwrites (the slack above).
    for (int64_t i = 0; i < rows; i += mr) {
      const int m = static_cast<int>(rows - i < mr ? rows - i : mr);
      const __m256i lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32(m), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
      const float* src = a.data + k0 * a.ld + row0 + i;
      float* panel = out + i * depth;
      for (int64_t k = 0; k < depth; ++k)
        _mm256_storeu_ps(panel + k * m, _mm256_mul_ps(_mm256_maskload_ps(src + k * a.ld, lanes), scale));
    }
    return;
  }
  for (int64_t i = 0; i < rows; i += mr) {
    const int m = static_cast<int>(rows - i < mr ? rows - i : mr);
    const float* src[8];
    // Rows past m repeat the last row: read but never stored where they count.
    for (int r = 0; r < 8; ++r) src[r] = a.data + (row0 + i + (r < m ? r : m - 1)) * a.ld + k0;
    float* panel = out + i * depth;
    int64_t k = 0;
    for (; k + 8 <= depth; k += 8) {
      __m256 v[8];
#pragma GCC unroll 8
      for (int r = 0; r < 8; ++r) v[r] = _mm256_mul_ps(_mm256_loadu_ps(src[r] + k), scale);
      transpose8x8<V>(v);
      float* o = panel + k * m;
#pragma GCC unroll 8
      for (int c = 0; c < 8; ++c) _mm256_storeu_ps(o + c * m, v[c]);
    }
    for (; k < depth; ++k)
      for (int r = 0; r < m; ++r) panel[k * m + r] = alpha * src[r][k];
  }
}

// pack_b_panel with vector copies (B not transposed, full panel) or 8 x 8 transposes
// (B transposed: 8 stored rows of B become 8 columns of the panel).
template <class V>
void pack_b_panel_simd(const MatrixRef& b, int64_t k0, int64_t depth, int64_t col0, int64_t cols, int nr,
                       float* out) {
  constexpr int W = V::kWidth;
  if (!b.trans) {
    if (cols != nr || nr % W != 0) return pack_b_panel(b, k0, depth, col0, cols, nr, out);
    const float* src = b.data + k0 * b.ld + col0;
    for (int64_t k = 0; k < depth; ++k, src += b.ld, out += nr)
      for (int j = 0; j < nr; j += W) V::store(out + j, V::load(src + j));
    return;
  }
  if (nr % 8 != 0) return pack_b_panel(b, k0, depth, col0, cols, nr, out);
  for (int j = 0; j < nr; j += 8) {
    const int valid = cols - j < 0 ? 0 : (cols - j < 8 ? static_cast<int>(cols - j) : 8);
    const float* src[8];
    for (int r = 0; r < 8; ++r) src[r] = b.data + (col0 + j + (r < valid ? r : 0)) * b.ld + k0;
    int64_t k = 0;
    for (; k + 8 <= depth; k += 8) {
      __m256 v[8];
#pragma GCC unroll 8
      for (int r = 0; r < 8; ++r) v[r] = r < valid ? _mm256_loadu_ps(src[r] + k) : _mm256_setzero_ps();
      transpose8x8<V>(v);
#pragma GCC unroll 8
      for (int c = 0; c < 8; ++c) _mm256_storeu_ps(out + (k + c) * nr + j, v[c]);
    }
    for (; k < depth; ++k)
      for (int r = 0; r < 8; ++r) out[k * nr + j + r] = r < valid ? src[r][k] : 0.0f;
  }
}

}  // namespace ember::runtime::gemm
