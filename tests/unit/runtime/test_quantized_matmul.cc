// MatMulInteger, QLinearMatMul, DynamicQuantizeMatMul, ConvInteger, QLinearConv and
// MatMulNBits: hand-computed cases from the specs, exact comparisons with naive integer loops
// at odd sizes (broadcast batches, per-row / per-column zero points, constant and
// non-constant weights, both threading paths), MatMulNBits against dequantize-then-multiply,
// and malformed inputs.
#include <doctest/doctest.h>

#include <cmath>

#include "tests/unit/runtime/quant_test_util.h"

using namespace ember;
using namespace ember::quant_test;

namespace {

// Offset of batch position `index` (of out_batch) inside a right-aligned, broadcast batch shape.
int64_t batch_offset(const Shape& batch, const Shape& out_batch, int64_t index) {
  int64_t offset = 0, stride = 1;
  for (size_t i = out_batch.size(); i-- > 0;) {
    const int64_t pos = index % out_batch[i];
    index /= out_batch[i];
    const size_t shift = out_batch.size() - batch.size();
    if (i >= shift) {
      const int64_t d = batch[i - shift];
      offset += (d == 1 ? 0 : pos) * stride;
      stride *= d;
    }
  }
  return offset;
}

// Naive (A - a_zp) x (B - b_zp) for A [..., M, K], B [..., K, N] with zero points given per
// (A matrix, row) and per (B matrix, column).
std::vector<int64_t> naive_int_matmul(const std::vector<int>& a, const Shape& as, const std::vector<int>& a_zp,
                                      const std::vector<int>& b, const Shape& bs, const std::vector<int>& b_zp,
                                      const Shape& out_batch) {
  const int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
  const Shape a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  std::vector<int64_t> out;
  for (int64_t i = 0; i < shape_numel(out_batch); ++i) {
    const int64_t ia = batch_offset(a_batch, out_batch, i), ib = batch_offset(b_batch, out_batch, i);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        int64_t sum = 0;
        for (int64_t k = 0; k < K; ++k)
          sum += int64_t(a[size_t((ia * M + m) * K + k)] - a_zp[size_t(ia * M + m)]) *
                 (b[size_t((ib * K + k) * N + n)] - b_zp[size_t(ib * N + n)]);
        out.push_back(sum);
      }
  }
  return out;
}

std::vector<int64_t> as_int64(const Tensor& t) {
  std::vector<int64_t> v;
  for (int x : ints_of(t)) v.push_back(x);
  return v;
}

}  // namespace

TEST_CASE("quant: MatMulInteger hand-computed spec example") {
  const Tensor a = Tensor::from_vector<uint8_t>({4, 3}, {11, 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0});
  const Tensor b = Tensor::from_vector<uint8_t>({3, 2}, {1, 4, 2, 5, 3, 6});
  for (bool constant : {false, true}) {
    auto out = run_ok(make_node("MatMulInteger", 4), 10, {a, b, Tensor::scalar<uint8_t>(12), Tensor::scalar<uint8_t>(0)}, constant);
    CHECK(out[0].dtype() == DType::kI32);
    CHECK(out[0].shape() == Shape{4, 2});
    CHECK(as_int64(out[0]) == std::vector<int64_t>{-38, -83, -44, -98, -50, -113, -56, -128});
  }
}

