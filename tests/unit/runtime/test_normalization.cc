#include <doctest/doctest.h>

#include <cmath>

#include "tests/unit/runtime/numeric_op_test_util.h"

using namespace ember;
using namespace ember::test;

TEST_CASE("LayerNormalization normalises the trailing dims and reports its statistics") {
  const Tensor x = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 6, 8});
  const Tensor scale = Tensor::from_vector<float>({3}, {1, 2, 0.5f});
  const Tensor bias = Tensor::from_vector<float>({3}, {0, 1, 0});
  const auto out = run_ok(op_node("LayerNormalization", 3, {float_attr("epsilon", 0)}, 3), 17, {x, scale, bias});
  const double r = std::sqrt(1.5);  // 1 / std of {1, 2, 3}
  check_values(out[0], {-r, 1, 0.5 * r, -r, 1, 0.5 * r});
  CHECK(out[1].shape() == Shape{2, 1});
  CHECK(out[1].dtype() == DType::kF32);
  check_values(out[1], {2, 6});
  check_values(out[2], {r, r / 2});

  // axis 0: all elements form one group; bias omitted.
  const Tensor ones = Tensor::from_vector<float>({2, 3}, {1, 1, 1, 1, 1, 1});
  const Tensor y =
      run1(op_node("LayerNormalization", 2, {int_attr("axis", 0), float_attr("epsilon", 0)}), 17, {x, ones});
  const double mean = 4, var = (9 + 4 + 1 + 0 + 4 + 16) / 6.0;
  check_values(y,
               {(1 - mean) / std::sqrt(var), (2 - mean) / std::sqrt(var), (3 - mean) / std::sqrt(var), 0,
                (6 - mean) / std::sqrt(var), (8 - mean) / std::sqrt(var)},
               1e-5);
  // A scale that broadcasts to the normalised shape.
  check_values(
      run1(op_node("LayerNormalization", 2, {float_attr("epsilon", 0)}), 17, {x, Tensor::from_vector<float>({1}, {2})}),
      {-2 * r, 0, 2 * r, -2 * r, 0, 2 * r});
  const Status s = run_status(op_node("LayerNormalization", 2), 17, {x, Tensor::from_vector<float>({2}, {1, 1})});
  CHECK(s.code() == StatusCode::kInvalidInput);
  CHECK(s.message().find("n_LayerNormalization") != std::string::npos);
}

TEST_CASE("BatchNormalization in inference mode, with parameters folded at prepare or at run") {
  const Tensor x = Tensor::from_vector<float>({1, 2, 1, 2}, {1, 2, 3, 4});
  const std::vector<Tensor> inputs = {
      x, Tensor::from_vector<float>({2}, {1, 2}), Tensor::from_vector<float>({2}, {0, 1}),
      Tensor::from_vector<float>({2}, {1.5f, 3.5f}), Tensor::from_vector<float>({2}, {0.25f, 0.25f})};
  const ir::Node node = op_node("BatchNormalization", 5, {float_attr("epsilon", 0)});
  for (int64_t opset : {7, 9, 15}) {
    check_values(run1(node, opset, inputs), {-1, 1, -1, 3});
    auto constant = runtime::run_single_op(node, opset, inputs, /*inputs_are_constant=*/true);
    REQUIRE(constant.ok());
    check_values((*constant)[0], {-1, 1, -1, 3});
  }
  // Rank-2 input (N, C).
  check_values(
      run1(node, 15, {Tensor::from_vector<float>({2, 2}, {1, 3, 2, 4}), inputs[1], inputs[2], inputs[3], inputs[4]}),
      {-1, -1, 1, 3});
  const Status s =
      run_status(node, 15, {x, inputs[1], inputs[2], inputs[3], Tensor::from_vector<float>({3}, {1, 1, 1})});
  CHECK(s.code() == StatusCode::kInvalidInput);
}

TEST_CASE("BatchNormalization training mode (opset 14+) uses batch statistics and updates running ones") {
  const ir::Node node = op_node("BatchNormalization", 5, {int_attr("training_mode", 1), float_attr("epsilon", 0)}, 3);
  const auto out = run_ok(node, 15,
                          {Tensor::from_vector<float>({2, 1, 1, 1}, {1, 3}), Tensor::scalar<float>(1).reshaped({1}),
                           Tensor::scalar<float>(0).reshaped({1}), Tensor::scalar<float>(0).reshaped({1}),
                           Tensor::scalar<float>(1).reshaped({1})});
  check_values(out[0], {-1, 1});
  check_values(out[1], {0.2});  // 0 * 0.9 + 2 * 0.1
  check_values(out[2], {1.0});  // 1 * 0.9 + 1 * 0.1
}

TEST_CASE("InstanceNormalization, LpNormalization and MeanVarianceNormalization") {
  const Tensor x = Tensor::from_vector<float>({1, 2, 2}, {1, 3, 2, 2});
  check_values(run1(op_node("InstanceNormalization", 3), 6,
                    {x, Tensor::from_vector<float>({2}, {1, 1}), Tensor::from_vector<float>({2}, {0, 5})}),
               {-1 / std::sqrt(1 + 1e-5), 1 / std::sqrt(1 + 1e-5), 5, 5});
  const Tensor v = Tensor::from_vector<float>({2, 2}, {3, 4, 0, 0});
  check_values(run1(op_node("LpNormalization", 1), 1, {v}), {0.6, 0.8, 0, 0});
  check_values(run1(op_node("LpNormalization", 1, {int_attr("p", 1)}), 1, {v}), {3.0 / 7, 4.0 / 7, 0, 0});
  check_values(run1(op_node("LpNormalization", 1, {int_attr("axis", 0)}), 1, {v}), {1, 1, 0, 0});
  // MVN over axes [0, 2, 3] of a (2, 1, 1, 2) tensor: one group of 4 values.
  const Tensor m = Tensor::from_vector<float>({2, 1, 1, 2}, {1, 2, 3, 4});
  const double sd = std::sqrt(1.25);
  check_values(run1(op_node("MeanVarianceNormalization", 1), 13, {m}), {-1.5 / sd, -0.5 / sd, 0.5 / sd, 1.5 / sd},
               1e-5);
}
