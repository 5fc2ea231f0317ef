// Internal to runtime/gemm: SIMD microkernels written once over a vector-traits type V and
// instantiated by sgemm_avx2.cc and sgemm_avx512.cc with their own V.
//
// V is declared in an anonymous namespace of each ISA file, so every instantiation below has
// internal linkage: the linker can never merge an AVX-512 copy into code that runs on an
// AVX2-only machine. Keep it that way: every function here must be a template on V.
//
// V provides: Reg, kWidth, zero(), load(p), load_partial(p, n), broadcast(p), set1(x),
// fma(a, b, c) = a * b + c, add(a, b), store(p, v), store_partial(p, v, n), hsum(v), and
// dot(a, b, c), the multiply-accumulate of a k step: fma for f32, vdpbf16ps for bf16 pairs.
#pragma once
#include <cstdint>

#include "runtime/gemm/sgemm_kernels.h"
#include "runtime/gemm/tile_table.h"

namespace ember::runtime::gemm {

// One k step of an MR x NV-vector tile: NV loads of B, MR broadcasts of A, MR * NV FMAs
// (for bf16 pairs, a step covers two k).
template <class V, int MR, int NV>
[[gnu::always_inline]] inline void tile_step(typename V::Reg (&acc)[MR][NV], const float* a, const float* b) {
  typename V::Reg bv[NV];
#pragma GCC unroll 8
  for (int j = 0; j < NV; ++j) bv[j] = V::load(b + j * V::kWidth);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    const typename V::Reg av = V::broadcast(a + i);
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[i][j] = V::dot(av, bv[j], acc[i][j]);
  }
}

// C tile of MR rows and NV vectors (the last one possibly partial: t.n <= NV * kWidth).
template <class V, int MR, int NV>
void tile_kernel(const TileArgs& t) {
  using Reg = typename V::Reg;
  constexpr int W = V::kWidth;
  // Small tiles have too few independent accumulators to hide the FMA latency, so they keep
  // several partial sums over alternating k and add them at the end.
  constexpr int kSplit = MR * NV >= 8 ? 1 : (MR * NV >= 4 ? 2 : 4);
  // Unrolled k steps; GCC spills registers when it schedules four steps of a tile this big.
  constexpr int kUnroll = MR * NV >= 16 ? 2 : 4;
  static_assert(kUnroll % kSplit == 0);

  Reg acc[kSplit][MR][NV];
#pragma GCC unroll 4
  for (int s = 0; s < kSplit; ++s)
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[s][i][j] = V::zero();

  // C is read or written only after the whole depth; start pulling its lines in now.
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    __builtin_prefetch(t.c + i * t.ldc);
    __builtin_prefetch(t.c + i * t.ldc + t.n - 1);
  }

  const float* a = t.a;
  const float* b = t.b;
  const int64_t bs = t.b_stride;
  int64_t k = t.depth;
  for (; k >= kUnroll; k -= kUnroll) {
#pragma GCC unroll 4
    for (int u = 0; u < kUnroll; ++u) {
      tile_step<V, MR, NV>(acc[u % kSplit], a, b);
      a += MR;
      b += bs;
    }
  }
  for (; k > 0; --k) {
    tile_step<V, MR, NV>(acc[0], a, b);
    a += MR;
    b += bs;
  }
#pragma GCC unroll 4
  for (int s = 1; s < kSplit; ++s)
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[0][i][j] = V::add(acc[0][i][j], acc[s][i][j]);

  const int last_n = t.n - (NV - 1) * W;  // valid lanes of the last vector, 1..W
  const Reg beta = V::set1(t.beta);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    float* c = t.c + i * t.ldc;
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      Reg v = acc[0][i][j];
      if (j == NV - 1 && last_n < W) {
        if (t.bias) v = V::add(v, V::load_partial(t.bias + j * W, last_n));
        if (t.beta != 0) v = V::fma(beta, V::load_partial(c + j * W, last_n), v);
        V::store_partial(c + j * W, v, last_n);
      } else {
        if (t.bias) v = V::add(v, V::load(t.bias + j * W));
        if (t.beta != 0) v = V::fma(beta, V::load(c + j * W), v);
        V::store(c + j * W, v);
      }
    }
  }
}

template <class V>
struct Tiles {
  template <int MR, int NV>
  static void run(const TileArgs& t) {
    tile_kernel<V, MR, NV>(t);
  }
};

// Picks the instantiation for t.m rows and ceil(t.n / kWidth) vectors.
template <class V, int MaxMR, int MaxNV>
void tile_dispatch(const TileArgs& t) {
  dispatch_tile<TileArgs, Tiles<V>, MaxMR, MaxNV>(t, t.m, (t.n + V::kWidth - 1) / V::kWidth);
}

