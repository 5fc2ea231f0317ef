// quant_math: rounding, code ranges, min/max and clipped parameters, int4 packing, and RTN
// quantization of matrices, against hand-computed values and independent formulas.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "passes/quantize/quant_math.h"

using namespace ember::passes::quant;

TEST_CASE("quant_math: round half to even") {
  CHECK(round_half_even(0.5f) == 0.0f);
  CHECK(round_half_even(1.5f) == 2.0f);
  CHECK(round_half_even(2.5f) == 2.0f);
  CHECK(round_half_even(-0.5f) == 0.0f);
  CHECK(round_half_even(-1.5f) == -2.0f);
  CHECK(round_half_even(-2.5f) == -2.0f);
  CHECK(round_half_even(3.7f) == 4.0f);
  CHECK(round_half_even(-3.2f) == -3.0f);
  CHECK(round_half_even(0.49999997f) == 0.0f);
  // Beyond 2^22 the slow path keeps the same rule.
  CHECK(round_half_even(4194304.5f) == 4194304.0f);
  CHECK(round_half_even(4194305.5f) == 4194306.0f);
  CHECK(round_half_even(-4194305.5f) == -4194306.0f);
  CHECK(round_half_even(16777216.0f) == 16777216.0f);
}

TEST_CASE("quant_math: code ranges of the four formats") {
  CHECK(QuantFormat{8, true}.qmin() == -128);
  CHECK(QuantFormat{8, true}.qmax() == 127);
  CHECK(QuantFormat{8, false}.qmin() == 0);
  CHECK(QuantFormat{8, false}.qmax() == 255);
  CHECK(QuantFormat{4, true}.qmin() == -8);
  CHECK(QuantFormat{4, true}.qmax() == 7);
  CHECK(QuantFormat{4, false}.qmin() == 0);
  CHECK(QuantFormat{4, false}.qmax() == 15);
  CHECK(QuantFormat{4, false}.text() == "uint4 asym");
}

TEST_CASE("quant_math: min/max parameters, symmetric and asymmetric") {
  const std::vector<float> x = {-1.0f, 0.5f, 0.25f};
  GroupParams p = minmax_params(x.data(), 3, 1, {8, true});
  CHECK(p.scale == doctest::Approx(1.0 / 127));
  CHECK(p.zero_point == 0);
  CHECK(quantize_value(0.5f, 1.0f / p.scale, 0, -128, 127) == 64);  // 63.5 rounds to even
  CHECK(quantize_value(-1.0f, 1.0f / p.scale, 0, -128, 127) == -127);

  // Asymmetric ranges always include 0: all-positive values get zero point 0.
  const std::vector<float> pos = {0.5f, 2.0f};
  p = minmax_params(pos.data(), 2, 1, {4, false});
  CHECK(p.scale == doctest::Approx(2.0 / 15));
  CHECK(p.zero_point == 0);

  const std::vector<float> mixed = {-1.0f, 3.0f};
  p = minmax_params(mixed.data(), 2, 1, {8, false});
  CHECK(p.scale == doctest::Approx(4.0 / 255));
  CHECK(p.zero_point == 64);  // 255 / 4 = 63.75
  // Both ends come back within half a step.
  const float inv = 1.0f / p.scale;
  for (float v : mixed) {
    const int32_t q = quantize_value(v, inv, p.zero_point, 0, 255);
    CHECK(std::fabs(float(q - p.zero_point) * p.scale - v) <= 0.5f * p.scale + 1e-6f);
  }

  // Strided access reads every other value; all zeros keep scale 1 and code 0.
  const std::vector<float> strided = {1, 100, -3, 100};
  CHECK(minmax_params(strided.data(), 2, 2, {4, true}).scale == doctest::Approx(3.0 / 7));
  const std::vector<float> zeros(5, 0.0f);
  CHECK(minmax_params(zeros.data(), 5, 1, {4, true}).scale == 1.0f);
}

