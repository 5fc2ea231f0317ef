// Operators of opsets 18-20 that Debian's onnx 1.12 test data does not cover: values from the
// ONNX operator documentation's examples or computed by hand.
#include <doctest/doctest.h>

#include <cmath>

#include "runtime/single_op.h"
#include "tests/unit/test_support.h"

namespace ember::opset18_test {
namespace {

std::vector<Tensor> run_op(const std::string& op, std::vector<Tensor> inputs, std::vector<ir::Attribute> attrs, int64_t opset,
                           size_t outputs = 1) {
  std::vector<std::string> in_names, out_names;
  for (size_t i = 0; i < inputs.size(); ++i) in_names.push_back("i" + std::to_string(i));
  for (size_t i = 0; i < outputs; ++i) out_names.push_back("o" + std::to_string(i));
  const ir::Node node = test::node(op, op, in_names, out_names, std::move(attrs));
  auto out = runtime::run_single_op(node, opset, inputs);
  REQUIRE_MESSAGE(out.ok(), out.status().message());
  return *out;
}

template <class T>
std::vector<T> values(const Tensor& t) { return {t.data<T>(), t.data<T>() + t.numel()}; }

}  // namespace

TEST_CASE("BitwiseAnd/Or/Xor broadcast, BitwiseNot") {
  const Tensor a = Tensor::from_vector<int32_t>({3}, {12, 10, -1});
  const Tensor b = Tensor::scalar<int32_t>(6);
  CHECK(values<int32_t>(run_op("BitwiseAnd", {a, b}, {}, 18)[0]) == std::vector<int32_t>{4, 2, 6});
  CHECK(values<int32_t>(run_op("BitwiseOr", {a, b}, {}, 18)[0]) == std::vector<int32_t>{14, 14, -1});
  CHECK(values<int32_t>(run_op("BitwiseXor", {a, b}, {}, 18)[0]) == std::vector<int32_t>{10, 12, -7});
  CHECK(values<uint8_t>(run_op("BitwiseNot", {Tensor::from_vector<uint8_t>({2}, {0, 15})}, {}, 18)[0]) == std::vector<uint8_t>{255, 240});
}

TEST_CASE("CenterCropPad crops rows and pads columns around the centre") {
  std::vector<float> x(12);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i + 1);
  const auto y = run_op("CenterCropPad", {Tensor::from_vector<float>({3, 4}, x), Tensor::from_vector<int64_t>({2}, {2, 6})}, {}, 18)[0];
  CHECK(y.shape() == Shape{2, 6});
  CHECK(values<float>(y) == std::vector<float>{0, 1, 2, 3, 4, 0, 0, 5, 6, 7, 8, 0});
}

TEST_CASE("GroupNormalization: per-group statistics, scale per group (18) or per channel (21)") {
  const Tensor x = Tensor::from_vector<float>({1, 4, 2}, {1, 3, 5, 7, 0, 0, 2, 2});
  const auto y18 = run_op("GroupNormalization", {x, Tensor::from_vector<float>({2}, {1, 2}), Tensor::from_vector<float>({2}, {0, 1})},
                          {test::int_attr("num_groups", 2), test::float_attr("epsilon", 0.0f)}, 18)[0];
  // group 0: {1,3,5,7}, mean 4, std sqrt(5); group 1: {0,0,2,2}, mean 1, std 1 -> 2 * (v - 1) + 1
  const float s = std::sqrt(5.0f);
  const std::vector<float> want = {-3 / s, -1 / s, 1 / s, 3 / s, -1, -1, 3, 3};
  const auto got = values<float>(y18);
  for (size_t i = 0; i < want.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-6));
  const auto y21 = run_op("GroupNormalization", {x, Tensor::from_vector<float>({4}, {1, 1, 2, 2}), Tensor::from_vector<float>({4}, {0, 0, 1, 1})},
                          {test::int_attr("num_groups", 2), test::float_attr("epsilon", 0.0f)}, 21)[0];
  const auto got21 = values<float>(y21);
  for (size_t i = 0; i < want.size(); ++i) CHECK(got21[i] == doctest::Approx(want[i]).epsilon(1e-6));
}