// ROWS dot products of a against consecutive rows of B (the trans_b GEMV).
template <class V, int ROWS>
void gemv_t_rows(const GemvArgs& g, int64_t row) {
  using Reg = typename V::Reg;
  constexpr int W = V::kWidth;
  const float* b[ROWS];
#pragma GCC unroll 4
  for (int r = 0; r < ROWS; ++r) b[r] = g.b + (row + r) * g.ldb;
  Reg acc[ROWS][2];
#pragma GCC unroll 4
  for (int r = 0; r < ROWS; ++r) acc[r][0] = acc[r][1] = V::zero();
  int64_t k = 0;
  for (; k + 2 * W <= g.depth; k += 2 * W) {
    const Reg a0 = V::load(g.a + k), a1 = V::load(g.a + k + W);
#pragma GCC unroll 4
    for (int r = 0; r < ROWS; ++r) {
      acc[r][0] = V::fma(a0, V::load(b[r] + k), acc[r][0]);
      acc[r][1] = V::fma(a1, V::load(b[r] + k + W), acc[r][1]);
    }
  }
  for (; k < g.depth; k += W) {
    const int rem = g.depth - k < W ? static_cast<int>(g.depth - k) : W;
    const Reg a0 = V::load_partial(g.a + k, rem);
#pragma GCC unroll 4
    for (int r = 0; r < ROWS; ++r) acc[r][0] = V::fma(a0, V::load_partial(b[r] + k, rem), acc[r][0]);
  }
#pragma GCC unroll 4
  for (int r = 0; r < ROWS; ++r) {
    const float dot = g.alpha * V::hsum(V::add(acc[r][0], acc[r][1]));
    float* c = g.c + row + r;
    *c = g.beta != 0 ? dot + g.beta * *c : dot;
  }
}

template <class V>
void gemv_t_kernel(const GemvArgs& g) {
  int64_t row = 0;
  for (; row + 4 <= g.n; row += 4) gemv_t_rows<V, 4>(g, row);
  for (; row < g.n; ++row) gemv_t_rows<V, 1>(g, row);
}

// C columns [j0, j0 + cols) += alpha * a[k + r] * B row (k + r), r < ROWS. kFirst: C starts as
// beta * C, and is not read when beta is 0.
template <class V, int ROWS, bool kFirst>
void gemv_n_rows(const GemvArgs& g, int64_t k, int64_t j0, int64_t cols) {
  using Reg = typename V::Reg;
  constexpr int W = V::kWidth;
  Reg scale[ROWS];
  const float* b[ROWS];
#pragma GCC unroll 8
  for (int r = 0; r < ROWS; ++r) {
    scale[r] = V::set1(g.alpha * g.a[k + r]);
    b[r] = g.b + (k + r) * g.ldb + j0;
  }
  float* c = g.c + j0;
  const Reg beta = V::set1(g.beta);
  const bool read_c = !kFirst || g.beta != 0;
  for (int64_t j = 0; j < cols; j += W) {
    const int n = cols - j < W ? static_cast<int>(cols - j) : W;
    Reg v = V::zero();
    if (read_c) v = n == W ? V::load(c + j) : V::load_partial(c + j, n);
    if (kFirst && read_c) v = V::fma(beta, v, V::zero());
#pragma GCC unroll 8
    for (int r = 0; r < ROWS; ++r) v = V::fma(scale[r], n == W ? V::load(b[r] + j) : V::load_partial(b[r] + j, n), v);
    if (n == W) {
      V::store(c + j, v);
    } else {
      V::store_partial(c + j, v, n);
    }
  }
}

// The not-transposed GEMV: C row = alpha * a * B + beta * C, streaming B along its rows a few
// rows at a time over a column chunk of C that stays in L1.
template <class V>
void gemv_n_kernel(const GemvArgs& g) {
  constexpr int64_t kChunk = 1024;
  constexpr int kRows = 4;
  for (int64_t j0 = 0; j0 < g.n; j0 += kChunk) {
    const int64_t cols = g.n - j0 < kChunk ? g.n - j0 : kChunk;
    int64_t k = 0;
    if (g.depth >= kRows) {
      gemv_n_rows<V, kRows, true>(g, 0, j0, cols);
      k = kRows;
    } else {
      gemv_n_rows<V, 1, true>(g, 0, j0, cols);
      k = 1;
    }
    for (; k + kRows <= g.depth; k += kRows) gemv_n_rows<V, kRows, false>(g, k, j0, cols);
    for (; k < g.depth; ++k) gemv_n_rows<V, 1, false>(g, k, j0, cols);
  }
}

}  // namespace ember::runtime::gemm
