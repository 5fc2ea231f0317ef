// Internal to runtime/gemm: the channels-last conv tile (conv_gemm.h) written once over the
// vector traits V of sgemm_microkernel.h and instantiated by conv_gemm_avx2.cc and
// conv_gemm_avx512.cc. Like sgemm's, every function is a template on V (internal linkage).
// It is sgemm's tile with the packed A panel replaced by MR row pointers into the image:
// per depth step NV loads of the weight panel, MR broadcasts, MR * NV FMAs.
#pragma once
#include <cstdint>

#include "runtime/gemm/conv_gemm_kernels.h"
#include "runtime/gemm/tile_table.h"

namespace ember::runtime::gemm {

// One depth step: NV loads of the weight panel, MR broadcasts, MR * NV FMAs into acc.
template <class V, int MR, int NV>
[[gnu::always_inline]] inline void conv_step(typename V::Reg (&acc)[MR][NV], const float* const (&a)[MR], int64_t k,
                                             const float* b) {
  typename V::Reg bv[NV];
#pragma GCC unroll 8
  for (int j = 0; j < NV; ++j) bv[j] = V::load(b + j * V::kWidth);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    const typename V::Reg av = V::broadcast(a[i] + k);
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[i][j] = V::fma(av, bv[j], acc[i][j]);
  }
}

template <class V, int MR, int NV>
void conv_tile_kernel(const ConvTileArgs& t) {
  using Reg = typename V::Reg;
  constexpr int W = V::kWidth;
  // One chain per accumulator, in depth order, so the sums are sgemm's (a second set of
  // accumulators for the odd steps, tried, gained nothing at 8 x 1).
  Reg acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[i][j] = V::zero();
  const float* b = t.b;
  for (int64_t r = 0; r < t.run_count; ++r) {
    const int64_t offset = t.runs[r];
    const float* a[MR];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) a[i] = t.rows[i] + offset;
#pragma GCC unroll 2
    for (int64_t k = 0; k < t.run_length; ++k, b += t.b_stride) conv_step<V, MR, NV>(acc, a, k, b);
  }
  const int last_n = t.n - (NV - 1) * W;  // valid lanes of the last vector, 1..W
  const Reg zero = V::zero();
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    float* c = t.c + i * t.ldc;
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      Reg v = acc[i][j];
      const bool partial = j == NV - 1 && last_n < W;
      if (t.bias) v = V::add(v, partial ? V::load_partial(t.bias + j * W, last_n) : V::load(t.bias + j * W));
      if (t.relu) v = V::max(zero, v);  // 0 > v ? 0 : v keeps NaN, as Relu's x < 0 ? 0 : x
      if (partial) V::store_partial(c + j * W, v, last_n);
      else V::store(c + j * W, v);
    }
  }
}

// MaxPool's comparison: best = v > best ? v : best, from the first run on (vmaxps(v, best)).
template <class V>
void max_of_runs_kernel(const float* x, const int64_t* offsets, int64_t count, int64_t channels, float* out) {
  constexpr int W = V::kWidth;
  for (int64_t c = 0; c < channels; c += W) {
    const int n = channels - c < W ? static_cast<int>(channels - c) : W;
    typename V::Reg best = n == W ? V::load(x + offsets[0] + c) : V::load_partial(x + offsets[0] + c, n);
    for (int64_t t = 1; t < count; ++t)
      best = V::max(n == W ? V::load(x + offsets[t] + c) : V::load_partial(x + offsets[t] + c, n), best);
    if (n == W) V::store(out + c, best);
    else V::store_partial(out + c, best, n);
  }
}

template <class V>
struct ConvTiles {
  template <int MR, int NV>
  static void run(const ConvTileArgs& t) {
    conv_tile_kernel<V, MR, NV>(t);
  }
};

template <class V, int MaxMR, int MaxNV>
void conv_tile_dispatch(const ConvTileArgs& t) {
  dispatch_tile<ConvTileArgs, ConvTiles<V>, MaxMR, MaxNV>(t, t.m, (t.n + V::kWidth - 1) / V::kWidth);
}

}  // namespace ember::runtime::gemm
