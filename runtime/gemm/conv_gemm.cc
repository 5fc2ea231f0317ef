// The channels-last conv driver: ISA dispatch, weight panels, and the sweep of each panel over
// the output positions, mr rows per tile. The scalar tile here is the portable reference the
// SIMD ones (conv_gemm_microkernel.h) are tested against.
#include "runtime/gemm/conv_gemm.h"

#include <algorithm>

#include "runtime/cpu.h"
#include "runtime/gemm/conv_gemm_kernels.h"
#include "runtime/gemm/sgemm_kernels.h"

namespace ember::runtime {
namespace gemm {
namespace {

constexpr int kScalarMr = 4, kScalarNr = 8;

void scalar_conv_tile(const ConvTileArgs& t) {
  float acc[kScalarMr][kScalarNr] = {};
  const float* b = t.b;
  for (int64_t r = 0; r < t.run_count; ++r)
    for (int64_t k = 0; k < t.run_length; ++k, b += t.b_stride)
      for (int i = 0; i < t.m; ++i) {
        const float a = t.rows[i][t.runs[r] + k];
        for (int j = 0; j < t.n; ++j) acc[i][j] += a * b[j];
      }
  for (int i = 0; i < t.m; ++i)
    for (int j = 0; j < t.n; ++j) {
      float v = acc[i][j] + (t.bias ? t.bias[j] : 0.0f);
      if (t.relu) v = v < 0 ? 0.0f : v;
      t.c[i * t.ldc + j] = v;
    }
}

void scalar_max_of_runs(const float* x, const int64_t* offsets, int64_t count, int64_t channels, float* out) {
  for (int64_t c = 0; c < channels; ++c) {
    float best = x[offsets[0] + c];
    for (int64_t t = 1; t < count; ++t) best = x[offsets[t] + c] > best ? x[offsets[t] + c] : best;
    out[c] = best;
  }
}

constexpr ConvGemmKernels kConvScalarKernels = {kScalarMr, kScalarNr, 1, &scalar_conv_tile, &scalar_max_of_runs};

const ConvGemmKernels& conv_kernels_for(IsaLevel level) {
  return kernels_at(level, kConvAvx512Kernels, kConvAvx2Kernels, kConvScalarKernels);
}

}  // namespace
}  // namespace gemm

struct ConvGemmAccess {
  // Panel q holds columns [q * nr, q * nr + nr): K rows of nr floats, zero past N; nr is the
  // tile's width, or fewer whole vectors when N is narrower (rows of a narrow panel share lines).
  static int64_t panel_width(const gemm::ConvGemmKernels& kern, int64_t N) {
    return std::min<int64_t>(kern.nr, (N + kern.width - 1) / kern.width * kern.width);
  }

  static void pack_panels(PackedConvWeights& w, IsaLevel level) {
    const int64_t nr = panel_width(gemm::conv_kernels_for(level), w.N_);
    const int64_t panels = (w.N_ + nr - 1) / nr;
    std::shared_ptr<float> data(new float[static_cast<size_t>(panels * w.K_ * nr)](), std::default_delete<float[]>());
    for (int64_t n = 0; n < w.N_; ++n)
      for (int64_t k = 0; k < w.K_; ++k) data.get()[(n / nr * w.K_ + k) * nr + n % nr] = w.plain_[size_t(n * w.K_ + k)];
    w.panels_ = std::move(data);
    w.isa_level_ = static_cast<int>(gemm::kernel_level(level));
  }

  static void run(const ConvGemmArgs& a, const PackedConvWeights& w) {
    if (a.count <= 0 || w.N() <= 0) return;
    // Panels laid out for a level above the one in use (lowered since, in tests) are repacked.
    const PackedConvWeights* packed = &w;
    PackedConvWeights repacked;
    if (w.isa_level_ != static_cast<int>(gemm::kernel_level(isa_level()))) {
      repacked = w;
      ConvGemmAccess::pack_panels(repacked, isa_level());
      packed = &repacked;
    }
    const gemm::ConvGemmKernels& kern = gemm::conv_kernels_for(static_cast<IsaLevel>(packed->isa_level_));
    const float* rows[16];
    gemm::ConvTileArgs t;
    t.rows = rows;
    t.runs = a.runs;
    t.run_count = a.run_count;
    t.run_length = a.run_length;
    const int64_t nr = panel_width(kern, w.N());
    t.b_stride = nr;
    t.relu = a.relu;
    t.ldc = a.ldc;
    // Panel by panel (its K x nr floats stay in L1) over all positions.
    for (int64_t n0 = 0; n0 < w.N(); n0 += nr) {
      t.b = packed->panels_.get() + n0 * w.K();
      t.n = static_cast<int>(std::min<int64_t>(nr, w.N() - n0));
      t.bias = a.bias ? a.bias + n0 : nullptr;
      for (int64_t p0 = 0; p0 < a.count; p0 += kern.mr) {
        t.m = static_cast<int>(std::min<int64_t>(kern.mr, a.count - p0));
        for (int i = 0; i < t.m; ++i) rows[i] = a.image + a.positions[p0 + i];
        t.c = a.y + p0 * a.ldc + n0;
        kern.tile(t);
      }
    }
  }
};

PackedConvWeights PackedConvWeights::pack(const float* w, int64_t N, int64_t K) {
  PackedConvWeights p;
  p.N_ = N;
  p.K_ = K;
  p.plain_.assign(w, w + N * K);
  if (N > 0 && K > 0) ConvGemmAccess::pack_panels(p, isa_level());
  return p;
}

void conv_gemm(const ConvGemmArgs& a, const PackedConvWeights& w) { ConvGemmAccess::run(a, w); }

void max_of_runs(const float* x, const int64_t* offsets, int64_t count, int64_t channels, float* out) {
  gemm::conv_kernels_for(isa_level()).max_of_runs(x, offsets, count, channels, out);
}

}  // namespace ember::runtime