TEST_CASE("quant: MatMulInteger matches naive loops with broadcast batches and per-row/column zero points") {
  Rng rng(5);
  struct Case {
    Shape a, b, a_zp, b_zp, out_batch;
  };
  const std::vector<Case> cases = {
      {{2, 1, 3, 5}, {4, 5, 7}, {2, 1, 3, 1}, {4, 1, 7}, {2, 4}},
      {{3, 17}, {17, 31}, {3}, {31}, {}},
      {{67, 129}, {129, 75}, {}, {75}, {}},   // many rows: split over rows
      {{1, 131}, {131, 300}, {}, {}, {}},     // one row: split over columns
  };
  for (const auto& c : cases)
    for (int types = 0; types < 4; ++types)
      for (bool constant : {false, true}) {
        const bool a_signed = types & 1, b_signed = types & 2;
        const Tensor a = a_signed ? random_ints<int8_t>(rng, c.a, -128, 127) : random_ints<uint8_t>(rng, c.a, 0, 255);
        const Tensor b = b_signed ? random_ints<int8_t>(rng, c.b, -128, 127) : random_ints<uint8_t>(rng, c.b, 0, 255);
        const Shape a_zp_shape = c.a_zp.empty() ? Shape{} : c.a_zp, b_zp_shape = c.b_zp.empty() ? Shape{} : c.b_zp;
        const Tensor a_zp = a_signed ? random_ints<int8_t>(rng, a_zp_shape, -5, 5) : random_ints<uint8_t>(rng, a_zp_shape, 120, 130);
        const Tensor b_zp = b_signed ? random_ints<int8_t>(rng, b_zp_shape, -5, 5) : random_ints<uint8_t>(rng, b_zp_shape, 120, 130);
        auto out = run_ok(make_node("MatMulInteger", 4), 10, {a, b, a_zp, b_zp}, constant);
        // Expand the zero points per (matrix, row) and (matrix, column) for the naive loop.
        const int64_t M = c.a[c.a.size() - 2], N = c.b.back();
        const int64_t a_mats = a.numel() / (M * c.a.back()), b_mats = b.numel() / (N * c.b[c.b.size() - 2]);
        std::vector<int> azp(size_t(a_mats * M)), bzp(size_t(b_mats * N));
        const auto azv = ints_of(a_zp), bzv = ints_of(b_zp);
        for (size_t i = 0; i < azp.size(); ++i) azp[i] = azv.size() == 1 ? azv[0] : azv[i];
        for (size_t i = 0; i < bzp.size(); ++i) bzp[i] = bzv.size() == 1 ? bzv[0] : bzv[i];
        const auto expected = naive_int_matmul(ints_of(a), c.a, azp, ints_of(b), c.b, bzp, c.out_batch);
        Shape out_shape = c.out_batch;
        out_shape.push_back(M);
        out_shape.push_back(N);
        CHECK(out[0].shape() == out_shape);
        CHECK(as_int64(out[0]) == expected);
      }
}

TEST_CASE("quant: MatMulInteger with vector operands and without zero points") {
  const Tensor a = Tensor::from_vector<int8_t>({3}, {1, -2, 3});
  const Tensor b = Tensor::from_vector<int8_t>({3, 2}, {1, 2, 3, 4, 5, 6});
  auto out = run_ok(make_node("MatMulInteger", 2), 10, {a, b});
  CHECK(out[0].shape() == Shape{2});
  CHECK(as_int64(out[0]) == std::vector<int64_t>{10, 12});
  out = run_ok(make_node("MatMulInteger", 2), 10, {b.reshaped({2, 3}), a});
  CHECK(out[0].shape() == Shape{2});
  CHECK(as_int64(out[0]) == std::vector<int64_t>{6, 12});
}

TEST_CASE("quant: QLinearMatMul hand-computed spec example, per tensor and per column") {
  const Tensor a = Tensor::from_vector<uint8_t>({2, 4}, {208, 236, 0, 238, 3, 214, 255, 29});
  const Tensor b = Tensor::from_vector<uint8_t>({4, 3}, {152, 51, 244, 60, 26, 255, 0, 127, 246, 127, 254, 247});
  const auto node = make_node("QLinearMatMul", 8);
  for (bool constant : {false, true}) {
    auto out = run_ok(node, 10,
                      {a, Tensor::scalar<float>(0.0066f), Tensor::scalar<uint8_t>(113), b, Tensor::scalar<float>(0.00705f),
                       Tensor::scalar<uint8_t>(114), Tensor::scalar<float>(0.0107f), Tensor::scalar<uint8_t>(118)},
                      constant);
    CHECK(out[0].dtype() == DType::kU8);
    CHECK(ints_of(out[0]) == std::vector<int>{168, 115, 255, 1, 66, 151});
  }
  // Per-column B parameters equal to the per-tensor ones give the same result.
  auto out = run_ok(node, 10,
                    {a, Tensor::scalar<float>(0.0066f), Tensor::scalar<uint8_t>(113), b,
                     Tensor::from_vector<float>({3}, {0.00705f, 0.00705f, 0.00705f}), Tensor::from_vector<uint8_t>({3}, {114, 114, 114}),
                     Tensor::scalar<float>(0.0107f), Tensor::scalar<uint8_t>(118)});
  CHECK(ints_of(out[0]) == std::vector<int>{168, 115, 255, 1, 66, 151});

  const Status s = run_status(node, 10,
                              {a, Tensor::scalar<float>(0.0066f), Tensor::scalar<uint8_t>(113), b,
                               Tensor::from_vector<float>({2}, {0.1f, 0.1f}), Tensor::scalar<uint8_t>(114),
                               Tensor::scalar<float>(0.0107f), Tensor::scalar<uint8_t>(118)});
  CHECK(s.code() == StatusCode::kInvalidInput);
  CHECK(s.message().find("q_QLinearMatMul") != std::string::npos);
}

