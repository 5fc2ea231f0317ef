// Backward rules of GatherElements, GatherND, Compress, TopK and the Scatter ops against
// finite differences; repeated indices check that reads add up and that overwritten writes
// get no gradient.
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {

namespace {
Tensor ints(Shape shape, std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(std::move(shape), v); }
Tensor bools(std::vector<uint8_t> v) {
  Tensor t = Tensor::zeros(DType::kBool, {static_cast<int64_t>(v.size())});
  std::copy(v.begin(), v.end(), t.mutable_data<uint8_t>());
  return t;
}
}  // namespace

TEST_CASE("grad GatherElements and GatherND (repeated indices add up)") {
  check_node("GatherElements", {{"x", random_f32({3, 4}, 1)}, {"i", ints({2, 4}, {0, 2, 2, -1, 1, 1, 0, 2}), Role::kConstant}},
             {int_attr("axis", 0)}, 13);
  check_node("GatherElements", {{"x", random_f32({3, 4}, 2)}, {"i", ints({3, 2}, {3, 3, 0, 1, 2, 0}), Role::kConstant}},
             {int_attr("axis", 1)}, 13);
  check_node("GatherND", {{"x", random_f32({3, 4, 2}, 3)}, {"i", ints({3, 2}, {0, 1, 2, 3, 0, 1}), Role::kConstant}}, {}, 13);
  check_node("GatherND", {{"x", random_f32({2, 3, 4}, 4)}, {"i", ints({2, 2, 1}, {1, 2, 0, 0}), Role::kConstant}},
             {int_attr("batch_dims", 1)}, 13);
}

TEST_CASE("grad Compress with and without an axis, and TopK") {
  const Tensor cond = bools({1, 0, 1});
  check_node("Compress", {{"x", random_f32({3, 4}, 1)}, {"c", cond, Role::kConstant}}, {int_attr("axis", 0)}, 11);
  check_node("Compress", {{"x", random_f32({2, 3}, 2)}, {"c", cond, Role::kConstant}}, {int_attr("axis", -1)}, 11);
  check_node("Compress", {{"x", random_f32({2, 2}, 3)}, {"c", cond, Role::kConstant}}, {}, 11);
  check_node("TopK", {{"x", distinct_f32({3, 5}, 4)}, {"k", ints({1}, {2}), Role::kConstant}}, {}, 11, 2);
  check_node("TopK", {{"x", distinct_f32({4, 3, 2}, 5)}, {"k", ints({1}, {3}), Role::kConstant}},
             {int_attr("axis", 0), int_attr("largest", 0)}, 11, 2);
}

TEST_CASE("grad ScatterElements, Scatter and ScatterND: data and updates, overwrite and add") {
  // Index 1 of row 0 is written twice: only the second write reaches the output.
  const Tensor i = ints({2, 2}, {1, 1, 0, 2});
  check_node("ScatterElements", {{"x", random_f32({3, 3}, 1)}, {"i", i, Role::kConstant}, {"u", random_f32({2, 2}, 2)}},
             {int_attr("axis", 1)}, 13);
  check_node("ScatterElements", {{"x", random_f32({3, 3}, 3)}, {"i", i, Role::kConstant}, {"u", random_f32({2, 2}, 4)}},
             {int_attr("axis", 1), test::string_attr("reduction", "add")}, 16);
  check_node("Scatter", {{"x", random_f32({3, 3}, 5)}, {"i", i, Role::kConstant}, {"u", random_f32({2, 2}, 6)}}, {}, 9);
  const Tensor nd = ints({3, 1}, {2, 0, 2});
  check_node("ScatterND", {{"x", random_f32({4, 2}, 7)}, {"i", nd, Role::kConstant}, {"u", random_f32({3, 2}, 8)}}, {}, 13);
  check_node("ScatterND", {{"x", random_f32({4, 2}, 9)}, {"i", nd, Role::kConstant}, {"u", random_f32({3, 2}, 10)}},
             {test::string_attr("reduction", "add")}, 16);
}

TEST_CASE("grad MaxUnpool, with a repeated index and an output_shape") {
  // X [1, 1, 2, 2] unpooled by a 2x2 window, stride 2, into [1, 1, 4, 4]; index 5 is written twice.
  const Tensor idx = ints({1, 1, 2, 2}, {0, 5, 5, 15});
  check_node("MaxUnpool", {{"x", random_f32({1, 1, 2, 2}, 1)}, {"i", idx, Role::kConstant}},
             {ints_attr("kernel_shape", {2, 2}), ints_attr("strides", {2, 2})}, 11);
  check_node("MaxUnpool",
             {{"x", random_f32({1, 1, 2, 2}, 2)}, {"i", ints({1, 1, 2, 2}, {1, 6, 8, 14}), Role::kConstant},
              {"shape", ints({4}, {1, 1, 5, 5}), Role::kConstant}},
             {ints_attr("kernel_shape", {2, 2}), ints_attr("strides", {2, 2})}, 11);
}

TEST_CASE("grad ScatterND with reduction mul is a cut naming the weights it cuts off") {
  const ir::Model m = make_graph_model(
      {make_node("ScatterND", {"x", "i", "u"}, {"y"}, {test::string_attr("reduction", "mul")}), make_node("Mul", {"x", "v"}, {"z"})},
      {{"x", random_f32({4, 2}, 1), Role::kFeed}, {"i", ints({1, 1}, {2}), Role::kConstant}, {"u", random_f32({1, 2}, 2)},
       {"v", random_f32({4, 2}, 3)}},
      {"y", "z"}, 16);
  auto bi = runtime::grad::BackwardInterpreter::create(m);
  REQUIRE_MESSAGE(bi.ok(), bi.status().message());
  REQUIRE((*bi)->cuts().size() == 1);
  CHECK((*bi)->cuts()[0].op_type == "ScatterND");
  CHECK((*bi)->cuts()[0].sources_cut_off == std::vector<std::string>{"u"});
}

}  // namespace ember::grad_test
