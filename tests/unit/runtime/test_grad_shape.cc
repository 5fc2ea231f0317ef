// Backward rules of the shape family (ops that only move elements).
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {

namespace {
Tensor ints(std::vector<int64_t> v) { return test::i64s(std::move(v)); }
}  // namespace

TEST_CASE("grad view ops: Identity, Reshape, Flatten, Squeeze, Unsqueeze") {
  check_node("Identity", {{"x", random_f32({2, 3}, 1)}});
  check_node("Reshape", {{"x", random_f32({2, 3, 4}, 2)}, {"s", ints({4, -1}), Role::kConstant}});
  check_node("Flatten", {{"x", random_f32({2, 3, 4}, 3)}}, {int_attr("axis", 2)});
  check_node("Squeeze", {{"x", random_f32({2, 1, 3}, 4)}, {"a", ints({1}), Role::kConstant}}, {}, 13);
  check_node("Unsqueeze", {{"x", random_f32({2, 3}, 5)}, {"a", ints({0, 3}), Role::kConstant}}, {}, 13);
}

TEST_CASE("grad Transpose with explicit and default permutations") {
  check_node("Transpose", {{"x", random_f32({2, 3, 4}, 1)}}, {ints_attr("perm", {2, 0, 1})});
  check_node("Transpose", {{"x", random_f32({2, 3, 4, 5}, 2)}}, {ints_attr("perm", {0, 2, 3, 1})});
  check_node("Transpose", {{"x", random_f32({3, 4}, 3)}});
}

TEST_CASE("grad Split and Concat") {
  check_node("Split", {{"x", random_f32({2, 6, 3}, 1)}}, {int_attr("axis", 1), int_attr("num_outputs", 3)}, 18, 3);
  check_node("Split", {{"x", random_f32({2, 7}, 2)}, {"s", ints({2, 5}), Role::kConstant}}, {int_attr("axis", -1)}, 13, 2);
  check_node("Concat",
             {{"a", random_f32({2, 1, 3}, 3)}, {"b", random_f32({2, 4, 3}, 4), Role::kFeed}, {"c", random_f32({2, 2, 3}, 5)}},
             {int_attr("axis", 1)});
  // A constant piece in the middle gets no gradient; the others still line up.
  check_node("Concat",
             {{"a", random_f32({3, 2}, 6)}, {"b", random_f32({3, 1}, 7), Role::kConstant}, {"c", random_f32({3, 2}, 8)}},
             {int_attr("axis", -1)});
}

TEST_CASE("grad Slice: steps, negative indices, clamping, attribute form") {
  check_node("Slice", {{"x", random_f32({4, 6}, 1)}, {"st", ints({1, -5}), Role::kConstant}, {"en", ints({3, 100}), Role::kConstant},
                       {"ax", ints({0, 1}), Role::kConstant}, {"sp", ints({1, 2}), Role::kConstant}});
  check_node("Slice", {{"x", random_f32({5, 3}, 2)}, {"st", ints({-1}), Role::kConstant}, {"en", ints({-100}), Role::kConstant},
                       {"ax", ints({0}), Role::kConstant}, {"sp", ints({-2}), Role::kConstant}});
  check_node("Slice", {{"x", random_f32({4, 5}, 3)}}, {ints_attr("starts", {1}), ints_attr("ends", {4}), ints_attr("axes", {1})}, 9);
}

TEST_CASE("grad Expand sums over the broadcast axes") {
  check_node("Expand", {{"x", random_f32({3, 1}, 1)}, {"s", ints({2, 3, 4}), Role::kConstant}});
  check_node("Expand", {{"x", random_f32({1, 4}, 2)}, {"s", ints({3, 1}), Role::kConstant}});
}

}  // namespace ember::grad_test