TEST_CASE("quant: QLinearMatMul int8 output saturates and matches the requantization formula") {
  Rng rng(9);
  const Tensor a = random_ints<int8_t>(rng, {2, 5, 19}, -128, 127);
  const Tensor b = random_ints<int8_t>(rng, {19, 6}, -128, 127);
  const float as = 0.02f, ys = 0.5f;
  const Tensor b_scale = random_floats(rng, {6}, 0.01f, 0.03f);
  auto out = run_ok(make_node("QLinearMatMul", 8), 10,
                    {a, Tensor::scalar<float>(as), Tensor::scalar<int8_t>(1), b, b_scale, Tensor::from_vector<int8_t>({6}, {0, 1, -1, 2, 0, 0}),
                     Tensor::scalar<float>(ys), Tensor::scalar<int8_t>(-3)});
  CHECK(out[0].dtype() == DType::kI8);
  const auto acc = naive_int_matmul(ints_of(a), a.shape(), std::vector<int>(10, 1), ints_of(b), b.shape(), {0, 1, -1, 2, 0, 0}, {2});
  const auto bsv = floats_of(b_scale);
  std::vector<int> expected;
  for (size_t i = 0; i < acc.size(); ++i) {
    const float multiplier = as * bsv[i % 6] / ys;
    const double q = std::nearbyint(double(acc[i]) * double(multiplier)) - 3;
    expected.push_back(static_cast<int>(std::fmin(127, std::fmax(-128, q))));
  }
  CHECK(ints_of(out[0]) == expected);
}

TEST_CASE("quant: DynamicQuantizeMatMul equals DynamicQuantizeLinear + MatMulInteger + scaling") {
  Rng rng(13);
  const Tensor a = random_floats(rng, {3, 21}, -2, 3);
  const Tensor b = random_ints<int8_t>(rng, {21, 9}, -128, 127);
  const Tensor b_scale = random_floats(rng, {9}, 0.001f, 0.01f);
  const Tensor bias = random_floats(rng, {9}, -1, 1);
  auto out = run_ok(make_node("DynamicQuantizeMatMul", 5, 1, {}, "com.microsoft"), 1,
                    {a, b, b_scale, Tensor::scalar<int8_t>(0), bias}, true);
  const auto q = run_ok(make_node("DynamicQuantizeLinear", 1, 3), 11, {a});
  const auto acc = run_ok(make_node("MatMulInteger", 4), 10, {q[0], b, q[2], Tensor::scalar<int8_t>(0)});
  const float a_scale = q[1].data<float>()[0];
  const auto accv = ints_of(acc[0]);
  const auto bsv = floats_of(b_scale), biasv = floats_of(bias), got = floats_of(out[0]);
  REQUIRE(got.size() == accv.size());
  for (size_t i = 0; i < got.size(); ++i)
    CHECK(got[i] == doctest::Approx(float(accv[i]) * (a_scale * bsv[i % 9]) + biasv[i % 9]).epsilon(1e-6));
}

