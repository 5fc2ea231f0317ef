// Internal to runtime/int4: the INT4 kernel for many activation rows (prefill). The streaming
// kernel of int4_microkernel.h unpacks the nibbles of a block again for every few rows, which
// is right when the weights stream from memory once (decode) but costs as much as the products
// when hundreds of rows share them. This one unpacks a panel of PG groups (16 PG output columns)
// once into a thread-local buffer of bytes and sweeps every row over it with a register tile of
// MR rows x NV vectors, as the INT8 GEMM does with its packed B:
//   bytes  [block][quad 0..7][16 PG columns][4 k]: q + 15 - zero, in [0, 30] (u8); quad d
//          holds depth 4d .. 4d + 3 of the block
//   scales [block][16 PG] floats: the fp16 block scales, widened once
// The block's int32 dot product is seeded with -15 * sum(q_x) (Int4Args::seeds, per row and
// block, so that it is one broadcast from memory):
//   sum q_x (q - zero) = sum q_x (q + 15 - zero) - 15 * sum q_x
// which is the streaming kernel's integer, and it is scaled and added with the same FMA in the
// same block order, so the two kernels give bit-identical outputs.
//
// V provides, beyond int4_microkernel.h's traits: store_bytes(p, v) (4 * kWidth bytes), add8,
// set1b, zero_shift(p) (kWidth zero points -> bytes 15 - z, four per lane).
#pragma once
#include <algorithm>
#include <cstdint>

#include "runtime/int4/int4_kernels.h"

namespace ember::runtime::int4 {

template <class V, int PG>
struct PanelLayout {
  static constexpr int kWidth = V::kWidth;
  static constexpr int kCols = PG * kGroupRows;
  static constexpr int kVectors = kCols / kWidth;
  static constexpr int64_t kQuadBytes = int64_t{kCols} * 4;
  static constexpr int64_t kScaleOffset = 8 * kQuadBytes;
  static constexpr int64_t kBlockStride = kScaleOffset + kCols * int64_t{sizeof(float)};
};

// Unpacks groups [g0, g0 + PG) (those past the last group as zeros) into `panel`.
template <class V, int PG>
void unpack_panel(const Int4Weights& w, int64_t g0, uint8_t* panel) {
  using L = PanelLayout<V, PG>;
  constexpr int W = V::kWidth;
  constexpr int H = kGroupRows / W;
  for (int gi = 0; gi < PG; ++gi) {
    const int64_t g = g0 + gi;
    if (g >= w.groups()) {
      for (int64_t b = 0; b < w.blocks(); ++b) {
        uint8_t* dst = panel + b * L::kBlockStride;
        for (int d = 0; d < 8; ++d) __builtin_memset(dst + d * L::kQuadBytes + gi * kGroupRows * 4, 0, kGroupRows * 4);
        __builtin_memset(dst + L::kScaleOffset + gi * kGroupRows * sizeof(float), 0, kGroupRows * sizeof(float));
      }
      continue;
    }
    const uint8_t* codes = w.codes(g);
    const uint16_t* scales = w.scales(g);
    const uint8_t* zeros = w.zeros(g);
    for (int64_t b = 0; b < w.blocks(); ++b) {
      uint8_t* dst = panel + b * L::kBlockStride + gi * kGroupRows * 4;
      float* scale_dst = reinterpret_cast<float*>(panel + b * L::kBlockStride + L::kScaleOffset) + gi * kGroupRows;
#pragma GCC unroll 2
      for (int hf = 0; hf < H; ++hf) {
        const typename V::IReg shift =
            zeros ? V::zero_shift(zeros + hf * W) : V::set1b(static_cast<int8_t>(kUnpackedShift - w.uniform_zero()));
#pragma GCC unroll 4
        for (int h = 0; h < 4; ++h) {
          const typename V::IReg raw = V::load_codes(codes + h * 64 + hf * W * 4);
          V::store_bytes(dst + (2 * h) * L::kQuadBytes + hf * W * 4, V::add8(V::lo_nibbles(raw), shift));
          V::store_bytes(dst + (2 * h + 1) * L::kQuadBytes + hf * W * 4, V::add8(V::hi_nibbles(raw), shift));
        }
        V::fstore(scale_dst + hf * W, V::load_half(scales + hf * W));
      }
      codes += kBlockBytes;
      scales += kGroupRows;
      if (zeros) zeros += kGroupRows;
    }
  }
}

// Whether V splits each block's int32 sum into two chains (V::kTwoChains, false when absent).
template <class V>
constexpr bool two_chains() {
  if constexpr (requires { V::kTwoChains; })
    return V::kTwoChains;
  else
    return false;
}

// The int32 dot products of one block for MR rows and NV vectors, added to acc (seeded).
template <class V, int MR, int NV>
[[gnu::always_inline]] inline void panel_block_dots(typename V::IReg (&acc)[MR][NV], const uint8_t* wq,
                                                    int64_t quad_bytes, const int8_t* const (&xq)[MR]) {
  using IReg = typename V::IReg;
  constexpr int W = V::kWidth;
  if constexpr (V::kInt16Sums) {
    // vpmaddubsw pairs are at most 2 * 30 * 127 = 7620, so four quads add up in int16 (<= 30480).
#pragma GCC unroll 2
    for (int half = 0; half < 2; ++half) {
      IReg sum[MR][NV];
#pragma GCC unroll 4
      for (int d = 4 * half; d < 4 * half + 4; ++d) {
        IReg wv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) wv[v] = V::load_codes(wq + d * quad_bytes + v * W * 4);
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i) {
          const IReg a = V::bcast_quad(xq[i] + 4 * d);
#pragma GCC unroll 4
          for (int v = 0; v < NV; ++v) {
            const IReg p = V::maddubs(wv[v], a);
            sum[i][v] = d == 4 * half ? p : V::add16(sum[i][v], p);
          }
        }
      }
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = V::iadd(acc[i][v], V::widen_pairs(sum[i][v]));
    }
  } else {
    // Two int32 chains per accumulator (even and odd quads), added at the end: VPDPBUSD's
    // latency, not its throughput, bounds 8 chains of 8 dependent steps per block (3-7% faster
    // with 16, measured on Zen 4). Integer sums, so the result is the same. Only where the
    // registers hold them (V::kTwoChains: the 32 ZMM of AVX-512, not AVX-VNNI's 16 YMM).
    constexpr bool kTwo = two_chains<V>();
    IReg odd[MR][NV];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) odd[i][v] = V::izero();  // unused without kTwo
