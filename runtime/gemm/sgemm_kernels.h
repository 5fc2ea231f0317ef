// Internal to runtime/gemm: the per-ISA kernel table the sgemm driver dispatches to.
// Each *_avx512.cc / *_avx2.cc file exports one table of constant data and function pointers,
// so nothing in those files runs before the driver has checked isa_supported().
#pragma once
#include <cstdint>

#include "runtime/cpu.h"
#include "runtime/gemm/sgemm_pack.h"

namespace ember::runtime::gemm {

// The level whose FP32 kernels serve `level` (sgemm's, the conv tiles', the lane tiles'): FP32
// has no use for VNNI, so avxvnni runs the AVX2 ones.
IsaLevel kernel_level(IsaLevel level);
// The one of three FP32 kernel tables that serves `level` (through kernel_level).
template <class Kernels>
const Kernels& kernels_at(IsaLevel level, const Kernels& avx512, const Kernels& avx2, const Kernels& scalar) {
  const IsaLevel k = kernel_level(level);
  return k == IsaLevel::kAvx512 ? avx512 : k == IsaLevel::kAvx2 ? avx2 : scalar;
}

// One register tile of C: C[m, n] = beta * C + A_panel * B_panel (+ bias).
struct TileArgs {
  int64_t depth = 0;        // K extent of the panels
  const float* a = nullptr; // packed A micro-panel: depth rows of m floats (row k at a + k * m)
  const float* b = nullptr; // B micro-panel: depth rows, b_stride floats apart
  int64_t b_stride = 0;     // each row holds at least round_up(n, vector width) readable floats
  float* c = nullptr;
  int64_t ldc = 0;
  int m = 0, n = 0;         // valid rows (1..mr) and columns (1..nr)
  float beta = 0;           // 0: C is overwritten and never read (it may hold NaN)
  const float* bias = nullptr;  // n floats added to every row, or null
};

// GEMV, B rows ldb apart, for j < n:
//   gemv_t: c[j] = alpha * dot(a, B row j) + beta * c[j]        (B is n x depth)
//   gemv_n: c[j] = alpha * sum_k a[k] * B[k, j] + beta * c[j]   (B is depth x n)
struct GemvArgs {
  int64_t n = 0, depth = 0;
  const float* a = nullptr;  // depth contiguous floats
  const float* b = nullptr;
  int64_t ldb = 0;
  float* c = nullptr;
  float alpha = 1, beta = 0;  // beta 0: c is never read
};

struct GemmKernels {
  int mr, nr;           // register tile; B panels are nr floats wide, A panels up to mr rows
  int kc, mc;           // cache blocking: depth of a block, rows of an A block
  // k values per packed element: 1 for f32; 2 for the bf16 kernels, whose packed "floats" are
  // 32-bit words holding two bf16 of consecutive k (the operand pairs of vdpbf16ps). The
  // driver counts depth (K, kc, packed offsets) in elements, so it runs both unchanged.
  int k_per_element;
  void (*tile)(const TileArgs&);
  void (*gemv_t)(const GemvArgs&);
  void (*gemv_n)(const GemvArgs&);
  // pack_a_block and pack_b_panel of sgemm_pack.h, or faster ones with the same results.
  decltype(&pack_a_block) pack_a;
  decltype(&pack_b_panel) pack_b;
};

extern const GemmKernels kScalarKernels;
extern const GemmKernels kAvx2Kernels;
extern const GemmKernels kAvx512Kernels;
extern const GemmKernels kAvx512Bf16Kernels;  // needs AVX512-BF16, part of IsaLevel::kAvx512

}  // namespace ember::runtime::gemm
