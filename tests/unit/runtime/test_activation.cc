#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>

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
  check_values(run1(op_node("HardSwish", 1), 14, {x}), {-2 * (4.0 / 6), -0.5 * (2.5 / 6), 0, 3});
  check_values(run1(op_node("Tanh", 1), 13, {x}), {std::tanh(-2.0), std::tanh(-0.5), 0, std::tanh(3.0)});
  check_values(run1(op_node("Softplus", 1), 1, {x}),
               {std::log1p(std::exp(-2.0)), std::log1p(std::exp(-0.5)), std::log(2.0), std::log1p(std::exp(3.0))});
  check_values(run1(op_node("Softsign", 1), 1, {x}), {-2.0 / 3, -0.5 / 1.5, 0, 0.75});
  check_values(run1(op_node("ThresholdedRelu", 1, {float_attr("alpha", 0.0f)}), 10, {x}), {0, 0, 0, 3});
  check_values(run1(op_node("Shrink", 1, {float_attr("lambd", 1), float_attr("bias", 0.5f)}), 9, {x}), {-1.5, 0, 0, 2.5});
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
  CHECK(run_status(op_node("Gelu", 1, {string_attr("approximate", "fast")}), 20, {x}).code() == StatusCode::kInvalidInput);
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
  check_values(run1(op_node("Softmax", 1), 11, {x}), {1 / sum, std::exp(1.0) / sum, std::exp(2.0) / sum, std::exp(3.0) / sum});
  CHECK(run_status(op_node("Softmax", 1, {int_attr("axis", 3)}), 13, {x}).code() == StatusCode::kInvalidInput);
}

TEST_CASE("LogSoftmax and Hardmax handle large logits and ties") {
  check_values(run1(op_node("LogSoftmax", 1), 13, {Tensor::from_vector<float>({2}, {1000, 1001})}),
               {-1.3132616875182228, -0.3132616875182228});
  check_values(run1(op_node("LogSoftmax", 1, {int_attr("axis", 0)}), 13, {Tensor::from_vector<float>({2, 1}, {0, 0})}),
               {-std::log(2.0), -std::log(2.0)});
  check_values(run1(op_node("Hardmax", 1), 13, {Tensor::from_vector<float>({2, 3}, {1, 3, 3, 5, 0, -1})}), {0, 1, 0, 1, 0, 0});
  check_values(run1(op_node("Hardmax", 1, {int_attr("axis", 0)}), 13, {Tensor::from_vector<float>({2, 2}, {1, 4, 2, 3})}),
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
  CHECK(values_of<int8_t>(run1(op_node("Clip", 2), 13, {Tensor::from_vector<int8_t>({3}, {-5, 0, 5}), Tensor::scalar<int8_t>(0)})) ==
        std::vector<int8_t>{0, 0, 5});
  CHECK(run_status(op_node("Clip", 2), 13, {x, Tensor::scalar<double>(0)}).code() == StatusCode::kInvalidInput);
}

TEST_CASE("PRelu broadcasts the slope to the input, per channel before opset 7") {
  const Tensor x = Tensor::from_vector<float>({1, 2, 2}, {-1, 2, -3, 4});
  check_values(run1(op_node("PRelu", 2), 16, {x, Tensor::from_vector<float>({2, 1}, {0.5f, 0.25f})}), {-0.5, 2, -0.75, 4});
  check_values(run1(op_node("PRelu", 2), 16, {x, Tensor::scalar<float>(0.1f)}), {-0.1, 2, -0.3, 4});
  check_values(run1(op_node("PRelu", 2), 6, {x, Tensor::from_vector<float>({2}, {0.5f, 0.25f})}), {-0.5, 2, -0.75, 4});
  const Status s = run_status(op_node("PRelu", 2), 16, {x, Tensor::from_vector<float>({2, 2, 2}, {1, 1, 1, 1, 1, 1, 1, 1})});
  CHECK(s.code() == StatusCode::kInvalidInput);
  CHECK(s.message().find("n_PRelu") != std::string::npos);
}
