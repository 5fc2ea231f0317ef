// Internal to runtime/gemm: the position-lane conv tile (conv_lanes.h) written once over the
// vector traits V of sgemm_microkernel.h and instantiated by conv_lanes_avx2.cc and
// conv_lanes_avx512.cc (every function a template on V: internal linkage). Per depth step
// (tap, channel): NV loads of consecutive positions, MB broadcasts of the block's weights,
// NV * MB FMAs; the output channels are the tile's rows, unrolled.
#pragma once
#include <cstdint>

#include "runtime/gemm/conv_lanes_kernels.h"
#include "runtime/gemm/tile_table.h"

namespace ember::runtime::gemm {

template <class V, int NV, int MB>
void lane_tile_kernel(const LaneTileArgs& t) {
  using Reg = typename V::Reg;
  // One chain per accumulator in depth order, from zero: conv_gemm's sums.
  Reg acc[NV][MB];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v)
#pragma GCC unroll 16
    for (int m = 0; m < MB; ++m) acc[v][m] = V::zero();
  const float* b = t.b;
  for (int64_t tap = 0; tap < t.tap_count; ++tap) {
    const int64_t offset = t.taps[tap];
    for (int64_t c = 0; c < t.channels; ++c, b += t.b_stride) {
      Reg av[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) av[v] = V::load(t.images[v] + offset + c * t.plane);
#pragma GCC unroll 16
      for (int m = 0; m < MB; ++m) {
        const Reg w = V::broadcast(b + m);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[v][m] = V::fma(av[v], w, acc[v][m]);
      }
    }
  }
  const Reg zero = V::zero();
#pragma GCC unroll 16
  for (int m = 0; m < MB; ++m) {
    const Reg bias = t.bias ? V::set1(t.bias[m]) : zero;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      Reg r = acc[v][m];
      if (t.bias) r = V::add(r, bias);
      if (t.relu) r = V::max(zero, r);  // 0 > r ? 0 : r keeps NaN, as Relu's x < 0 ? 0 : x
      V::store(t.ys[v] + m * t.ldy, r);
    }
  }
}

template <class V>
struct LaneTiles {
  template <int NV, int MB>
  static void run(const LaneTileArgs& t) {
    lane_tile_kernel<V, NV, MB>(t);
  }
};

template <class V, int MaxNV, int MaxMB>
void lane_tile_dispatch(const LaneTileArgs& t) {
  dispatch_tile<LaneTileArgs, LaneTiles<V>, MaxNV, MaxMB>(t, t.v, t.m);
}

}  // namespace ember::runtime::gemm