TEST_CASE("quant_math: MSE clipping is never worse than min/max and helps heavy tails") {
  std::mt19937 rng(7);
  std::student_t_distribution<float> heavy(2.0f);
  int strictly_better = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<float> x(32);
    for (float& v : x) v = heavy(rng);
    for (QuantFormat f : {QuantFormat{4, true}, QuantFormat{4, false}, QuantFormat{8, true}}) {
      const double e_minmax = group_error(x.data(), 32, 1, nullptr, minmax_params(x.data(), 32, 1, f), f);
      const double e_mse = group_error(x.data(), 32, 1, nullptr, choose_params(x.data(), 32, 1, nullptr, f, ClipMode::kMse), f);
      CHECK(e_mse <= e_minmax);
      if (f.bits == 4 && e_mse < 0.9 * e_minmax) ++strictly_better;
    }
  }
  CHECK(strictly_better > 50);
}

TEST_CASE("quant_math: int4 packing is low nibble first, two's complement for signed") {
  const std::vector<int32_t> codes = {-8, 7, 1, -1, 3};
  std::vector<uint8_t> packed(3);
  pack_int4(codes.data(), 5, packed.data());
  CHECK(packed[0] == 0x78);
  CHECK(packed[1] == 0xF1);
  CHECK(packed[2] == 0x03);  // odd tail: high nibble zero
  CHECK(unpack_int4(packed.data(), 5, true) == codes);
  const std::vector<int32_t> unsigned_codes = {0, 15, 9, 4};
  pack_int4(unsigned_codes.data(), 4, packed.data());
  CHECK(packed[0] == 0xF0);
  CHECK(packed[1] == 0x49);
  CHECK(unpack_int4(packed.data(), 4, false) == unsigned_codes);
}

TEST_CASE("quant_math: RTN matrices per channel and blocked") {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t rows = 7, cols = 100;  // 100 is not a multiple of 32: a short last block
  std::vector<float> w(size_t(rows * cols));
  for (float& v : w) v = normal(rng);
  w[5] = 12.0f;  // an outlier in row 0

  const QuantizedMatrix q8 = quantize_rtn(w.data(), rows, cols, 0, {8, true}, ClipMode::kNone);
  CHECK(q8.groups() == 1);
  CHECK(q8.scales.size() == size_t(rows));
  CHECK(q8.scales[0] == doctest::Approx(12.0 / 127));
  CHECK(relative_error(w.data(), q8) < 0.02);  // row 0's outlier coarsens its steps

  const QuantizedMatrix q4 = quantize_rtn(w.data(), rows, cols, 32, {4, false}, ClipMode::kMse);
  CHECK(q4.groups() == 4);
  CHECK(q4.scales.size() == size_t(rows * 4));
  for (int32_t c : q4.codes) CHECK((c >= 0 && c <= 15));
  const double e4 = relative_error(w.data(), q4);
  CHECK(e4 < 0.12);
  CHECK(e4 < relative_error(w.data(), quantize_rtn(w.data(), rows, cols, 0, {4, false}, ClipMode::kMse)));
  const std::vector<float> dq = q4.dequantize();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const size_t g = size_t(r * 4 + c / 32);
      CHECK(dq[size_t(r * cols + c)] == float(q4.codes[size_t(r * cols + c)] - q4.zero_points[g]) * q4.scales[g]);
    }
  // Clipping weights that ignore a column let the search clip it freely; the error elsewhere drops.
  std::vector<float> weight(size_t(cols), 1.0f);
  weight[5] = 0.0f;
  const QuantizedMatrix weighted = quantize_rtn(w.data(), rows, cols, 32, {4, true}, ClipMode::kMse, weight.data());
  const QuantizedMatrix plain = quantize_rtn(w.data(), rows, cols, 32, {4, true}, ClipMode::kMse);
  CHECK(weighted.scales[0] < plain.scales[0]);
}
