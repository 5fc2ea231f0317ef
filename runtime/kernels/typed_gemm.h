// GEMM for any numeric element type: float goes to the fast sgemm, every other type to a
// plain loop (double and integer MatMul/Gemm/Conv are rare and never on a hot path).
// C = alpha * op(A) * op(B) + beta * C, row-major, strides in elements. beta == 0 never reads C.
// Integer products and sums wrap around (two's complement), as numpy's do.
#pragma once
#include <cstdint>
#include <type_traits>

#include "runtime/gemm/sgemm.h"

namespace ember::runtime {

namespace typed_gemm_detail {

// Wrapping arithmetic for integers (signed overflow would be undefined), plain otherwise.
template <class T>
using Accumulator = std::conditional_t<std::is_integral_v<T>, uint64_t, double>;

template <class T>
Accumulator<T> widen(T v) {
  if constexpr (std::is_integral_v<T>) return static_cast<uint64_t>(static_cast<int64_t>(v));
  else return static_cast<double>(v);
}

template <class T>
T narrow(Accumulator<T> v) {
  if constexpr (std::is_integral_v<T>) return static_cast<T>(static_cast<std::make_unsigned_t<T>>(v));
  else return static_cast<T>(v);
}

template <class T>
T scale(double factor, T v) {
  return factor == 1.0 ? v : static_cast<T>(factor * static_cast<double>(v));
}

}  // namespace typed_gemm_detail

template <class T>
void typed_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const T* A, int64_t lda,
                const T* B, int64_t ldb, double beta, T* C, int64_t ldc) {
  namespace d = typed_gemm_detail;
  if (M <= 0 || N <= 0) return;
  if constexpr (std::is_same_v<T, float>) {
    if (K > 0) {
      sgemm(trans_a, trans_b, M, N, K, static_cast<float>(alpha), A, lda, B, ldb, static_cast<float>(beta), C, ldc);
      return;
    }
  }
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      d::Accumulator<T> sum = 0;
      for (int64_t k = 0; k < K; ++k) {
        const T a = trans_a ? A[k * lda + i] : A[i * lda + k];
        const T b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
        sum += d::widen(a) * d::widen(b);
      }
      T& c = C[i * ldc + j];
      const T product = d::scale(alpha, d::narrow<T>(sum));
      c = beta == 0.0 ? product : d::narrow<T>(d::widen(product) + d::widen(d::scale(beta, c)));
    }
  }
}

}  // namespace ember::runtime
