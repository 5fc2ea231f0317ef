// Backward rules of MatMul and Gemm against finite differences.
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {

TEST_CASE("grad MatMul: 2-D, batched with broadcast, 1-D operands, shared weight") {
  check_node("MatMul", {{"a", random_f32({3, 4}, 1)}, {"b", random_f32({4, 5}, 2)}});
  // B broadcast along the leading batch axis: its gradient sums over it.
  check_node("MatMul", {{"a", random_f32({2, 3, 4, 5}, 3), Role::kFeed}, {"b", random_f32({3, 5, 2}, 4)}});
  // A broadcast instead.
  check_node("MatMul", {{"a", random_f32({1, 3, 4}, 5)}, {"b", random_f32({2, 1, 4, 3}, 6), Role::kFeed}});
  check_node("MatMul", {{"a", random_f32({4}, 7)}, {"b", random_f32({4, 3}, 8)}});
  check_node("MatMul", {{"a", random_f32({2, 3, 4}, 9)}, {"b", random_f32({4}, 10)}});
  // Both operands batched alike (attention's heads): the batches run in parallel.
  check_node("MatMul", {{"a", random_f32({2, 3, 4, 5}, 17), Role::kFeed}, {"b", random_f32({2, 3, 5, 2}, 18), Role::kFeed}});
  // A 2-D weight shared by every batch (the folded path).
  check_node("MatMul", {{"a", random_f32({2, 3, 4}, 11), Role::kFeed}, {"b", random_f32({4, 5}, 12)}});
}

TEST_CASE("grad MatMul: only the requested operand gets a gradient") {
  check_node("MatMul", {{"a", random_f32({3, 4}, 13), Role::kConstant}, {"b", random_f32({4, 2}, 14)}});
  check_node("MatMul", {{"a", random_f32({3, 4}, 15)}, {"b", random_f32({4, 2}, 16), Role::kConstant}});
}

TEST_CASE("grad Gemm: every transA/transB, alpha, beta and bias shape") {
  const int64_t M = 3, K = 4, N = 5;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (const Shape& c_shape : {Shape{N}, Shape{M, N}, Shape{1, N}, Shape{M, 1}, Shape{}}) {
        INFO("transA ", ta, " transB ", tb, " C ", shape_to_string(c_shape));
        const Shape a_shape = ta ? Shape{K, M} : Shape{M, K};
        const Shape b_shape = tb ? Shape{N, K} : Shape{K, N};
        check_node("Gemm",
                   {{"a", random_f32(a_shape, 20 + uint32_t(ta)), Role::kFeed},
                    {"b", random_f32(b_shape, 30 + uint32_t(tb))},
                    {"c", random_f32(c_shape, 40)}},
                   {int_attr("transA", ta), int_attr("transB", tb), float_attr("alpha", 0.7f), float_attr("beta", 1.3f)});
      }
  // Default attributes: dA goes through the weight packed once and cached per node.
  check_node("Gemm", {{"a", random_f32({M, K}, 52), Role::kFeed}, {"b", random_f32({K, N}, 53)}, {"c", random_f32({N}, 54)}});
  // Without C.
  check_node("Gemm", {{"a", random_f32({M, K}, 50)}, {"b", random_f32({N, K}, 51)}}, {int_attr("transB", 1)});
}

}  // namespace ember::grad_test