#pragma GCC unroll 8
    for (int d = 0; d < 8; ++d) {
      IReg wv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) wv[v] = V::load_codes(wq + d * quad_bytes + v * W * 4);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const IReg a = V::bcast_quad(xq[i] + 4 * d);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          if (!kTwo || d % 2 == 0)
            acc[i][v] = V::dpbusd(acc[i][v], wv[v], a);
          else
            odd[i][v] = V::dpbusd(odd[i][v], wv[v], a);
        }
      }
    }
    if constexpr (kTwo) {
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = V::iadd(acc[i][v], odd[i][v]);
    }
  }
}

// Rows [m0, m0 + MR) of the panel whose first output column is col0 (columns past N unstored).
template <class V, int PG, int MR>
void panel_rows(const Int4Args& a, const uint8_t* panel, int64_t col0, int64_t m0) {
  using L = PanelLayout<V, PG>;
  using IReg = typename V::IReg;
  using FReg = typename V::FReg;
  constexpr int W = V::kWidth;
  constexpr int NV = L::kVectors;
  const Int4Activations& x = *a.x;

  FReg facc[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) facc[i][v] = V::fzero();
  const int64_t blocks = a.w->blocks();
  const int8_t* xq[MR];
  const float* xs[MR];
  const int32_t* seeds[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    xq[i] = x.row(m0 + i);
    xs[i] = x.scales(m0 + i);
    seeds[i] = a.seeds + (m0 + i) * blocks;
  }

  for (int64_t b = 0; b < blocks; ++b) {
    IReg acc[MR][NV];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const IReg seed = V::set1i(seeds[i][b]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = seed;
    }
    const uint8_t* block = panel + b * L::kBlockStride;
    panel_block_dots<V, MR, NV>(acc, block, L::kQuadBytes, xq);
    const float* scales = reinterpret_cast<const float*>(block + L::kScaleOffset);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const FReg x_scale = V::set1f(xs[i][b]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        facc[i][v] = V::fma(V::cvt(acc[i][v]), V::fmul(V::fload(scales + v * W), x_scale), facc[i][v]);
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) xq[i] += kBlock;
  }

#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const int64_t col = col0 + v * W;
    const int64_t lanes64 = a.w->N() - col < W ? a.w->N() - col : W;
    if (lanes64 <= 0) break;
    const int lanes = static_cast<int>(lanes64);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      FReg out = facc[i][v];
      if (a.bias) out = V::fadd(out, lanes < W ? V::fload_partial(a.bias + col, lanes) : V::fload(a.bias + col));
      float* y = a.y + (m0 + i) * a.ldy + col;
      if (lanes < W)
        V::fstore_partial(y, out, lanes);
      else
        V::fstore(y, out);
    }
  }
}

