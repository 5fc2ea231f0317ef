// The Einsum backward rule against finite differences: matrix products, attention-style
// batched contractions, an implicit equation, "...", a diagonal and three operands.
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {

namespace {
void check_einsum(const std::string& equation, std::vector<TestInput> inputs) {
  INFO(equation);
  check_node("Einsum", inputs, {test::string_attr("equation", equation)}, 12);
}
}  // namespace

TEST_CASE("grad Einsum") {
  check_einsum("ij,jk->ik", {{"a", random_f32({2, 3}, 1), Role::kFeed}, {"b", random_f32({3, 4}, 2)}});
  check_einsum("bhqd,bhkd->bhqk", {{"q", random_f32({1, 2, 3, 4}, 3), Role::kFeed}, {"k", random_f32({1, 2, 2, 4}, 4)}});
  check_einsum("ij,kj", {{"a", random_f32({2, 3}, 5)}, {"b", random_f32({4, 3}, 6)}});  // implicit: -> ik
  check_einsum("...ij,jk->...ik", {{"a", random_f32({2, 2, 3}, 7), Role::kFeed}, {"b", random_f32({3, 2}, 8)}});
  check_einsum("ii->i", {{"a", random_f32({3, 3}, 9)}});
  check_einsum("ij->", {{"a", random_f32({2, 3}, 10)}});
  check_einsum("i,ij,j->", {{"u", random_f32({2}, 11)}, {"m", random_f32({2, 3}, 12)}, {"v", random_f32({3}, 13)}});
}

}  // namespace ember::grad_test
