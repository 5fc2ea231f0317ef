// Activations into the A operand of qgemm.h: uint8 rows padded with zeros to whole groups of
// four, with a zero point and a scale per row (and row sums when the weights have zero points).
//   per tensor: the parameters of DynamicQuantizeLinear (the same bytes as the ONNX op);
//   per row:    the same formula on each row, so a token's quantization ignores the others;
//   per row, symmetric: s = max(max|x| / 127, min_scale), q = round_half_even(x / s) + 128 with
//               zero point 128 (the Abs/ReduceMax/Div/Max/Div/Round/Add/Cast chain that
//               `ember quantize --activations dynamic --format ort` writes; the same bytes);
//   static:     a given scale and zero point (uint8, or int8 moved to uint8 by +128);
//   copy:       already quantized uint8 / int8 data (MatMulInteger's A).
// y = saturate(round_half_even(x / scale) + zero_point), as QuantizeLinear defines it.
#pragma once
#include <cstdint>
#include <vector>

#include "runtime/qgemm/qgemm.h"

namespace ember::runtime::qgemm {

class QuantizedRows {
 public:
  // Parameters and row sums for M rows of K values; the data buffer is sized and zeroed past K.
  void reset(int64_t M, int64_t K);

  void quantize_per_tensor(const float* x, int64_t M, int64_t K, bool want_row_sums);
  void quantize_per_row(const float* x, int64_t M, int64_t K, bool want_row_sums);
  void quantize_per_row_symmetric(const float* x, int64_t M, int64_t K, float min_scale, bool want_row_sums);
  void quantize_static(const float* x, int64_t M, int64_t K, float scale, int32_t zero_point, bool is_signed,
                       bool want_row_sums);
  // zero_points: one per row (M values).
  void copy(const void* a, bool is_signed, int64_t M, int64_t K, const int32_t* zero_points, bool want_row_sums);

  QuantizedA view() const;

 private:
  void compute_row_sums();

  int64_t M_ = 0, K_ = 0, lda_ = 0;
  std::vector<uint8_t> data_;
  std::vector<int32_t> zero_points_, row_sums_;
  std::vector<float> scales_;
};

}  // namespace ember::runtime::qgemm
