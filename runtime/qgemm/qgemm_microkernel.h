// Internal to runtime/qgemm: the u8s8 register-tile kernel and its fused epilogue, written
// once over a vector-traits type V and instantiated by qgemm_avx512.cc, qgemm_avxvnni.cc and
// qgemm_avx2.cc with their own V.
//
// V is declared in an anonymous namespace of each ISA file, so every instantiation has
// internal linkage and can never be merged into code that runs on a CPU without that ISA.
// Keep every function here a template on V.
//
// V provides: IReg, FReg, kWidth (int32 lanes), izero(), bcast_quad(p) (4 bytes to every lane),
// load_b(p) (4 * kWidth bytes), dpbusd(acc, a, b) (acc + 4-term u8 x s8 dot per lane),
// iload / iload_partial / istore / istore_partial, set1i, isub, imullo, cvt (int32 -> float),
// fload / fload_partial / fstore / fstore_partial, set1f, fmul, fma, relu.
#pragma once
#include <cstdint>

#include "runtime/qgemm/qgemm.h"
#include "runtime/qgemm/qgemm_kernels.h"
#include "runtime/gemm/tile_table.h"

namespace ember::runtime::qgemm {

// Bytes ahead of the current quad that GEMV-shaped tiles (one or two rows, so B streams from
// memory) prefetch: far enough to cover DRAM latency at the rate one core consumes B.
constexpr int64_t kPrefetchBytes = 1024;

// Applies the epilogue to vector j of row i (columns col .. col + lanes) and stores it.
template <class V>
[[gnu::always_inline]] inline void store_vector(const Epilogue& ep, int64_t row, int64_t col, int lanes,
                                                typename V::IReg acc) {
  constexpr int W = V::kWidth;
  typename V::IReg v = V::isub(acc, V::imullo(V::set1i(ep.a_zp[row]), V::iload(ep.col_sums + col)));
  if (ep.b_zp) v = V::isub(v, V::imullo(V::iload(ep.b_zp + col), V::set1i(ep.row_term[row])));
  if (ep.c_i32) {
    int32_t* c = ep.c_i32 + row * ep.ldc + (col - ep.c_col0);
    if (lanes < W)
      V::istore_partial(c, v, lanes);
    else
      V::istore(c, v);
    return;
  }
  const typename V::FReg b_scale = lanes < W ? V::fload_partial(ep.b_scale + col, lanes) : V::fload(ep.b_scale + col);
  const typename V::FReg scale = V::fmul(V::set1f(ep.a_scale[row]), b_scale);
  typename V::FReg f;
  if (ep.bias) {
    const typename V::FReg bias = lanes < W ? V::fload_partial(ep.bias + col, lanes) : V::fload(ep.bias + col);
    f = V::fma(V::cvt(v), scale, bias);
  } else {
    f = V::fmul(V::cvt(v), scale);
  }
  if (ep.relu) f = V::relu(f);
  float* c = ep.c_f32 + row * ep.ldc + (col - ep.c_col0);
  if (lanes < W)
    V::fstore_partial(c, f, lanes);
  else
    V::fstore(c, f);
}

// C tile of MR rows and NV vectors (the last one possibly partial: t.n <= NV * kWidth).
template <class V, int MR, int NV>
void tile_kernel(const TileArgs& t) {
  using IReg = typename V::IReg;
  constexpr int W = V::kWidth;
  static_assert(kPanelWidth % W == 0 || W % kPanelWidth == 0);

  IReg acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[i][j] = V::izero();

  // Vector j reads columns [j W, j W + W) of the tile: panel j W / 16, byte offset 4 (j W % 16).
  const int8_t* b[NV];
#pragma GCC unroll 8
  for (int j = 0; j < NV; ++j) b[j] = t.b + (j * W / kPanelWidth) * t.panel_bytes + (j * W % kPanelWidth) * kQuad;
  const uint8_t* a = t.a;
  const int64_t lda = t.lda;
  for (int64_t q = 0; q < t.k_quads; ++q) {
    IReg bv[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      if constexpr (MR <= 2) {
        if (j * W % kPanelWidth == 0) __builtin_prefetch(b[j] + kPrefetchBytes);
      }
      bv[j] = V::load_b(b[j]);
      b[j] += kQuad * kPanelWidth;
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const IReg av = V::bcast_quad(a + i * lda);
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[i][j] = V::dpbusd(acc[i][j], av, bv[j]);
    }
    a += kQuad;
  }

  const Epilogue& ep = *t.ep;
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      const int lanes = t.n - j * W < W ? t.n - j * W : W;
      store_vector<V>(ep, t.row0 + i, t.col0 + j * W, lanes, acc[i][j]);
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

}  // namespace ember::runtime::qgemm
