// Backward rules of NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss against finite
// differences: every reduction, class weights, ignore_index, extra dims, log_prob output.
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {

TEST_CASE("grad NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss") {
  const Tensor labels = Tensor::from_vector<int64_t>({3}, {2, 0, 1});
  const Tensor labels_2d = Tensor::from_vector<int64_t>({2, 2}, {1, 3, 0, 3});
  const Tensor weight = Tensor::from_vector<float>({4}, {0.5f, 1.5f, 1.0f, 2.0f});
  for (const char* op : {"NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"})
    for (const char* reduction : {"none", "sum", "mean"}) {
      INFO(op, " reduction ", reduction);
      const ir::Attribute r = test::string_attr("reduction", reduction);
      check_node(op, {{"x", random_f32({3, 4}, 1)}, {"t", labels, Role::kConstant}}, {r}, 13);
      check_node(op, {{"x", random_f32({3, 4}, 2)}, {"t", labels, Role::kConstant}, {"w", weight, Role::kConstant}}, {r}, 13);
      // [N, C, D] scores, position targets, one ignored class.
      check_node(op, {{"x", random_f32({2, 4, 2}, 3)}, {"t", labels_2d, Role::kConstant}, {"w", weight, Role::kConstant}},
                 {r, int_attr("ignore_index", 3)}, 13);
    }
  // SoftmaxCrossEntropyLoss's log_prob output carries a gradient too.
  check_node("SoftmaxCrossEntropyLoss", {{"x", random_f32({3, 4}, 4)}, {"t", labels, Role::kConstant}}, {}, 13, 2);
}

}  // namespace ember::grad_test
