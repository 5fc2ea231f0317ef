#include "runtime/qgemm/quantize_act.h"

#include <algorithm>
#include <cstring>

#include "runtime/kernels/quant_params.h"
#include "runtime/kernels/quant_types.h"
#include "runtime/parallel.h"
#include "runtime/vmath/vector_math.h"

namespace ember::runtime::qgemm {
namespace {

constexpr int64_t kMinValuesPerThread = int64_t{1} << 15;

int64_t min_rows(int64_t K) { return std::max<int64_t>(1, kMinValuesPerThread / std::max<int64_t>(K, 1)); }

// DynamicQuantizeLinear's parameters for one range: [lo, hi] widened to include 0.
DynamicQuantParams uint8_params(float lo, float hi) {
  DynamicQuantParams p;
  p.scale = lo == hi ? 1.0f : (hi - lo) / 255.0f;
  p.zero_point = quantize_value(std::clamp(0.0f - lo / p.scale, 0.0f, 255.0f), 0, 0, 255);
  return p;
}

}  // namespace

void QuantizedRows::reset(int64_t M, int64_t K) {
  M_ = M;
  K_ = K;
  lda_ = round_up(std::max<int64_t>(K, 1), kQuad);
  data_.resize(static_cast<size_t>(M * lda_));
  if (lda_ != K)
    for (int64_t m = 0; m < M; ++m) std::memset(data_.data() + m * lda_ + K, 0, static_cast<size_t>(lda_ - K));
  zero_points_.resize(static_cast<size_t>(M));
  scales_.resize(static_cast<size_t>(M));
  row_sums_.clear();
}

void QuantizedRows::quantize_per_tensor(const float* x, int64_t M, int64_t K, bool want_row_sums) {
  reset(M, K);
  const DynamicQuantParams p = dynamic_uint8_params(x, M * K);
  std::fill(zero_points_.begin(), zero_points_.end(), p.zero_point);
  std::fill(scales_.begin(), scales_.end(), p.scale);
  parallel_for(M, min_rows(K), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) vmath::quantize_u8(x + m * K, K, p.scale, p.zero_point, 0, 255, 0, data_.data() + m * lda_);
  });
  if (want_row_sums) compute_row_sums();
}

void QuantizedRows::quantize_per_row(const float* x, int64_t M, int64_t K, bool want_row_sums) {
  reset(M, K);
  parallel_for(M, min_rows(K), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      const float* row = x + m * K;
      float lo = 0.0f, hi = 0.0f;
      vmath::range_with_zero(row, K, &lo, &hi);
      const DynamicQuantParams p = uint8_params(lo, hi);
      zero_points_[size_t(m)] = p.zero_point;
      scales_[size_t(m)] = p.scale;
      vmath::quantize_u8(row, K, p.scale, p.zero_point, 0, 255, 0, data_.data() + m * lda_);
    }
  });
  if (want_row_sums) compute_row_sums();
}

void QuantizedRows::quantize_per_row_symmetric(const float* x, int64_t M, int64_t K, float min_scale,
                                               bool want_row_sums) {
  reset(M, K);
  std::fill(zero_points_.begin(), zero_points_.end(), 128);
  parallel_for(M, min_rows(K), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      const float* row = x + m * K;
      const float scale = std::max(vmath::abs_max(row, K) / 127.0f, min_scale);
      scales_[size_t(m)] = scale;
      vmath::quantize_u8(row, K, scale, 128, 0, 255, 0, data_.data() + m * lda_);
    }
  });
  if (want_row_sums) compute_row_sums();
}

void QuantizedRows::quantize_static(const float* x, int64_t M, int64_t K, float scale, int32_t zero_point,
                                    bool is_signed, bool want_row_sums) {
  reset(M, K);
  const int32_t offset = is_signed ? 128 : 0;
  std::fill(zero_points_.begin(), zero_points_.end(), zero_point + offset);
  std::fill(scales_.begin(), scales_.end(), scale);
  const int32_t lo = is_signed ? -128 : 0, hi = is_signed ? 127 : 255;
  parallel_for(M, min_rows(K), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) vmath::quantize_u8(x + m * K, K, scale, zero_point, lo, hi, offset, data_.data() + m * lda_);
  });
  if (want_row_sums) compute_row_sums();
}

void QuantizedRows::copy(const void* a, bool is_signed, int64_t M, int64_t K, const int32_t* zero_points,
                         bool want_row_sums) {
  reset(M, K);
  const int32_t offset = is_signed ? 128 : 0;
  const auto* src = static_cast<const uint8_t*>(a);
  for (int64_t m = 0; m < M; ++m) {
    uint8_t* dst = data_.data() + m * lda_;
    if (is_signed) {
      for (int64_t k = 0; k < K; ++k) dst[k] = static_cast<uint8_t>(src[m * K + k] ^ 0x80);  // s8 + 128
    } else {
      std::memcpy(dst, src + m * K, static_cast<size_t>(K));
    }
    zero_points_[size_t(m)] = zero_points[m] + offset;
    scales_[size_t(m)] = 1.0f;
  }
  if (want_row_sums) compute_row_sums();
}

void QuantizedRows::compute_row_sums() {
  row_sums_.resize(static_cast<size_t>(M_));
  for (int64_t m = 0; m < M_; ++m) {
    const uint8_t* row = data_.data() + m * lda_;
    int32_t sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t k = 0; k < K_; ++k) sum += row[k];
    row_sums_[size_t(m)] = sum;
  }
}

QuantizedA QuantizedRows::view() const {
  QuantizedA a;
  a.data = data_.data();
  a.lda = lda_;
  a.M = M_;
  a.zero_points = zero_points_.data();
  a.scales = scales_.data();
  a.row_sums = row_sums_.empty() ? nullptr : row_sums_.data();
  return a;
}

}  // namespace ember::runtime::qgemm
