// The newly covered ops together in small models, as exporters chain them: every weight's
// gradient through the whole graph against finite differences (saved values and rule needs
// interact across nodes here, not only within one node).
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {

TEST_CASE("grad a vision block: Pad(reflect) Conv InstanceNormalization PRelu LpPool, then GlobalMaxPool Einsum Elu") {
  const std::vector<TestInput> inputs = {
      {"x", random_f32({1, 2, 5, 5}, 1), Role::kFeed},
      {"pads", Tensor::from_vector<int64_t>({8}, {0, 0, 1, 1, 0, 0, 1, 1}), Role::kConstant},
      {"w", random_f32({3, 2, 3, 3}, 2, 0.4f)},
      {"scale", random_f32({3}, 3, 0.3f, 1.0f)},
      {"bias", random_f32({3}, 4, 0.2f)},
      {"slope", random_f32({3, 1, 1}, 5, 0.1f, 0.25f)},
      {"head", random_f32({3, 4}, 6, 0.5f)}};
  const ir::Model m = make_graph_model(
      {make_node("Pad", {"x", "pads"}, {"p"}, {test::string_attr("mode", "reflect")}),
       make_node("Conv", {"p", "w"}, {"c"}),
       make_node("InstanceNormalization", {"c", "scale", "bias"}, {"n"}),
       make_node("PRelu", {"n", "slope"}, {"a"}),
       make_node("LpPool", {"a"}, {"l"}, {ints_attr("kernel_shape", {2, 2}), ints_attr("strides", {1, 1})}),
       make_node("GlobalMaxPool", {"l"}, {"g"}),
       make_node("Einsum", {"g", "head"}, {"e"}, {test::string_attr("equation", "bcij,ck->bk")}),
       make_node("Elu", {"e"}, {"y"})},
      inputs, {"y"}, 18);
  check_model_gradients(m, inputs);
}

TEST_CASE("grad a sequence block: GRU then ReduceLogSumExp, Softplus and a TopK of the scores") {
  const int64_t H = 3;
  const std::vector<TestInput> inputs = {
      {"x", random_f32({4, 1, 2}, 1), Role::kFeed},
      {"W", random_f32({1, 3 * H, 2}, 2, 0.5f)},
      {"R", random_f32({1, 3 * H, H}, 3, 0.5f)},
      {"B", random_f32({1, 6 * H}, 4, 0.3f)},
      {"k", Tensor::from_vector<int64_t>({1}, {2}), Role::kConstant}};
  const ir::Model m = make_graph_model(
      {make_node("GRU", {"x", "W", "R", "B"}, {"Y", "Yh"}, {int_attr("hidden_size", H), int_attr("linear_before_reset", 1)}),
       make_node("ReduceLogSumExp", {"Y"}, {"s"}, {ints_attr("axes", {0}), int_attr("keepdims", 0)}),
       make_node("Softplus", {"s"}, {"t"}),
       make_node("TopK", {"t", "k"}, {"v", "i"}, {int_attr("axis", -1)})},
      inputs, {"v"}, 13);
  // The GRU kernel is float32 only: the float32 model is the reference, with a step and a
  // tolerance that bound float32 rounding and the truncation error of this smooth chain.
  CheckOptions options;
  options.step = 1e-2;
  options.tolerance = 1e-2;
  check_float32_model(m, inputs, options);
}

}  // namespace ember::grad_test
