// Backward rules of the elementary math functions and the rectifier-like activations against
// finite differences (inputs inside each function's domain, away from kinks).
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {

TEST_CASE("grad trigonometric and hyperbolic functions and Abs") {
  check_node("Abs", {{"x", distinct_f32({3, 4}, 1, 0.1f)}});
  check_node("Sin", {{"x", random_f32({3, 4}, 2, 2.0f)}});
  check_node("Cos", {{"x", random_f32({3, 4}, 3, 2.0f)}});
  check_node("Tan", {{"x", random_f32({3, 4}, 4, 0.4f)}});
  check_node("Asin", {{"x", random_f32({3, 4}, 5, 0.3f)}});
  check_node("Acos", {{"x", random_f32({3, 4}, 6, 0.3f)}});
  check_node("Atan", {{"x", random_f32({3, 4}, 7, 2.0f)}});
  check_node("Sinh", {{"x", random_f32({3, 4}, 8)}});
  check_node("Cosh", {{"x", random_f32({3, 4}, 9)}});
  check_node("Asinh", {{"x", random_f32({3, 4}, 10, 2.0f)}});
  check_node("Acosh", {{"x", random_f32({3, 4}, 11, 0.3f, 2.0f)}});
  check_node("Atanh", {{"x", random_f32({3, 4}, 12, 0.3f)}});
}

TEST_CASE("grad Mod (fmod=1) for both operands, broadcast") {
  // |b| >= 0.5 keeps a / b away from the integers where trunc jumps for these draws.
  check_node("Mod", {{"a", random_f32({3, 4}, 1, 2.0f), Role::kFeed}, {"b", Tensor::from_vector<float>({4}, {0.7f, -0.9f, 1.3f, 2.1f})}},
             {int_attr("fmod", 1)}, 13);
}

TEST_CASE("grad Det of a batch of matrices (float64 reference: the kernel is float32 only)") {
  for (int64_t m : {2, 3}) {
    INFO("m ", m);
    const std::vector<TestInput> inputs = {{"x", random_f32({2, m, m}, uint32_t(m))}};
    const ir::Model model = make_graph_model({make_node("Det", {"x"}, {"y"})}, inputs, {"y"}, 13);
    check_against_reference(model, inputs, [m](const Values& v) {
      std::vector<double> dets;
      for (int64_t b = 0; b < 2; ++b) {
        std::vector<double> a(v.at("x").begin() + b * m * m, v.at("x").begin() + (b + 1) * m * m);
        auto at = [&](int64_t i, int64_t j) { return a[size_t(i * m + j)]; };
        dets.push_back(m == 2 ? at(0, 0) * at(1, 1) - at(0, 1) * at(1, 0)
                              : at(0, 0) * (at(1, 1) * at(2, 2) - at(1, 2) * at(2, 1)) -
                                    at(0, 1) * (at(1, 0) * at(2, 2) - at(1, 2) * at(2, 0)) +
                                    at(0, 2) * (at(1, 0) * at(2, 1) - at(1, 1) * at(2, 0)));
      }
      return std::vector<std::vector<double>>{dets};
    });
  }
}

TEST_CASE("grad Elu, Selu, Celu, Softplus, Softsign, ThresholdedRelu, Shrink, Mish") {
  check_node("Elu", {{"x", distinct_f32({3, 4}, 1, 0.2f)}}, {float_attr("alpha", 0.7f)});
  check_node("Selu", {{"x", distinct_f32({3, 4}, 2, 0.2f)}});
  check_node("Celu", {{"x", distinct_f32({3, 4}, 3, 0.2f)}}, {float_attr("alpha", 1.5f)});
  check_node("Softplus", {{"x", random_f32({3, 4}, 4, 2.0f)}});
  check_node("Softsign", {{"x", distinct_f32({3, 4}, 5, 0.2f)}});
  check_node("ThresholdedRelu", {{"x", distinct_f32({3, 4}, 6, 0.3f)}}, {float_attr("alpha", 0.25f)});
  check_node("Shrink", {{"x", distinct_f32({3, 4}, 7, 0.3f)}}, {float_attr("lambd", 0.4f), float_attr("bias", 0.1f)});
  check_node("Mish", {{"x", random_f32({3, 4}, 8, 2.0f)}}, {}, 18);
}

TEST_CASE("grad PRelu: the input and the slope weight, broadcast and per channel") {
  // Opset 7+: the slope broadcasts unidirectionally ([C, 1, 1] over [N, C, H, W], or a scalar).
  check_node("PRelu", {{"x", distinct_f32({2, 3, 2, 2}, 1, 0.1f), Role::kFeed}, {"slope", random_f32({3, 1, 1}, 2, 0.2f, 0.3f)}}, {}, 16);
  check_node("PRelu", {{"x", distinct_f32({2, 5}, 3, 0.1f), Role::kFeed}, {"slope", random_f32({1}, 4, 0.2f, 0.3f)}}, {}, 16);
  check_node("PRelu", {{"x", distinct_f32({2, 5}, 5, 0.1f), Role::kFeed}, {"slope", random_f32({5}, 6, 0.2f, 0.3f)}}, {}, 16);
  // Opset 6: a [C] slope is per channel of [N, C, ...].
  check_node("PRelu", {{"x", distinct_f32({2, 3, 4}, 7, 0.1f), Role::kFeed}, {"slope", random_f32({3}, 8, 0.2f, 0.3f)}}, {}, 6);
}

}  // namespace ember::grad_test

namespace ember::grad_test {

// The kernel takes float32 (not float64) scales, and is linear in them: the float32 model is the reference.
TEST_CASE("grad DequantizeLinear for its scale: per tensor, per axis and blocked") {
  const Tensor q = Tensor::from_vector<int8_t>({2, 4}, {-3, 7, 0, 12, -128, 5, 1, 127});
  check_float32_node("DequantizeLinear", {{"q", q, Role::kConstant}, {"s", Tensor::scalar<float>(0.05f)}}, {}, 13);
  check_float32_node("DequantizeLinear",
             {{"q", q, Role::kConstant}, {"s", Tensor::from_vector<float>({4}, {0.1f, 0.2f, 0.05f, 0.3f})},
              {"zp", Tensor::from_vector<int8_t>({4}, {1, -2, 0, 3}), Role::kConstant}},
             {int_attr("axis", 1)}, 13);
  check_float32_node("DequantizeLinear", {{"q", q, Role::kConstant}, {"s", Tensor::from_vector<float>({2, 2}, {0.1f, 0.2f, 0.05f, 0.3f})}},
             {int_attr("axis", 1), int_attr("block_size", 2)}, 21);
}

}  // namespace ember::grad_test
