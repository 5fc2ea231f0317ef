// The INT4 kernel for prefill: weights requantized to int8 per output column, one panel at a
// time, and run on the INT8 GEMM's tile kernels (runtime/qgemm) with activations quantized per
// row. The block kernels (int4_microkernel.h, int4_unpacked.h) scale every block of 32 depths in
// float, a VMULPS and a VFMADD per block per row and 16 columns that share VPDPBUSD's ports (10
// slots where INT8 takes 8); here each column has one scale, so the sweep is INT8's, and the
// requantization is paid once per weight per call instead of once per weight per row.
//
// Before: column n, block b: w = (q - z) * h * m (q, z in [0, 15], h the fp16 block scale, m the
//         scale multiplier).
// After:  w ~ w8 * s_n, w8 in [-127, 127], one scale per column, rows of the qgemm panel layout:
//   dmax_b = max(z, 15 - z)              the largest |q - z| the block's zero point allows
//   smax   = max over b of |h| dmax_b   (exact in float: 11 x 4 bits; scales may be negative)
//   s_n    = smax / 127 * m
//   r      = nearbyint(h * (127 * 256 / smax))     the block's step in s_n / 256 (an int16:
//                                                   |r| dmax_b <= 32512 + dmax_b / 2)
//   w8     = (d * r + 128) >> 8, d = q - z         round(d * h / (smax / 127)), half up,
//            within 0.5 + 15 / 512 of the exact ratio; never -128, so |w8| <= 127
// The added error is at most (0.5 + 15 / 512) s_n per weight: for the column's largest block
// 1 / 16 to 1 / 8.5 of its own step, relatively more for blocks of smaller scale
// (tests/unit/runtime/test_int4_requant.cc bounds it and the product's error against the float
// product). Activations per row (uint8, as INT8's act=row) add their own, coarser than per
// block of 32. Decode keeps the exact block kernels, so prefill and decode differ by both.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "ir/dtype.h"
#include "runtime/int4/int4_kernels.h"
#include "runtime/int4/int4_unpacked.h"
#include "runtime/parallel.h"

