// Internal to runtime/gemm: copies blocks of op(A) and op(B) into the panel layouts the
// microkernels read (runtime/gemm/sgemm_microkernel.h). The ISA files include this header, so
// it must declare no inline functions: the linker could keep an AVX-512 copy of one.
#pragma once
#include <cstdint>

namespace ember::runtime::gemm {

// A matrix as stored, read as op(A)[i, k] (M x K): A[i * ld + k], or A[k * ld + i] when trans.
struct MatrixRef {
  const float* data = nullptr;
  int64_t ld = 0;
  bool trans = false;
  // K, for the bf16 packers (sgemm_bf16_avx512.cc), whose k0 and depth count pairs of k: the
  // second half of a last pair past K reads as zero. The f32 packers ignore it.
  int64_t k_extent = 0;
};

// Floats a buffer for pack_a_block output needs past rows * depth: the SIMD packers may
// store that far (values of no meaning) with whole-vector writes.
constexpr int64_t kPackASlack = 8;

// Rows [row0, row0 + rows) and depth [k0, k0 + depth) of op(A), times alpha, as consecutive
// micro-panels of mr rows; a panel of m rows stores depth rows of m floats. Panel p starts at
// out + p * mr * depth.
void pack_a_block(const MatrixRef& a, int64_t row0, int64_t rows, int64_t k0, int64_t depth, int mr, float alpha,
                  float* out);

// Columns [col0, col0 + cols) (cols <= nr) and depth [k0, k0 + depth) of op(B) as one panel:
// depth rows of nr floats, the columns past cols zero.
void pack_b_panel(const MatrixRef& b, int64_t k0, int64_t depth, int64_t col0, int64_t cols, int nr, float* out);

}  // namespace ember::runtime::gemm
