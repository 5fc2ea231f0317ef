// Scalar sgemm kernels: the portable reference every SIMD path is tested against, and the
// fallback on CPUs without AVX2. Plain loops over a 4 x 8 tile.
#include "runtime/gemm/sgemm_kernels.h"

namespace ember::runtime::gemm {
namespace {

constexpr int kMr = 4, kNr = 8;

void scalar_tile(const TileArgs& t) {
  float acc[kMr][kNr] = {};
  for (int64_t k = 0; k < t.depth; ++k) {
    const float* a = t.a + k * t.m;
    const float* b = t.b + k * t.b_stride;
    for (int i = 0; i < t.m; ++i)
      for (int j = 0; j < t.n; ++j) acc[i][j] += a[i] * b[j];
  }
  for (int i = 0; i < t.m; ++i) {
    float* c = t.c + i * t.ldc;
    for (int j = 0; j < t.n; ++j) {
      float v = acc[i][j];
      if (t.bias) v += t.bias[j];
      c[j] = t.beta != 0 ? v + t.beta * c[j] : v;
    }
  }
}

void scalar_gemv_t(const GemvArgs& g) {
  for (int64_t j = 0; j < g.n; ++j) {
    const float* b = g.b + j * g.ldb;
    float dot = 0;
    for (int64_t k = 0; k < g.depth; ++k) dot += g.a[k] * b[k];
    dot *= g.alpha;
    g.c[j] = g.beta != 0 ? dot + g.beta * g.c[j] : dot;
  }
}

void scalar_gemv_n(const GemvArgs& g) {
  for (int64_t j = 0; j < g.n; ++j) g.c[j] = g.beta != 0 ? g.beta * g.c[j] : 0.0f;
  for (int64_t k = 0; k < g.depth; ++k) {
    const float scale = g.alpha * g.a[k];
    const float* b = g.b + k * g.ldb;
    for (int64_t j = 0; j < g.n; ++j) g.c[j] += scale * b[j];
  }
}

}  // namespace

constinit const GemmKernels kScalarKernels = {
    .mr = kMr,
    .nr = kNr,
    .kc = 256,
    .mc = 128,
    .k_per_element = 1,
    .tile = &scalar_tile,
    .gemv_t = &scalar_gemv_t,
    .gemv_n = &scalar_gemv_n,
    .pack_a = &pack_a_block,
    .pack_b = &pack_b_panel,
};

}  // namespace ember::runtime::gemm
