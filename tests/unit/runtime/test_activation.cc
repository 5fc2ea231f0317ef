#include <doctest/doctest.h>

#include <cmath>
#include <algorithm>
#include <cstdint>

#include "runtime/kernels/fast_math.h"
#include "tests/unit/runtime/numeric_op_test_util.h"

using namespace ember;
using namespace ember::test;

TEST_CASE("pointwise activations match their definitions") {
  const Tensor x = Tensor::from_vector<float>({4}, {-2, -0.5f, 0, 3});
  check_values(run1(op_node("Relu", 1), 14, {x}), {0, 0, 0, 3});
  check_values(run1(op_node("LeakyRelu", 1, {float_attr("alpha", 0.1f)}), 16, {x}), {-0.2, -0.05, 0, 3});
  check_values(run1(op_node("Elu", 1), 6, {x}), {std::exp(-2.0) - 1, std::exp(-0.5) - 1, 0, 3});
  const double alpha = 1.67326319217681884765625, gamma = 1.05070102214813232421875;
  check_values(run1(op_node("Selu", 1), 6, {x}),
               {gamma * alpha * (std::exp(-2.0) - 1), gamma * alpha * (std::exp(-0.5) - 1), 0, gamma * 3});
  check_values(run1(op_node("Sigmoid", 1), 13, {x}),
               {1 / (1 + std::exp(2.0)), 1 / (1 + std::exp(0.5)), 0.5, 1 / (1 + std::exp(-3.0))});
  check_values(run1(op_node("HardSigmoid", 1), 6, {x}), {0.1, 0.4, 0.5, 1});
  check_values(run1(op_node("HardSwish", 1), 14, {x}), {-2 * (1.0 / 6), -0.5 * (2.5 / 6), 0, 3});
  check_values(run1(op_node("Tanh", 1), 13, {x}), {std::tanh(-2.0), std::tanh(-0.5), 0, std::tanh(3.0)});
  check_values(run1(op_node("Softplus", 1), 1, {x}),
               {std::log1p(std::exp(-2.0)), std::log1p(std::exp(-0.5)), std::log(2.0), std::log1p(std::exp(3.0))});
  check_values(run1(op_node("Softsign", 1), 1, {x}), {-2.0 / 3, -0.5 / 1.5, 0, 0.75});
  check_values(run1(op_node("ThresholdedRelu", 1, {float_attr("alpha", 0.0f)}), 10, {x}), {0, 0, 0, 3});
  check_values(run1(op_node("Shrink", 1, {float_attr("lambd", 1), float_attr("bias", 0.5f)}), 9, {x}),
               {-1.5, 0, 0, 2.5});
  CHECK(values_of<int32_t>(run1(op_node("Relu", 1), 14, {Tensor::from_vector<int32_t>({2}, {-3, 3})})) ==
        std::vector<int32_t>{0, 3});
}

TEST_CASE("activations stay finite at extreme inputs") {
  const Tensor x = Tensor::from_vector<float>({2}, {-100, 100});
  check_values(run1(op_node("Sigmoid", 1), 13, {x}), {3.7200759760208356e-44, 1}, 1e-6);
  check_values(run1(op_node("Softplus", 1), 1, {x}), {3.7200759760208356e-44, 100});
}

TEST_CASE("Gelu (opset 20): exact with erf, or the tanh approximation") {
  const Tensor x = Tensor::from_vector<float>({3}, {-1, 0, 1});
  check_values(run1(op_node("Gelu", 1), 20, {x}), {-0.15865525393145707, 0, 0.8413447460685429});
  check_values(run1(op_node("Gelu", 1, {string_attr("approximate", "tanh")}), 20, {x}),
               {-0.15880800939172324, 0, 0.8411919906082768});
  CHECK(run_status(op_node("Gelu", 1, {string_attr("approximate", "fast")}), 20, {x}).code() ==
        StatusCode::kInvalidInput);
  CHECK(run_status(op_node("Gelu", 1), 17, {x}).code() == StatusCode::kUnsupported);  // not defined before 20
}

TEST_CASE("Softmax: one axis from opset 13, coerced to 2-D before") {
  const Tensor x = Tensor::from_vector<float>({1, 2, 2}, {0, 1, 2, 3});
  // Opset 13, axis 1: pairs (0, 2) and (1, 3).
  check_values(run1(op_node("Softmax", 1, {int_attr("axis", 1)}), 13, {x}),
               {0.11920292202211755, 0.11920292202211755, 0.8807970779778824, 0.8807970779778824});
  // Opset 11, axis 1: all four values form one row.
  const double sum = 1 + std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  check_values(run1(op_node("Softmax", 1, {int_attr("axis", 1)}), 11, {x}),
               {1 / sum, std::exp(1.0) / sum, std::exp(2.0) / sum, std::exp(3.0) / sum});
  // Default axis: -1 from 13, 1 before.
  check_values(run1(op_node("Softmax", 1), 13, {x}),
               {0.2689414213699951, 0.7310585786300049, 0.2689414213699951, 0.7310585786300049});
  check_values(run1(op_node("Softmax", 1), 11, {x}),
               {1 / sum, std::exp(1.0) / sum, std::exp(2.0) / sum, std::exp(3.0) / sum});
  CHECK(run_status(op_node("Softmax", 1, {int_attr("axis", 3)}), 13, {x}).code() == StatusCode::kInvalidInput);
}

