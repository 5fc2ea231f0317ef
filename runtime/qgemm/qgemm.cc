// The u8s8 driver: ISA dispatch, blocking and threading around the tile kernels of
// qgemm_{scalar,avx2,avxvnni,avx512}.cc.
//
// Work is cut into units of (row block, column tile): a column tile is nr columns of packed B
// over all of K (at most a few hundred KB for the K of real layers, so it stays in L2 while
// the row tiles of its block sweep it); a row block is as many rows of A as fit in about
// 256 KB. Threads take contiguous ranges of units, column tiles innermost, so a decode step
// (one row) splits its columns and a long prefill splits rows.
#include <algorithm>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/parallel.h"
#include "runtime/qgemm/qgemm.h"
#include "runtime/qgemm/qgemm_kernels.h"

namespace ember::runtime::qgemm {
namespace {

constexpr int64_t kRowBlockBytes = int64_t{256} << 10;
constexpr int64_t kActivationSpan = 256;  // columns: 256 rows of them are 256 KB

const Kernels& kernels_for(IsaLevel level) {
  switch (level) {
    case IsaLevel::kAvx512:
      return kAvx512Kernels;
    case IsaLevel::kAvxVnni:
      return kAvxVnniKernels;
    case IsaLevel::kAvx2:
      return kAvx2Kernels;
    case IsaLevel::kScalar:
      break;
  }
  return kScalarKernels;
}

Epilogue make_epilogue(const QuantizedA& a, const PackedB& b, const QGemmOutput& out, std::vector<int32_t>& row_term) {
  Epilogue ep;
  ep.K = b.K();
  ep.a_zp = a.zero_points;
  ep.col_sums = b.col_sums();
  ep.b_zp = b.zero_points();
  if (ep.b_zp) {
    row_term.resize(static_cast<size_t>(a.M));
    for (int64_t m = 0; m < a.M; ++m) row_term[size_t(m)] = a.row_sums[m] - static_cast<int32_t>(b.K()) * a.zero_points[m];
    ep.row_term = row_term.data();
  }
  ep.a_scale = a.scales;
  ep.b_scale = out.b_scales;
  ep.bias = out.bias;
  ep.relu = out.relu;
  ep.c_f32 = out.f32;
  ep.c_i32 = out.i32;
  ep.ldc = out.ldc;
  return ep;
}

// The epilogue of each column part (one when the output is a single matrix).
std::vector<Epilogue> part_epilogues(const Epilogue& ep, const QGemmOutput& out, int64_t N) {
  if (!out.f32_parts) return {ep};
  std::vector<Epilogue> parts(size_t(ceil_div(N, out.part_cols)), ep);
  for (size_t i = 0; i < parts.size(); ++i) {
    parts[i].c_f32 = out.f32_parts[i];
    parts[i].ldc = out.part_cols;
    parts[i].c_col0 = int64_t(i) * out.part_cols;
  }
  return parts;
}

}  // namespace

const Kernels& active_kernels() { return kernels_for(isa_level()); }

int64_t tile_columns() { return active_kernels().nr; }

void gemm_u8s8(const QuantizedA& a, const PackedB& b, const QGemmOutput& out) {
  const int64_t M = a.M, N = b.N();
  if (M <= 0 || N <= 0) return;
  const Kernels& kern = kernels_for(isa_level());
  std::vector<int32_t> row_term;
  Epilogue ep = make_epilogue(a, b, out, row_term);
  auto tile_fn = kern.tile;
  std::vector<int32_t> shifted_zp;
  if (kern.tile_shifted_a && !b.has_int8_min()) {
    // The shifted kernel computes (A - 128) . B, so the column-sum term uses a_zp - 128.
    shifted_zp.assign(a.zero_points, a.zero_points + M);
    for (int32_t& z : shifted_zp) z -= 128;
    ep.a_zp = shifted_zp.data();
    tile_fn = kern.tile_shifted_a;
  }
  const std::vector<Epilogue> eps = part_epilogues(ep, out, N);

  const int64_t col_tiles = ceil_div(N, kern.nr);
  const int64_t rows_per_block =
      std::max<int64_t>(kern.mr, std::min(M, kRowBlockBytes / std::max<int64_t>(a.lda, 1)) / kern.mr * kern.mr);
  const int64_t row_blocks = ceil_div(M, rows_per_block);
  const int64_t macs_per_unit = std::min(M, rows_per_block) * kern.nr * std::max<int64_t>(b.K(), 1);
  const int64_t min_units = std::max<int64_t>(1, kMinMacsPerThread / macs_per_unit);

  parallel_for(row_blocks * col_tiles, min_units, [&](int64_t u0, int64_t u1) {
    TileArgs t;
    t.k_quads = b.k_quads();
    t.lda = a.lda;
    t.panel_bytes = b.panel_bytes();
    t.ep = eps.data();
    // The activation runs over the columns this chunk finished in a row block, row by row, once
    // the chunk leaves the block or kActivationSpan columns are pending: longer rows amortise
    // its setup (a tile row is only nr wide) while the span is still in L2.
    int64_t act_block = -1, act_c0 = 0, act_c1 = 0;
    auto flush_activation = [&] {
      if (act_block < 0) return;
      const int64_t r0 = act_block * rows_per_block, r1 = std::min(M, r0 + rows_per_block);
      for (int64_t r = r0; r < r1; ++r) {
        float* row = out.f32 + r * out.ldc + act_c0;
        out.activation(row, row, act_c1 - act_c0);
      }
      act_block = -1;
    };
    const bool activate = out.activation && out.f32;
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t block = u / col_tiles, tile = u % col_tiles;
      const int64_t r0 = block * rows_per_block, r1 = std::min(M, r0 + rows_per_block);
      t.col0 = tile * kern.nr;
      t.n = static_cast<int>(std::min<int64_t>(kern.nr, N - t.col0));
      t.b = b.panels() + (t.col0 / kPanelWidth) * b.panel_bytes();
      if (out.f32_parts) t.ep = &eps[size_t(t.col0 / out.part_cols)];
      for (int64_t r = r0; r < r1; r += kern.mr) {
        t.row0 = r;
        t.m = static_cast<int>(std::min<int64_t>(kern.mr, r1 - r));
        t.a = a.data + r * a.lda;
        tile_fn(t);
      }
      if (activate) {
        if (block != act_block || t.col0 - act_c0 >= kActivationSpan) flush_activation(), act_block = block, act_c0 = t.col0;
        act_c1 = t.col0 + t.n;
      }
    }
    if (activate) flush_activation();
  });
}

void gemm_u8s8_reference(const QuantizedA& a, const PackedB& b, const QGemmOutput& out) {
  std::vector<int32_t> row_term;
  const std::vector<Epilogue> eps = part_epilogues(make_epilogue(a, b, out, row_term), out, b.N());
  for (int64_t m = 0; m < a.M; ++m)
    for (int64_t n = 0; n < b.N(); ++n) {
      int32_t acc = 0;
      for (int64_t k = 0; k < b.K(); ++k) acc += int32_t{a.data[m * a.lda + k]} * b.at(k, n);
      store_result(eps[out.f32_parts ? size_t(n / out.part_cols) : 0], m, n, acc);
    }
}

}  // namespace ember::runtime::qgemm