// The last rows (fewer than a full tile): one tile of exactly `rest` rows.
template <class V, int PG, int MR>
void panel_rest(const Int4Args& a, const uint8_t* panel, int64_t col0, int64_t m, int64_t rest) {
  if constexpr (MR >= 1) {
    if (rest == MR) return panel_rows<V, PG, MR>(a, panel, col0, m);
    panel_rest<V, PG, MR - 1>(a, panel, col0, m, rest);
  }
}

// The packed codes, scales and zero points of groups [g0, g1) (contiguous ranges of
// Int4Weights), prefetched into L2 a few lines per step while the rows sweep the panel before
// them. The weights stream from memory once per call: without it, unpacking the next panel
// waits on every load of the codes (7% of a 0.1 B model's prefill, as long as the unpack's
// arithmetic ten times over). A template on V like everything here (internal to each ISA file).
template <class V>
class PanelPrefetcher {
 public:
  PanelPrefetcher(const Int4Weights& w, int64_t g0, int64_t g1, int64_t steps) {
    if (g0 >= g1) return;
    const int64_t cells = (g1 - g0) * w.blocks();
    add(w.codes(g0), cells * kBlockBytes);
    add(reinterpret_cast<const uint8_t*>(w.scales(g0)), cells * kGroupRows * int64_t{sizeof(uint16_t)});
    if (w.zeros(g0)) add(w.zeros(g0), cells * kGroupRows);
    int64_t lines = 0;
    for (int r = 0; r < count_; ++r) lines += (bytes_[r] + 63) / 64;
    per_step_ = (lines + steps - 1) / steps;
  }

  void step() {
    for (int64_t i = 0; i < per_step_ && range_ < count_; ++i) {
      __builtin_prefetch(begin_[range_] + offset_, 0, 2);
      offset_ += 64;
      if (offset_ >= bytes_[range_]) ++range_, offset_ = 0;
    }
  }

 private:
  void add(const uint8_t* begin, int64_t bytes) { begin_[count_] = begin, bytes_[count_++] = bytes; }

  const uint8_t* begin_[3] = {};
  int64_t bytes_[3] = {};
  int count_ = 0, range_ = 0;
  int64_t offset_ = 0, per_step_ = 0;
};

// Groups [g0, g1) (whole panels but possibly the last) for rows [m0, m1), MaxMR rows at a time.
template <class V, int PG, int MaxMR>
void run_unpacked(const Int4Args& a) {
  using L = PanelLayout<V, PG>;
  const Int4Weights& w = *a.w;
  uint8_t* panel = unpack_scratch(static_cast<size_t>(w.blocks() * L::kBlockStride));
  const int64_t tiles = (a.m1 - a.m0 + MaxMR - 1) / MaxMR;
  for (int64_t g = a.g0; g < a.g1; g += PG) {
    unpack_panel<V, PG>(w, g, panel);
    PanelPrefetcher<V> next(w, g + PG, g + PG < a.g1 ? std::min(a.g1, g + 2 * PG) : g + PG, tiles);
    const int64_t col0 = g * kGroupRows;
    int64_t m = a.m0;
    for (; m + MaxMR <= a.m1; m += MaxMR) {
      next.step();
      panel_rows<V, PG, MaxMR>(a, panel, col0, m);
    }
    next.step();
    panel_rest<V, PG, MaxMR - 1>(a, panel, col0, m, a.m1 - m);
  }
}

}  // namespace ember::runtime::int4
