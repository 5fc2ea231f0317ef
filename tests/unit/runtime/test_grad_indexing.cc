// Backward rule of Gather (embeddings): a scatter-add of the output gradient.
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {

TEST_CASE("grad Gather: repeated and negative indices add up, any axis") {
  const Tensor ids = Tensor::from_vector<int64_t>({2, 3}, {0, 4, 2, 4, -1, 0});
  check_node("Gather", {{"table", random_f32({5, 3}, 1)}, {"ids", ids, Role::kConstant}});
  check_node("Gather", {{"x", random_f32({2, 5, 2}, 2)}, {"ids", Tensor::from_vector<int64_t>({2}, {3, 3}), Role::kConstant}},
             {int_attr("axis", 1)});
  // A scalar index (BERT's pooler takes token 0): the axis disappears.
  check_node("Gather", {{"x", random_f32({2, 4, 3}, 3), Role::kFeed}, {"i", Tensor::scalar<int64_t>(0), Role::kConstant}},
             {int_attr("axis", 1)});
}

}  // namespace ember::grad_test