TEST_CASE("quant: ConvInteger hand-computed spec examples") {
  std::vector<uint8_t> xv;
  for (int i = 2; i <= 10; ++i) xv.push_back(uint8_t(i));
  const Tensor x = Tensor::from_vector<uint8_t>({1, 1, 3, 3}, xv);
  const Tensor w = Tensor::from_vector<uint8_t>({1, 1, 2, 2}, {1, 1, 1, 1});
  auto out = run_ok(make_node("ConvInteger", 3), 10, {x, w, Tensor::scalar<uint8_t>(1)});
  CHECK(out[0].shape() == Shape{1, 1, 2, 2});
  CHECK(as_int64(out[0]) == std::vector<int64_t>{12, 16, 24, 28});
  out = run_ok(make_node("ConvInteger", 3, 1, {ints_attr("pads", {1, 1, 1, 1})}), 10, {x, w, Tensor::scalar<uint8_t>(1)}, true);
  CHECK(out[0].shape() == Shape{1, 1, 4, 4});
  CHECK(as_int64(out[0]) == std::vector<int64_t>{1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9});
}

namespace {

// Naive 2-D QLinearConv with groups, strides, pads, dilations and per-filter parameters.
std::vector<int> naive_qlinear_conv(const Tensor& x, int x_zp, float x_scale, const Tensor& w, const std::vector<int>& w_zp,
                                    const std::vector<float>& w_scale, float y_scale, int y_zp, const std::vector<int>& bias,
                                    int64_t group, std::vector<int64_t> stride, std::vector<int64_t> pads,
                                    std::vector<int64_t> dil, Shape* out_shape) {
  const auto xv = ints_of(x), wv = ints_of(w);
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const int64_t M = w.dim(0), CG = w.dim(1), KH = w.dim(2), KW = w.dim(3);
  const int64_t OH = (H + pads[0] + pads[2] - ((KH - 1) * dil[0] + 1)) / stride[0] + 1;
  const int64_t OW = (W + pads[1] + pads[3] - ((KW - 1) * dil[1] + 1)) / stride[1] + 1;
  *out_shape = {N, M, OH, OW};
  std::vector<int> out;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m) {
      const int64_t g = m / (M / group);
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          int64_t acc = bias.empty() ? 0 : bias[size_t(m)];
          for (int64_t c = 0; c < CG; ++c)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t ih = oh * stride[0] - pads[0] + kh * dil[0], iw = ow * stride[1] - pads[1] + kw * dil[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int xval = xv[size_t(((n * C + g * CG + c) * H + ih) * W + iw)] - x_zp;
                const int wval = wv[size_t(((m * CG + c) * KH + kh) * KW + kw)] - w_zp[size_t(m)];
                acc += int64_t(xval) * wval;
              }
          const float multiplier = x_scale * w_scale[size_t(m)] / y_scale;
          const double q = std::nearbyint(double(acc) * double(multiplier)) + y_zp;
          out.push_back(static_cast<int>(std::fmin(255, std::fmax(0, q))));
        }
    }
  return out;
}

}  // namespace

TEST_CASE("quant: QLinearConv matches a naive loop with groups, strides, pads, dilations and per-filter parameters") {
  Rng rng(21);
  const Tensor x = random_ints<uint8_t>(rng, {2, 4, 9, 7}, 0, 255);
  const Tensor w = random_ints<int8_t>(rng, {6, 2, 3, 2}, -128, 127);
  const std::vector<int> w_zp = {0, 1, -2, 3, 0, -1};
  const std::vector<float> w_scale = {0.01f, 0.02f, 0.015f, 0.005f, 0.03f, 0.011f};
  const std::vector<int> bias = {100, -50, 0, 7, 3000, -3000};
  const std::vector<int64_t> stride = {2, 1}, pads = {1, 0, 2, 1}, dil = {1, 2};
  std::vector<ir::Attribute> attrs = {int_attr("group", 2), ints_attr("strides", stride), ints_attr("pads", pads),
                                      ints_attr("dilations", dil), ints_attr("kernel_shape", {3, 2})};
  const auto node = make_node("QLinearConv", 9, 1, attrs);
  Shape expected_shape;
  const auto expected = naive_qlinear_conv(x, 120, 0.05f, w, w_zp, w_scale, 0.4f, 128, bias, 2, stride, pads, dil, &expected_shape);
  for (bool constant : {false, true}) {
    auto out = run_ok(node, 10,
                      {x, Tensor::scalar<float>(0.05f), Tensor::scalar<uint8_t>(120), w, Tensor::from_vector<float>({6}, w_scale),
                       Tensor::from_vector<int8_t>({6}, {0, 1, -2, 3, 0, -1}), Tensor::scalar<float>(0.4f),
                       Tensor::scalar<uint8_t>(128), Tensor::from_vector<int32_t>({6}, bias)},
                      constant);
    CHECK(out[0].shape() == expected_shape);
    CHECK(ints_of(out[0]) == expected);
  }
}

