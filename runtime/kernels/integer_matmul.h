// Exact integer matrix products for the quantized kernels (MatMulInteger, QLinearMatMul,
// DynamicQuantizeMatMul, ConvInteger, QLinearConv). 8-bit operands minus their zero points lie
// in [-255, 255], so they are widened to int16 once and multiplied with int32 accumulation,
// which is exact for any K below 33000.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ir/status.h"
#include "ir/tensor.h"

namespace ember::runtime {

// sum_k a[k] * b[k] in int32.
inline int32_t dot_i16(const int16_t* a, const int16_t* b, int64_t n) {
  int32_t acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t k = 0; k < n; ++k) acc += int32_t{a[k]} * int32_t{b[k]};
  return acc;
}

constexpr int64_t kRowBlock = 4;  // rows sharing each load of the other operand

// Four dot products against one vector b, which is read once for the four rows a[0..3].
inline void dot4_i16(const int16_t* const a[kRowBlock], const int16_t* b, int64_t n, int32_t* out) {
  const int16_t *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3];
  int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
  for (int64_t k = 0; k < n; ++k) {
    const int32_t bk = b[k];
    s0 += int32_t{a0[k]} * bk;
    s1 += int32_t{a1[k]} * bk;
    s2 += int32_t{a2[k]} * bk;
    s3 += int32_t{a3[k]} * bk;
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

// out[k] = data[k] - zero_point for a u8 or i8 row.
void widen_row_i16(DType dtype, const void* data, int64_t offset, int64_t n, int32_t zero_point, int16_t* out);

// Shapes of a numpy-style batched matrix product (1-D operands promoted as in MatMul).
struct MatMulShapes {
  Shape out_shape;
  int64_t M = 1, K = 1, N = 1;
  int64_t a_matrices = 1, b_matrices = 1;  // matrices stored in A and in B
  std::vector<int64_t> a_index, b_index;   // per output matrix: the A and B matrix it reads
  Shape a_batch, b_batch;                  // batch dims of A and B after promotion
};
Result<MatMulShapes> matmul_shapes(const Shape& a, const Shape& b, const std::string& where);

// Expands a per-row parameter of A (scalar, [M], or [..., M, 1] broadcast over A's batch dims)
// or a per-column parameter of B (scalar, [N], or [..., 1, N]) to one value per
// (stored matrix, row or column): a_matrices * M or b_matrices * N values.
template <class T>
Result<std::vector<T>> expand_matrix_param(const std::vector<T>& values, const Shape& param_shape,
                                           const MatMulShapes& s, bool for_a, const std::string& where,
                                           const std::string& what);

// B (u8 or i8, [b_matrices, K, N] row-major) minus its per-column zero points, transposed to
// int16 [b_matrices, N, K] so each output column is one contiguous dot product.
struct PackedIntB {
  std::vector<int16_t> data;
  int64_t matrices = 0, K = 0, N = 0;
  const int16_t* column(int64_t matrix, int64_t n) const { return data.data() + (matrix * N + n) * K; }
};
PackedIntB pack_int_b(const Tensor& b, const std::vector<int32_t>& zero_points, int64_t matrices, int64_t K,
                      int64_t N);

// Called with int32 results acc[0 .. n_end - n_begin) of output row `row` (batch * M + m).
using IntRowSink = std::function<void(int64_t row, int64_t n_begin, int64_t n_end, const int32_t* acc)>;

// C = (A - a_zp) x (B - b_zp) for every output matrix, multi-threaded over rows (or over
// columns when there are few rows). a_zero_points holds a_matrices * M values.
void integer_matmul(const Tensor& a, const std::vector<int32_t>& a_zero_points, const PackedIntB& b,
                    const MatMulShapes& s, const IntRowSink& sink);

}  // namespace ember::runtime