TEST_CASE("Col2Im: the operator documentation's example (blocks of 1 x 5 give the transpose)") {
  std::vector<float> x(25);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i + 1);
  const auto y = run_op("Col2Im", {Tensor::from_vector<float>({1, 5, 5}, x), Tensor::from_vector<int64_t>({2}, {5, 5}),
                                   Tensor::from_vector<int64_t>({2}, {1, 5})}, {}, 18)[0];
  CHECK(y.shape() == Shape{1, 1, 5, 5});
  const auto got = values<float>(y);
  for (int r = 0; r < 5; ++r)
    for (int c = 0; c < 5; ++c) CHECK(got[size_t(r * 5 + c)] == x[size_t(c * 5 + r)]);
}

TEST_CASE("AffineGrid: the identity transform gives the pixel centres in normalised coordinates") {
  const Tensor theta = Tensor::from_vector<float>({1, 2, 3}, {1, 0, 0, 0, 1, 0});
  const auto y = run_op("AffineGrid", {theta, Tensor::from_vector<int64_t>({4}, {1, 1, 2, 3})}, {}, 20)[0];
  CHECK(y.shape() == Shape{1, 2, 3, 2});
  const std::vector<float> want = {-2.f / 3, -0.5f, 0, -0.5f, 2.f / 3, -0.5f, -2.f / 3, 0.5f, 0, 0.5f, 2.f / 3, 0.5f};
  const auto got = values<float>(y);
  for (size_t i = 0; i < want.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-6));
}

TEST_CASE("DeformConv: zero offsets give Conv, and a mask scales the sampled taps") {
  std::vector<float> xv(2 * 5 * 6), wv(4 * 1 * 3 * 3);
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = std::sin(float(i) * 0.7f);
  for (size_t i = 0; i < wv.size(); ++i) wv[i] = std::cos(float(i) * 1.3f);
  const Tensor x = Tensor::from_vector<float>({1, 2, 5, 6}, xv), w = Tensor::from_vector<float>({4, 1, 3, 3}, wv);
  const Tensor b = Tensor::from_vector<float>({4}, {0.5f, -1, 2, 0});
  std::vector<ir::Attribute> attrs = {test::int_attr("group", 2), test::ints_attr("pads", {1, 1, 1, 1}), test::ints_attr("strides", {1, 2})};
  const Tensor conv = run_op("Conv", {x, w, b}, attrs, 19)[0];
  const Tensor zero = Tensor::zeros(DType::kF32, {1, 2 * 9, conv.dim(2), conv.dim(3)});
  const Tensor deform = run_op("DeformConv", {x, w, zero, b}, attrs, 19)[0];
  REQUIRE(deform.shape() == conv.shape());
  const auto c = values<float>(conv), d = values<float>(deform);
  for (size_t i = 0; i < c.size(); ++i) CHECK(d[i] == doctest::Approx(c[i]).epsilon(1e-5));
  // Mask 0.5 everywhere, no bias: half of Conv without bias.
  const Tensor conv_nb = run_op("Conv", {x, w}, attrs, 19)[0];
  std::vector<float> half(9 * size_t(conv.dim(2) * conv.dim(3)), 0.5f);
  const Tensor mask = Tensor::from_vector<float>({1, 9, conv.dim(2), conv.dim(3)}, half);
  const auto masked = values<float>(run_op("DeformConv", {x, w, zero, Tensor(), mask}, attrs, 19)[0]);
  const auto cn = values<float>(conv_nb);
  for (size_t i = 0; i < cn.size(); ++i) CHECK(masked[i] == doctest::Approx(0.5f * cn[i]).epsilon(1e-5));
}

TEST_CASE("Random ops: reproducible for a seed (0 when absent), inside their range") {
  std::vector<ir::Attribute> attrs = {test::ints_attr("shape", {4, 5}), test::float_attr("low", -2), test::float_attr("high", 3)};
  const auto a = values<float>(run_op("RandomUniform", {}, attrs, 17)[0]);
  const auto b = values<float>(run_op("RandomUniform", {}, attrs, 17)[0]);
  CHECK(a == b);
  for (float v : a) CHECK((v >= -2 && v < 3));
  attrs.push_back(test::float_attr("seed", 7));
  CHECK(values<float>(run_op("RandomUniform", {}, attrs, 17)[0]) != a);
  const auto bern = values<float>(run_op("Bernoulli", {Tensor::from_vector<float>({3}, {0, 1, 1})}, {}, 17)[0]);
  CHECK(bern == std::vector<float>{0, 1, 1});
  const auto pick = run_op("Multinomial", {Tensor::from_vector<float>({1, 3}, {-100, 0, -100})}, {test::int_attr("sample_size", 4)}, 17)[0];
  CHECK(values<int32_t>(pick) == std::vector<int32_t>{1, 1, 1, 1});
}

}  // namespace ember::opset18_test
