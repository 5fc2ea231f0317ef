// Backward rules of the activation family against finite differences.
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {

TEST_CASE("grad pointwise activations") {
  // Distinct values keep Relu and LeakyRelu away from their kink at 0.
  check_node("Relu", {{"x", distinct_f32({3, 4}, 1, 0.1f)}});
  check_node("LeakyRelu", {{"x", distinct_f32({3, 4}, 2, 0.1f)}}, {float_attr("alpha", 0.2f)});
  check_node("Tanh", {{"x", random_f32({3, 4}, 3)}});
  check_node("Sigmoid", {{"x", random_f32({3, 4}, 4, 2.0f)}});
  check_node("Erf", {{"x", random_f32({3, 4}, 5)}});
}

TEST_CASE("grad Softmax and LogSoftmax over one axis (opset 13) and flattened (opset 11)") {
  for (const char* op : {"Softmax", "LogSoftmax"}) {
    INFO(op);
    check_node(op, {{"x", random_f32({2, 3, 4}, 1), Role::kFeed}}, {}, 13);
    check_node(op, {{"x", random_f32({2, 3, 4}, 2)}}, {int_attr("axis", 1)}, 13);
    check_node(op, {{"x", random_f32({2, 3, 4}, 3)}}, {int_attr("axis", 0)}, 13);
    check_node(op, {{"x", random_f32({2, 3, 4}, 4)}}, {int_attr("axis", 1)}, 11);
    check_node(op, {{"x", random_f32({2, 3, 4}, 5)}}, {}, 11);
  }
}

}  // namespace ember::grad_test