TEST_CASE("quant: ConvInteger 1-D with SAME_UPPER and 3-D shapes agree with QLinearConv's accumulators") {
  Rng rng(4);
  // 1-D SAME_UPPER, stride 2: output length ceil(10 / 2) = 5.
  const Tensor x1 = random_ints<uint8_t>(rng, {1, 3, 10}, 0, 255);
  const Tensor w1 = random_ints<uint8_t>(rng, {2, 3, 4}, 0, 255);
  auto out = run_ok(make_node("ConvInteger", 4, 1, {string_attr("auto_pad", "SAME_UPPER"), ints_attr("strides", {2})}), 10,
                    {x1, w1, Tensor::scalar<uint8_t>(100), Tensor::from_vector<uint8_t>({2}, {7, 200})});
  CHECK(out[0].shape() == Shape{1, 2, 5});
  // total pad = (5 - 1) * 2 + 4 - 10 = 2, begin 1: output 0 covers inputs -1..2.
  const auto xv = ints_of(x1), wv = ints_of(w1);
  int64_t first = 0;
  for (int c = 0; c < 3; ++c)
    for (int k = 0; k < 4; ++k) {
      const int i = k - 1;
      if (i >= 0) first += int64_t(xv[size_t(c * 10 + i)] - 100) * (wv[size_t(c * 4 + k)] - 7);
    }
  CHECK(as_int64(out[0])[0] == first);

  // 3-D: a 1x1x1 filter copies the shifted input.
  const Tensor x3 = random_ints<int8_t>(rng, {1, 1, 3, 2, 5}, -128, 127);
  out = run_ok(make_node("ConvInteger", 3), 10, {x3, Tensor::from_vector<int8_t>({1, 1, 1, 1, 1}, {1}), Tensor::scalar<int8_t>(-3)});
  CHECK(out[0].shape() == Shape{1, 1, 3, 2, 5});
  std::vector<int64_t> shifted;
  for (int v : ints_of(x3)) shifted.push_back(v + 3);
  CHECK(as_int64(out[0]) == shifted);
}