TEST_CASE("LogSoftmax and Hardmax handle large logits and ties") {
  check_values(run1(op_node("LogSoftmax", 1), 13, {Tensor::from_vector<float>({2}, {1000, 1001})}),
               {-1.3132616875182228, -0.3132616875182228});
  check_values(run1(op_node("LogSoftmax", 1, {int_attr("axis", 0)}), 13, {Tensor::from_vector<float>({2, 1}, {0, 0})}),
               {-std::log(2.0), -std::log(2.0)});
  check_values(run1(op_node("Hardmax", 1), 13, {Tensor::from_vector<float>({2, 3}, {1, 3, 3, 5, 0, -1})}),
               {0, 1, 0, 1, 0, 0});
  check_values(
      run1(op_node("Hardmax", 1, {int_attr("axis", 0)}), 13, {Tensor::from_vector<float>({2, 2}, {1, 4, 2, 3})}),
      {0, 1, 1, 0});
}

TEST_CASE("Clip: attributes before opset 11, optional inputs after") {
  const Tensor x = Tensor::from_vector<float>({4}, {-3, -1, 1, 3});
  check_values(run1(op_node("Clip", 1, {float_attr("min", -2), float_attr("max", 2)}), 6, {x}), {-2, -1, 1, 2});
  check_values(run1(op_node("Clip", 1, {float_attr("max", 0)}), 6, {x}), {-3, -1, 0, 0});
  check_values(run1(op_node("Clip", 3), 13, {x, Tensor::scalar<float>(-2), Tensor::scalar<float>(2)}), {-2, -1, 1, 2});
  check_values(run1(op_node("Clip", 3), 13, {x, Tensor(), Tensor::scalar<float>(0)}), {-3, -1, 0, 0});
  check_values(run1(op_node("Clip", 1), 13, {x}), {-3, -1, 1, 3});
  check_values(run1(op_node("Clip", 3), 13, {x, Tensor::scalar<float>(2), Tensor::scalar<float>(1)}), {1, 1, 1, 1});
  CHECK(values_of<int8_t>(
            run1(op_node("Clip", 2), 13, {Tensor::from_vector<int8_t>({3}, {-5, 0, 5}), Tensor::scalar<int8_t>(0)})) ==
        std::vector<int8_t>{0, 0, 5});
  CHECK(run_status(op_node("Clip", 2), 13, {x, Tensor::scalar<double>(0)}).code() == StatusCode::kInvalidInput);
}

TEST_CASE("PRelu broadcasts the slope to the input, per channel before opset 7") {
  const Tensor x = Tensor::from_vector<float>({1, 2, 2}, {-1, 2, -3, 4});
  check_values(run1(op_node("PRelu", 2), 16, {x, Tensor::from_vector<float>({2, 1}, {0.5f, 0.25f})}),
               {-0.5, 2, -0.75, 4});
  check_values(run1(op_node("PRelu", 2), 16, {x, Tensor::scalar<float>(0.1f)}), {-0.1, 2, -0.3, 4});
  check_values(run1(op_node("PRelu", 2), 6, {x, Tensor::from_vector<float>({2}, {0.5f, 0.25f})}), {-0.5, 2, -0.75, 4});
  const Status s =
      run_status(op_node("PRelu", 2), 16, {x, Tensor::from_vector<float>({2, 2, 2}, {1, 1, 1, 1, 1, 1, 1, 1})});
  CHECK(s.code() == StatusCode::kInvalidInput);
  CHECK(s.message().find("n_PRelu") != std::string::npos);
}

TEST_CASE("fast_erf and fast_tanh stay within 1e-6 relative of std:: and keep the special values") {
  double worst_erf = 0, worst_tanh = 0;
  for (int i = -200000; i <= 200000; ++i) {
    const float x = 10.0f * float(i) / 200000;
    if (x == 0) continue;
    worst_erf =
        std::max(worst_erf, std::fabs(runtime::fast_erf(x) - std::erf(double(x))) / std::fabs(std::erf(double(x))));
    worst_tanh =
        std::max(worst_tanh, std::fabs(runtime::fast_tanh(x) - std::tanh(double(x))) / std::fabs(std::tanh(double(x))));
  }
  CHECK(worst_erf < 1e-6);
  CHECK(worst_tanh < 1e-6);
  CHECK(runtime::fast_erf(1e-30f) == doctest::Approx(1.1283791670955126e-30).epsilon(1e-6));
  CHECK(runtime::fast_erf(INFINITY) == 1);
  CHECK(runtime::fast_erf(-INFINITY) == -1);
  CHECK(runtime::fast_tanh(INFINITY) == 1);
  CHECK(runtime::fast_tanh(-INFINITY) == -1);
  CHECK(std::isnan(runtime::fast_erf(NAN)));
  CHECK(std::isnan(runtime::fast_tanh(NAN)));
}

TEST_CASE("fast_exp stays within 1e-6 relative of std::exp and keeps the special values") {
  double worst = 0;
  for (int i = 0; i <= 400000; ++i) {
    const float x = -87.0f + 175.5f * float(i) / 400000;  // normal results up to near FLT_MAX
    const double ref = std::exp(double(x));
    if (ref > 3.4e38) continue;
    worst = std::max(worst, std::fabs(double(runtime::fast_exp(x)) - ref) / ref);
  }
  CHECK(worst < 1e-6);
  CHECK(std::isinf(runtime::fast_exp(INFINITY)));
  CHECK(std::isinf(runtime::fast_exp(89.0f)));
  CHECK(runtime::fast_exp(-INFINITY) == 0);
  CHECK(std::isnan(runtime::fast_exp(NAN)));
  CHECK(runtime::fast_exp(0) == 1);
  CHECK(std::fabs(runtime::fast_exp(-100.0f) - std::exp(-100.0f)) < 1e-45);  // denormal range
}
