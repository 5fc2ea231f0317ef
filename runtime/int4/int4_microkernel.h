// Internal to runtime/int4: the INT4 block kernel written once over a vector-traits type V and
// instantiated by int4_avx512.cc (16 lanes: a whole group per vector), int4_avxvnni.cc and
// int4_avx2.cc (8 lanes: two halves per group). V is declared in an anonymous namespace of each
// ISA file, so every instantiation has internal linkage; keep every function here a template.
//
// V provides: IReg, FReg, kWidth, kInt16Sums (then maddubs, add16, widen_pairs instead of
// dpbusd), load_codes(p) (4 * kWidth bytes), lo_nibbles, hi_nibbles,
// bcast_quad(p), dpbusd(acc, u8 weights, s8 activations), izero, set1i, iadd, imullo,
// load_zeros(p) (kWidth bytes to int32), load_half(p) (kWidth fp16 to float), cvt, set1f,
// fzero, fmul, fadd, fma, fload_partial, fstore, fstore_partial.
#pragma once
#include <cstdint>

#include "runtime/int4/int4_kernels.h"

namespace ember::runtime::int4 {

// How far ahead of the block being read a single-row pass prefetches the code stream, in
// bytes (32 blocks, 8 KB): enough to cover DRAM latency at one core's consumption rate. On
// Zen 5, 16 blocks left 2-thread GEMV at 50-65% of the bound, 32 reached 70-90%.
constexpr int64_t kCodePrefetchBytes = 32 * kBlockBytes;
constexpr int64_t kScalePrefetchBytes = 32 * kGroupRows * 2;

// seed + the 32-term dot products of one block: codes lo[h] / hi[h] against activation
// quads 8h / 8h + 4. VNNI: two chains of VPDPBUSD. AVX2 (V::kInt16Sums): vpmaddubsw pairs
// are at most 2 * 15 * 127 = 3810, so all eight of a block add up in int16 (<= 30480) and
// widen to int32 once.
template <class V>
[[gnu::always_inline]] inline typename V::IReg block_dot(typename V::IReg seed, const typename V::IReg (&lo)[4],
                                                        const typename V::IReg (&hi)[4], const int8_t* q) {
  if constexpr (V::kInt16Sums) {
    typename V::IReg sum = V::maddubs(lo[0], V::bcast_quad(q));
    sum = V::add16(sum, V::maddubs(hi[0], V::bcast_quad(q + 4)));
#pragma GCC unroll 4
    for (int h = 1; h < 4; ++h) {
      sum = V::add16(sum, V::maddubs(lo[h], V::bcast_quad(q + 8 * h)));
      sum = V::add16(sum, V::maddubs(hi[h], V::bcast_quad(q + 8 * h + 4)));
    }
    return V::iadd(seed, V::widen_pairs(sum));
  } else {
    typename V::IReg dot0 = seed, dot1 = V::izero();
#pragma GCC unroll 4
    for (int h = 0; h < 4; ++h) {
      dot0 = V::dpbusd(dot0, lo[h], V::bcast_quad(q + 8 * h));
      dot1 = V::dpbusd(dot1, hi[h], V::bcast_quad(q + 8 * h + 4));
    }
    return V::iadd(dot0, dot1);
  }
}

// One group of 16 output columns for MT activation rows starting at m0.
template <class V, int MT>
[[gnu::always_inline]] inline void group_rows(const Int4Args& a, int64_t g, int64_t m0) {
  using IReg = typename V::IReg;
  using FReg = typename V::FReg;
  constexpr int W = V::kWidth;
  constexpr int H = kGroupRows / W;  // vectors per group
  const Int4Weights& w = *a.w;
  const Int4Activations& x = *a.x;

  FReg acc[H][MT];
#pragma GCC unroll 2
  for (int hf = 0; hf < H; ++hf)
#pragma GCC unroll 8
    for (int r = 0; r < MT; ++r) acc[hf][r] = V::fzero();

  const uint8_t* codes = w.codes(g);
  const uint16_t* scales = w.scales(g);
  const uint8_t* zeros = w.zeros(g);
  const int32_t uniform_zero = w.uniform_zero();
  const int8_t* xq[MT];
  const float* xs[MT];
  const int32_t* xsum[MT];
#pragma GCC unroll 8
  for (int r = 0; r < MT; ++r) {
    xq[r] = x.row(m0 + r);
    xs[r] = x.scales(m0 + r);
    xsum[r] = x.sums(m0 + r);
  }

  const int64_t blocks = w.blocks();
  for (int64_t b = 0; b < blocks; ++b) {
    if constexpr (MT == 1) {
#pragma GCC unroll 4
      for (int line = 0; line < 4; ++line) __builtin_prefetch(codes + kCodePrefetchBytes + line * 64);
      __builtin_prefetch(reinterpret_cast<const uint8_t*>(scales) + kScalePrefetchBytes);
    }
#pragma GCC unroll 2
    for (int hf = 0; hf < H; ++hf) {
      IReg lo[4], hi[4];
#pragma GCC unroll 4
      for (int h = 0; h < 4; ++h) {
        const IReg raw = V::load_codes(codes + h * 64 + hf * W * 4);
        lo[h] = V::lo_nibbles(raw);
        hi[h] = V::hi_nibbles(raw);
      }
      const FReg w_scale = V::load_half(scales + hf * W);
      IReg zero_vec = V::izero();
      if (zeros) zero_vec = V::load_zeros(zeros + hf * W);
#pragma GCC unroll 8
      for (int r = 0; r < MT; ++r) {
        const int8_t* q = xq[r] + b * kBlock;
        // The zero-point correction -zero * sum(q) seeds the block's dot product.
        const IReg seed = zeros ? V::imullo(zero_vec, V::set1i(-xsum[r][b])) : V::set1i(-uniform_zero * xsum[r][b]);
        const IReg dot = block_dot<V>(seed, lo, hi, q);
        acc[hf][r] = V::fma(V::cvt(dot), V::fmul(w_scale, V::set1f(xs[r][b])), acc[hf][r]);
      }
    }
    codes += kBlockBytes;
    scales += kGroupRows;
    if (zeros) zeros += kGroupRows;
  }

#pragma GCC unroll 2
  for (int hf = 0; hf < H; ++hf) {
    const int64_t col = g * kGroupRows + hf * W;
    const int64_t lanes64 = w.N() - col < W ? w.N() - col : W;
    if (lanes64 <= 0) break;
    const int lanes = static_cast<int>(lanes64);
#pragma GCC unroll 8
    for (int r = 0; r < MT; ++r) {
      FReg v = acc[hf][r];
      if (a.bias) v = V::fadd(v, lanes < W ? V::fload_partial(a.bias + col, lanes) : V::fload(a.bias + col));
      float* out = a.y + (m0 + r) * a.ldy + col;
      if (lanes < W)
        V::fstore_partial(out, v, lanes);
      else
        V::fstore(out, v);
    }
  }
}

// Rows [m0, m1) of groups [g0, g1), MaxMT rows at a time.
template <class V, int MaxMT>
void run_kernel(const Int4Args& a) {
  for (int64_t g = a.g0; g < a.g1; ++g) {
    int64_t m = a.m0;
    for (; m + MaxMT <= a.m1; m += MaxMT) group_rows<V, MaxMT>(a, g, m);
    const int64_t rest = a.m1 - m;
    if constexpr (MaxMT > 3) {
      if (rest == 3) group_rows<V, 3>(a, g, m);
    }
    if constexpr (MaxMT > 2) {
      if (rest == 2) group_rows<V, 2>(a, g, m);
    }
    if constexpr (MaxMT > 1) {
      if (rest == 1) group_rows<V, 1>(a, g, m);
    }
  }
}

}  // namespace ember::runtime::int4
