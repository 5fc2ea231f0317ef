// Per-block int8 quantization of the activations for the INT4 kernels. The scalar rule here
// defines the integers; the AVX2 and AVX-512 forms of whole blocks (int4_ymm.h,
// int4_avx512.cc) reproduce it exactly, NaN and infinities included, so every path sees the
// same integers.
#include <algorithm>
#include <cmath>

#include "runtime/int4/int4_kernels.h"
#include "runtime/kernels/quant_types.h"
#include "runtime/parallel.h"

namespace ember::runtime::int4 {
namespace {

constexpr int64_t kMinValuesPerThread = int64_t{1} << 15;

}  // namespace

void quantize_block_scalar(const float* x, int64_t count, float scale_multiplier, int8_t* q, float* scale, int32_t* sum) {
  float amax = 0.0f;
  for (int64_t i = 0; i < count; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  int32_t total = 0;
  for (int64_t i = 0; i < count; ++i) {
    const float r = std::clamp(round_half_even_clamped(x[i] * inv), -127.0f, 127.0f);
    q[i] = static_cast<int8_t>(r);
    total += q[i];
  }
  for (int64_t i = count; i < kBlock; ++i) q[i] = 0;
  *scale = amax / 127.0f * scale_multiplier;
  *sum = total;
}

void quantize_whole_block_scalar(const float* x, float scale_multiplier, int8_t* q, float* scale, int32_t* sum) {
  quantize_block_scalar(x, kBlock, scale_multiplier, q, scale, sum);
}

void Int4Activations::quantize(const float* x, int64_t M, int64_t K, float scale_multiplier, Int4ActForm form) {
  M_ = M;
  blocks_ = (K + kBlock - 1) / kBlock;
  per_row_ = form == Int4ActForm::kRows ||
             (form == Int4ActForm::kAuto && M >= kRequantMinRows && int4_kernels().requant_prefill);
  if (per_row_) {
    // The requantized weights have no zero points, so the GEMM needs no row sums.
    rows_.quantize_per_row(x, M, K, /*want_row_sums=*/false);
    return;
  }
  quantize_blocks(x, K, scale_multiplier);
}

void Int4Activations::quantize_blocks(const float* x, int64_t K, float scale_multiplier) {
  const int64_t M = M_;
  q_.resize(static_cast<size_t>(M * blocks_ * kBlock));
  scales_.resize(static_cast<size_t>(M * blocks_));
  sums_.resize(static_cast<size_t>(M * blocks_));
  const int64_t min_rows = std::max<int64_t>(1, kMinValuesPerThread / std::max<int64_t>(K, 1));
  const QuantizeBlockFn whole_block = int4_kernels().quantize_block;
  const QuantizeRowFn whole_row = int4_kernels().quantize_row;
  const int64_t whole = K / kBlock;
  parallel_for(M, min_rows, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      const int64_t i0 = m * blocks_;
      if (whole_row) whole_row(x + m * K, whole, scale_multiplier, q_.data() + i0 * kBlock, scales_.data() + i0, sums_.data() + i0);
      for (int64_t b = whole_row ? whole : 0; b < blocks_; ++b) {
        const int64_t k0 = b * kBlock;
        const int64_t i = i0 + b;
        if (K - k0 >= kBlock)
          whole_block(x + m * K + k0, scale_multiplier, q_.data() + i * kBlock, scales_.data() + i, sums_.data() + i);
        else
          quantize_block_scalar(x + m * K + k0, K - k0, scale_multiplier, q_.data() + i * kBlock, scales_.data() + i,
                                sums_.data() + i);
      }
    }
  });
}

}  // namespace ember::runtime::int4
