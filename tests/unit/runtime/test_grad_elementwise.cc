// Backward rules of the elementwise family against finite differences, with broadcasting.
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {

TEST_CASE("grad Add/Sub/Mul/Div with numpy broadcasting") {
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
    INFO(op);
    const float offset = std::string(op) == "Div" ? 2.0f : 0.0f;  // keep divisors away from 0
    check_node(op, {{"a", random_f32({2, 3, 4}, 1), Role::kFeed}, {"b", random_f32({3, 1}, 2, 0.3f, offset)}});
    check_node(op, {{"a", random_f32({4}, 3)}, {"b", random_f32({2, 3, 4}, 4, 0.3f, offset), Role::kFeed}});
    check_node(op, {{"a", random_f32({2, 1, 4}, 5)}, {"b", random_f32({1, 3, 1}, 6, 0.3f, offset)}});
    check_node(op, {{"a", random_f32({2, 3}, 7)}, {"b", random_f32({}, 8, 0.3f, offset)}});
  }
}

TEST_CASE("grad Pow: base and exponent, broadcast exponent") {
  check_node("Pow", {{"a", random_f32({2, 3}, 1, 0.3f, 1.5f)}, {"b", random_f32({3}, 2, 0.5f, 1.0f)}});
  // GPT-2's GELU: x^3 with a constant exponent and negative bases.
  check_node("Pow", {{"a", random_f32({2, 5}, 3), Role::kFeed}, {"b", Tensor::scalar<float>(3.0f), Role::kConstant}});
}

TEST_CASE("grad unary elementwise ops") {
  check_node("Neg", {{"x", random_f32({2, 3}, 1)}});
  check_node("Sqrt", {{"x", random_f32({2, 3}, 2, 0.3f, 2.0f)}});
  check_node("Exp", {{"x", random_f32({2, 3}, 3)}});
  check_node("Log", {{"x", random_f32({2, 3}, 4, 0.3f, 2.0f)}});
  check_node("Reciprocal", {{"x", random_f32({2, 3}, 5, 0.3f, 2.0f)}});
  check_node("Cast", {{"x", random_f32({2, 3}, 6)}}, {int_attr("to", 1)});
}

TEST_CASE("grad Where routes the gradient by the condition, with broadcasting") {
  const Tensor cond = Tensor::from_vector<bool>({2, 1, 3}, {true, false, true, false, false, true});
  check_node("Where", {{"c", cond, Role::kConstant}, {"x", random_f32({2, 4, 3}, 1)}, {"y", random_f32({4, 1}, 2)}});
  check_node("Where", {{"c", cond, Role::kConstant}, {"x", random_f32({}, 3)}, {"y", random_f32({2, 4, 3}, 4), Role::kFeed}});
}

}  // namespace ember::grad_test