namespace {

struct NBitsCase {
  int64_t K, N, bits, block;
  Shape a_shape;
  int zero_points;  // 0 none, 1 packed u8, 2 float
  bool bias, g_idx;
  bool half = false;  // A, scales, float zero points and bias in f16
};

// The same values rounded to f16 and stored as an f16 tensor.
Tensor to_half(const Tensor& t) { return half_tensor(t.shape(), floats_of(t)); }

// Builds random MatMulNBits inputs, runs the kernel, and compares with A x dequant(B)^T.
void check_matmul_nbits(const NBitsCase& c, bool constant, uint64_t seed) {
  Rng rng(seed);
  const int64_t k_blocks = (c.K + c.block - 1) / c.block, blob = c.block * c.bits / 8;
  const int qmax = (1 << c.bits) - 1;
  std::vector<int> q(size_t(c.N * c.K));
  for (auto& v : q) v = rng.uniform_int(0, qmax);
  Tensor B = Tensor::zeros(DType::kU8, {c.N, k_blocks, blob});
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t k = 0; k < c.K; ++k) {
      const int64_t bit = k * c.bits;
      B.mutable_data<uint8_t>()[n * k_blocks * blob + bit / 8] |= uint8_t(q[size_t(n * c.K + k)] << (bit % 8));
    }
  Tensor scales = random_floats(rng, {c.N, k_blocks}, 0.01f, 0.1f);
  if (c.half) scales = to_half(scales);
  std::vector<float> zeros(size_t(c.N * k_blocks), float(1 << (c.bits - 1)));
  Tensor zp;
  if (c.zero_points == 1) {
    const int64_t per_column = (k_blocks * c.bits + 7) / 8;
    zp = Tensor::zeros(DType::kU8, {c.N * per_column});
    for (int64_t n = 0; n < c.N; ++n)
      for (int64_t j = 0; j < k_blocks; ++j) {
        const int z = rng.uniform_int(0, qmax);
        zeros[size_t(n * k_blocks + j)] = float(z);
        const int64_t bit = j * c.bits;
        zp.mutable_data<uint8_t>()[n * per_column + bit / 8] |= uint8_t(z << (bit % 8));
      }
  } else if (c.zero_points == 2) {
    for (auto& z : zeros) z = rng.uniform(0, float(qmax));
    zp = Tensor::from_vector<float>({c.N, k_blocks}, zeros);
    if (c.half) {
      zp = to_half(zp);
      zeros = floats_of(zp);
    }
  }
  Tensor g_idx;
  std::vector<int32_t> block_of(size_t(c.K));
  for (int64_t k = 0; k < c.K; ++k) block_of[size_t(k)] = int32_t(c.g_idx ? (k * 7 + 3) % k_blocks : k / c.block);
  if (c.g_idx) g_idx = Tensor::from_vector<int32_t>({c.K}, block_of);
  Tensor bias = c.bias ? random_floats(rng, {c.N}, -1, 1) : Tensor();
  Tensor A = random_floats(rng, c.a_shape, -1, 1);
  if (c.half) {
    A = to_half(A);
    if (c.bias) bias = to_half(bias);
  }

  const auto node = make_node("MatMulNBits", 6, 1,
                              {int_attr("K", c.K), int_attr("N", c.N), int_attr("bits", c.bits), int_attr("block_size", c.block)},
                              "com.microsoft");
  auto out = run_ok(node, 1, {A, B, scales, zp, g_idx, bias}, constant);
  Shape out_shape = c.a_shape;
  out_shape.back() = c.N;
  REQUIRE(out[0].shape() == out_shape);
  CHECK(out[0].dtype() == A.dtype());
  const double tolerance = c.half ? 2e-3 : 1e-5;  // f16 output rounding

  const auto av = floats_of(A), sv = floats_of(scales), got = floats_of(out[0]);
  const auto biasv = c.bias ? floats_of(bias) : std::vector<float>(size_t(c.N), 0.0f);
  const int64_t M = A.numel() / c.K;
  int bad = 0;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < c.N; ++n) {
      double sum = biasv[size_t(n)], magnitude = std::fabs(biasv[size_t(n)]);
      for (int64_t k = 0; k < c.K; ++k) {
        const size_t j = size_t(n * k_blocks + block_of[size_t(k)]);
        const double w = (double(q[size_t(n * c.K + k)]) - zeros[j]) * sv[j];
        sum += double(av[size_t(m * c.K + k)]) * w;
        magnitude += std::fabs(double(av[size_t(m * c.K + k)]) * w);
      }
      bad += std::fabs(got[size_t(m * c.N + n)] - sum) > tolerance * magnitude + 1e-6;
    }
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("quant: MatMulNBits equals A times the dequantized weights at odd sizes") {
  uint64_t seed = 100;
  for (bool constant : {false, true}) {
    check_matmul_nbits({33, 17, 4, 16, {3, 33}, 0, false, false}, constant, ++seed);
    check_matmul_nbits({33, 17, 4, 16, {2, 3, 33}, 1, true, false}, constant, ++seed);
    check_matmul_nbits({33, 17, 4, 16, {1, 33}, 2, false, false}, constant, ++seed);
    check_matmul_nbits({50, 5, 4, 32, {4, 50}, 1, true, true}, constant, ++seed);
    check_matmul_nbits({40, 9, 8, 16, {2, 40}, 1, false, false}, constant, ++seed);
    check_matmul_nbits({37, 6, 2, 16, {5, 37}, 1, true, false}, constant, ++seed);
    // From 8 rows on the kernel multiplies dequantized panels with sgemm.
    check_matmul_nbits({33, 17, 4, 16, {9, 33}, 1, true, true}, constant, ++seed);
    check_matmul_nbits({37, 300, 8, 16, {3, 4, 37}, 2, true, false}, constant, ++seed);
    check_matmul_nbits({256, 130, 4, 32, {70, 256}, 0, true, false}, constant, ++seed);  // multi-threaded
    NBitsCase half{33, 17, 4, 16, {2, 33}, 2, true, false, true};
    check_matmul_nbits(half, constant, ++seed);
    half.a_shape = {11, 33};
    check_matmul_nbits(half, constant, ++seed);
  }
}