namespace ember::runtime::int4 {
namespace {

// PanelPrefetcher is a template on the ISA's vector traits; it only prefetches.
struct NoVectors {};

// One panel's requantized weights and per-column arrays in a thread's scratch.
struct PanelScratch {
  int8_t* panel = nullptr;
  int32_t* col_sums = nullptr;
  float* col_scales = nullptr;
};

int32_t zero_of(const Int4Weights& w, const uint8_t* zeros, int64_t b, int j) {
  return zeros ? zeros[b * kGroupRows + j] : w.uniform_zero();
}

}  // namespace

void requantize_group_scalar(const Int4Weights& w, int64_t g, int8_t* panel, int32_t* col_sums, float* col_scales) {
  const uint16_t* scales = w.scales(g);
  const uint8_t* zeros = w.zeros(g);
  for (int j = 0; j < kGroupRows; ++j) {
    float smax = 0.0f;
    for (int64_t b = 0; b < w.blocks(); ++b) {
      const int32_t z = zero_of(w, zeros, b, j);
      smax = std::max(smax, std::fabs(half_to_float(scales[b * kGroupRows + j])) * static_cast<float>(std::max(z, 15 - z)));
    }
    const float inv = smax > 0.0f ? 32512.0f / smax : 0.0f;
    col_scales[j] = smax / 127.0f * w.scale_multiplier();
    int32_t sum = 0;
    for (int64_t b = 0; b < w.blocks(); ++b) {
      const int32_t z = zero_of(w, zeros, b, j);
      const auto r = static_cast<int32_t>(std::nearbyint(half_to_float(scales[b * kGroupRows + j]) * inv));
      for (int i = 0; i < kBlock; ++i) {
        const int64_t k = b * kBlock + i;
        // Depth past K holds the zero point (int4_pack.cc), so it requantizes to 0.
        const auto w8 = static_cast<int8_t>(((w.code(g * kGroupRows + j, k) - z) * r + 128) >> 8);
        panel[(k / 4) * (4 * kGroupRows) + j * 4 + k % 4] = w8;
        sum += w8;
      }
    }
    col_sums[j] = sum;
  }
}

namespace {

// Groups [g0, g0 + panel_groups) into `out` (those past the last group as zeros: the tiles read
// whole panels).
void requantize_panel(RequantizeGroupFn requantize, const Int4Weights& w, int64_t g0, int panel_groups,
                      const PanelScratch& out) {
  const int64_t group_bytes = w.blocks() * kRequantBlockBytes;
  for (int gi = 0; gi < panel_groups; ++gi) {
    int8_t* panel = out.panel + gi * group_bytes;
    int32_t* sums = out.col_sums + gi * kGroupRows;
    float* scales = out.col_scales + gi * kGroupRows;
    if (g0 + gi < w.groups()) {
      requantize(w, g0 + gi, panel, sums, scales);
      continue;
    }
    std::memset(panel, 0, static_cast<size_t>(group_bytes));
    std::fill_n(sums, kGroupRows, 0);
    std::fill_n(scales, kGroupRows, 0.0f);
  }
}

}  // namespace

void requantized_gemm(RequantizeGroupFn requantize, const qgemm::Kernels& tiles, const Int4Activations& x,
                      const Int4Weights& w, const float* bias, float* y, int64_t ldy) {
  const qgemm::QuantizedA a = x.rows().view();
  const int64_t M = a.M, N = w.N();
  if (M <= 0 || N <= 0) return;
  const int panel_groups = static_cast<int>(tiles.nr / kGroupRows);
  const int64_t group_bytes = w.blocks() * kRequantBlockBytes;
  const int64_t panels = qgemm::ceil_div(w.groups(), panel_groups);
  // Weights without -128 (always, here) let the AVX2 tiles multiply A - 128 (qgemm.cc).
  auto tile = tiles.tile;
  std::vector<int32_t> shifted_zp;
  const int32_t* a_zp = a.zero_points;
  if (tiles.tile_shifted_a) {
    shifted_zp.assign(a.zero_points, a.zero_points + M);
    for (int32_t& z : shifted_zp) z -= 128;
    a_zp = shifted_zp.data();
    tile = tiles.tile_shifted_a;
  }
  const int64_t row_tiles = qgemm::ceil_div(M, tiles.mr);
  const int64_t macs_per_panel = std::max<int64_t>(1, M * tiles.nr * w.K());
  parallel_for(panels, std::max<int64_t>(1, qgemm::kMinMacsPerThread / macs_per_panel), [&](int64_t p0, int64_t p1) {
    // Per thread: the int8 panel, then its column sums and scales.
    const int64_t panel_bytes = panel_groups * group_bytes;
    uint8_t* scratch = unpack_scratch(static_cast<size_t>(panel_bytes + tiles.nr * 8));
    const PanelScratch buffer = {reinterpret_cast<int8_t*>(scratch), reinterpret_cast<int32_t*>(scratch + panel_bytes),
                                 reinterpret_cast<float*>(scratch + panel_bytes + tiles.nr * 4)};
    qgemm::Epilogue ep;
    ep.K = w.K();
    ep.a_zp = a_zp;
    ep.col_sums = buffer.col_sums;
    ep.a_scale = a.scales;
    ep.b_scale = buffer.col_scales;
    ep.ldc = ldy;
    qgemm::TileArgs t;
    t.k_quads = a.lda / qgemm::kQuad;
    t.lda = a.lda;
    t.b = buffer.panel;
    t.panel_bytes = group_bytes;
    t.col0 = 0;
    t.ep = &ep;
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t g0 = p * panel_groups, col0 = g0 * kGroupRows;
      requantize_panel(requantize, w, g0, panel_groups, buffer);
      // The next panel's packed weights come from memory while the tiles sweep this one.
      PanelPrefetcher<NoVectors> next(w, g0 + panel_groups, p + 1 < p1 ? std::min(w.groups(), g0 + 2 * panel_groups) : g0,
                                      row_tiles);
      // The epilogue's column arrays are the panel's; the output and bias start at col0.
      ep.bias = bias ? bias + col0 : nullptr;
      ep.c_f32 = y + col0;
      t.n = static_cast<int>(std::min<int64_t>(tiles.nr, N - col0));
      for (int64_t r = 0; r < M; r += tiles.mr) {
        t.row0 = r;
        t.m = static_cast<int>(std::min<int64_t>(tiles.mr, M - r));
        t.a = a.data + r * a.lda;
        next.step();
        tile(t);
      }
    }
  });
}

}  // namespace ember::runtime::int4
