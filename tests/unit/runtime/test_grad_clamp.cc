// Backward rules of the clamping ops (Max, Min, Clip, HardSigmoid, HardSwish) against finite
// differences. Distinct inputs keep every value away from ties and bounds, where the
// derivative jumps.
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {

TEST_CASE("grad Max and Min: the gradient goes to the winning input, summed over broadcast axes") {
  check_node("Max", {{"a", distinct_f32({3, 4}, 1, 0.1f)}, {"b", distinct_f32({4}, 2, 0.13f)}});
  check_node("Min", {{"a", distinct_f32({2, 3}, 3, 0.1f)}, {"b", distinct_f32({2, 3}, 4, 0.07f)}, {"c", distinct_f32({3}, 5, 0.11f)}});
}

TEST_CASE("grad Clip with bounds as inputs (opset 13) and as attributes (opset 6)") {
  check_node("Clip", {{"x", distinct_f32({3, 4}, 6, 0.1f)},
                      {"lo", Tensor::scalar<float>(-0.33f), Role::kConstant},
                      {"hi", Tensor::scalar<float>(0.47f), Role::kConstant}}, {}, 13);
  check_node("Clip", {{"x", distinct_f32({3, 4}, 7, 0.1f)}}, {float_attr("min", -0.33f), float_attr("max", 0.47f)}, 6);
}

TEST_CASE("grad HardSigmoid and HardSwish") {
  check_node("HardSigmoid", {{"x", distinct_f32({3, 4}, 8, 0.9f)}}, {float_attr("alpha", 0.3f)});
  check_node("HardSwish", {{"x", distinct_f32({3, 4}, 9, 0.9f)}}, {}, 14);
}

}  // namespace ember::grad_test

namespace ember::grad_test {

TEST_CASE("grad Resize: nearest, linear and cubic, by scales and by sizes, and Upsample") {
  auto f = [](std::vector<float> v) { return Tensor::from_vector<float>({int64_t(v.size())}, v); };
  auto i64 = [](std::vector<int64_t> v) { return Tensor::from_vector<int64_t>({int64_t(v.size())}, v); };
  check_node("Resize", {{"x", random_f32({1, 2, 3, 4}, 21)}, {"", {}}, {"scales", f({1, 1, 2, 1.5f}), Role::kConstant}},
             {test::string_attr("mode", "linear")}, 13);
  check_node("Resize", {{"x", random_f32({1, 1, 5, 4}, 22)}, {"", {}}, {"", {}}, {"sizes", i64({1, 1, 3, 7}), Role::kConstant}},
             {test::string_attr("mode", "cubic"), test::string_attr("coordinate_transformation_mode", "align_corners")}, 13);
  check_node("Resize", {{"x", random_f32({1, 2, 2, 3}, 23)}, {"", {}}, {"scales", f({1, 1, 2, 2}), Role::kConstant}},
             {test::string_attr("mode", "nearest"), test::string_attr("coordinate_transformation_mode", "asymmetric"),
              test::string_attr("nearest_mode", "floor")}, 13);
  check_node("Upsample", {{"x", random_f32({1, 1, 2, 3}, 24)}, {"scales", f({1, 1, 2, 3}), Role::kConstant}},
             {test::string_attr("mode", "linear")}, 9);
}

}  // namespace ember::grad_test