TEST_CASE("quant: MatMulNBits rejects malformed inputs naming the node") {
  const auto node = make_node("MatMulNBits", 3, 1, {int_attr("K", 33), int_attr("N", 4), int_attr("block_size", 16)}, "com.microsoft");
  const Tensor A = Tensor::from_vector<float>({1, 33}, std::vector<float>(33, 1.0f));
  const Tensor B = Tensor::zeros(DType::kU8, {4, 3, 8});
  Status s = run_status(node, 1, {A, B, Tensor::from_vector<float>({4, 2}, std::vector<float>(8, 1.0f))});
  CHECK(s.code() == StatusCode::kInvalidInput);
  CHECK(s.message().find("q_MatMulNBits") != std::string::npos);
  CHECK(s.message().find("scales") != std::string::npos);
  s = run_status(node, 1, {A, Tensor::zeros(DType::kU8, {4, 2, 8}), Tensor::from_vector<float>({12}, std::vector<float>(12, 1.0f))});
  CHECK(s.code() == StatusCode::kInvalidInput);
  s = run_status(node, 1, {Tensor::from_vector<float>({1, 32}, std::vector<float>(32, 1.0f)), B,
                           Tensor::from_vector<float>({12}, std::vector<float>(12, 1.0f))});
  CHECK(s.code() == StatusCode::kInvalidInput);
  const auto bad_block = make_node("MatMulNBits", 3, 1, {int_attr("K", 33), int_attr("N", 4), int_attr("block_size", 24)}, "com.microsoft");
  s = run_status(bad_block, 1, {A, B, Tensor::from_vector<float>({12}, std::vector<float>(12, 1.0f))});
  CHECK(s.code() == StatusCode::kInvalidInput);
}

TEST_CASE("quant: integer kernels reject mismatched shapes and types") {
  Status s = run_status(make_node("MatMulInteger", 2), 10,
                        {Tensor::from_vector<uint8_t>({2, 3}, std::vector<uint8_t>(6, 1)), Tensor::from_vector<uint8_t>({4, 2}, std::vector<uint8_t>(8, 1))});
  CHECK(s.code() == StatusCode::kInvalidInput);
  CHECK(s.message().find("q_MatMulInteger") != std::string::npos);
  s = run_status(make_node("MatMulInteger", 3), 10,
                 {Tensor::from_vector<uint8_t>({2, 3}, std::vector<uint8_t>(6, 1)), Tensor::from_vector<uint8_t>({3, 2}, std::vector<uint8_t>(6, 1)),
                  Tensor::from_vector<uint8_t>({3}, {1, 2, 3})});
  CHECK(s.code() == StatusCode::kInvalidInput);  // a per-row zero point needs 2 values
  s = run_status(make_node("ConvInteger", 2, 1, {int_attr("group", 2)}), 10,
                 {Tensor::from_vector<uint8_t>({1, 3, 2, 2}, std::vector<uint8_t>(12, 1)), Tensor::from_vector<uint8_t>({2, 1, 1, 1}, {1, 1})});
  CHECK(s.code() == StatusCode::kInvalidInput);
}
