// Backward rules of the Reduce* ops (other than ReduceMean/ReduceSum) against finite
// differences, with the axes as attribute (opset 13) and as input (opset 18).
#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {

namespace {
Tensor axes(std::vector<int64_t> v) { return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v); }
}  // namespace

TEST_CASE("grad smooth reductions: L1, L2, SumSquare, LogSum, LogSumExp, Prod") {
  for (const char* op : {"ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp", "ReduceProd"}) {
    INFO(op);
    check_node(op, {{"x", distinct_f32({2, 3, 4}, 1, 0.1f)}}, {ints_attr("axes", {1}), int_attr("keepdims", 0)}, 13);
    check_node(op, {{"x", distinct_f32({2, 3, 4}, 2, 0.1f)}}, {}, 13);  // every axis
    check_node(op, {{"x", distinct_f32({2, 3, 4}, 3, 0.1f)}, {"axes", axes({0, -1}), Role::kConstant}}, {}, 18);
  }
  // LogSum needs a positive sum.
  check_node("ReduceLogSum", {{"x", random_f32({2, 3, 4}, 4, 0.3f, 1.0f)}}, {ints_attr("axes", {2})}, 13);
  check_node("ReduceLogSum", {{"x", random_f32({2, 3, 4}, 5, 0.3f, 1.0f)}, {"axes", axes({1}), Role::kConstant}},
             {int_attr("keepdims", 0)}, 18);
}

TEST_CASE("grad ReduceProd with zeros: one zero in a group, two zeros in another") {
  // Rows reduced over axis 1: [0, a, b] gets a b at the zero; [0, 0, c] gets nothing.
  // Central differences at x = 0 are exact here (the product is linear in each element).
  check_node("ReduceProd", {{"x", Tensor::from_vector<float>({3, 3}, {0.0f, 1.5f, -0.7f, 0.0f, 0.0f, 2.0f, 0.9f, 1.1f, -1.3f})}},
             {ints_attr("axes", {1})}, 13);
}

TEST_CASE("grad ReduceMax and ReduceMin, and a noop reduction") {
  for (const char* op : {"ReduceMax", "ReduceMin"}) {
    INFO(op);
    check_node(op, {{"x", distinct_f32({2, 3, 4}, 6, 0.1f)}}, {ints_attr("axes", {1})}, 13);
    check_node(op, {{"x", distinct_f32({2, 3, 4}, 7, 0.1f)}, {"axes", axes({0, 2}), Role::kConstant}}, {int_attr("keepdims", 0)}, 18);
  }
  check_node("ReduceL2", {{"x", random_f32({2, 3}, 8)}, {"axes", axes({}), Role::kConstant}}, {int_attr("noop_with_empty_axes", 1)}, 18);
}

TEST_CASE("grad ReduceMax with a tie shares the gradient evenly") {
  const ir::Model m = make_graph_model({make_node("ReduceMax", {"x"}, {"y"}, {int_attr("keepdims", 0)})},
                                       {{"x", Tensor::from_vector<float>({4}, {1.0f, 3.0f, 3.0f, 2.0f})}}, {"y"}, 13);
  runtime::grad::GradientOptions go;
  go.parameters = {"x"};
  auto bi = runtime::grad::BackwardInterpreter::create(m, go);
  REQUIRE(bi.ok());
  REQUIRE((*bi)->forward({}).ok());
  std::vector<float> g;
  REQUIRE((*bi)->backward({{"y", Tensor::scalar<float>(2.0f)}}, [&](const std::string&, const Tensor& t) {
                 g.assign(t.data<float>(), t.data<float>() + t.numel());
                 return Status::Ok();
               }).ok());
  CHECK(g == std::vector<float>{0.0f, 1.0f, 1.0f, 0.0f});
}

}  // namespace ember::grad_test
