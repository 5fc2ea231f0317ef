// Scalar INT4 kernel: the reference the SIMD paths are tested against (same integer dot
// products, same float operations in the same order) and the path for CPUs without AVX2.
#include <cmath>

#include "ir/dtype.h"
#include "runtime/int4/int4_kernels.h"

namespace ember::runtime::int4 {
namespace {

void scalar_run(const Int4Args& a) {
  const Int4Weights& w = *a.w;
  const Int4Activations& x = *a.x;
  for (int64_t g = a.g0; g < a.g1; ++g)
    for (int64_t j = 0; j < kGroupRows; ++j) {
      const int64_t n = g * kGroupRows + j;
      if (n >= w.N()) break;
      for (int64_t m = a.m0; m < a.m1; ++m) {
        const int8_t* q = x.row(m);
        float acc = 0.0f;
        for (int64_t b = 0; b < w.blocks(); ++b) {
          const int32_t zero = w.zeros(g) ? w.zeros(g)[b * kGroupRows + j] : w.uniform_zero();
          int32_t dot = -zero * x.sums(m)[b];
          for (int64_t i = 0; i < kBlock; ++i) dot += w.code(n, b * kBlock + i) * int32_t{q[b * kBlock + i]};
          const float scale = half_to_float(w.scales(g)[b * kGroupRows + j]) * x.scales(m)[b];
          acc = std::fma(static_cast<float>(dot), scale, acc);
        }
        a.y[m * a.ldy + n] = a.bias ? acc + a.bias[n] : acc;
      }
    }
}

}  // namespace

// No unpacked form: the scalar loops read each code once per row either way.
constinit const Int4Kernels kInt4ScalarKernels = {
    .run = &scalar_run,
    .run_unpacked = &scalar_run,
    .panel_groups = 1,
    .quantize_block = &quantize_whole_block_scalar,
};

}  // namespace ember::runtime::int4
