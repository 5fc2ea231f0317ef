// The INT4 driver: ISA dispatch and threading over groups of 16 output columns, so each
// thread streams one contiguous range of the packed weights.
#include <algorithm>

#include "runtime/cpu.h"
#include "runtime/int4/int4_kernels.h"
#include "runtime/parallel.h"

namespace ember::runtime::int4 {
namespace {

// Weight bytes x activation rows below which a chunk is not worth another thread.
constexpr int64_t kMinWorkPerThread = int64_t{1} << 16;

const Int4Kernels& kernels_for(IsaLevel level) {
  switch (level) {
    case IsaLevel::kAvx512:
      return kInt4Avx512Kernels;
    case IsaLevel::kAvxVnni:
      return kInt4AvxVnniKernels;
    case IsaLevel::kAvx2:
      return kInt4Avx2Kernels;
    case IsaLevel::kScalar:
      break;
  }
  return kInt4ScalarKernels;
}

void run_with(const Int4Kernels& kern, const Int4Activations& x, const Int4Weights& w, const float* bias, float* y,
              int64_t ldy) {
  if (x.M() <= 0 || w.N() <= 0) return;
  const int64_t group_work = std::max<int64_t>(1, w.blocks() * kBlockBytes * x.M());
  parallel_for(w.groups(), std::max<int64_t>(1, kMinWorkPerThread / group_work), [&](int64_t g0, int64_t g1) {
    Int4Args a;
    a.w = &w;
    a.x = &x;
    a.g0 = g0;
    a.g1 = g1;
    a.m0 = 0;
    a.m1 = x.M();
    a.bias = bias;
    a.y = y;
    a.ldy = ldy;
    kern.run(a);
  });
}

}  // namespace

void int4_gemm(const Int4Activations& x, const Int4Weights& w, const float* bias, float* y, int64_t ldy) {
  run_with(kernels_for(isa_level()), x, w, bias, y, ldy);
}

void int4_gemm_reference(const Int4Activations& x, const Int4Weights& w, const float* bias, float* y, int64_t ldy) {
  Int4Args a;
  a.w = &w;
  a.x = &x;
  a.g0 = 0;
  a.g1 = w.groups();
  a.m0 = 0;
  a.m1 = x.M();
  a.bias = bias;
  a.y = y;
  a.ldy = ldy;
  kInt4ScalarKernels.run(a);
}

}  // namespace ember::runtime::int4
