// Gradients through If: the taken branch is differentiated with respect to the outer values it
// reads (weights read only inside a branch included), checked against finite differences for
// both branches; the branch not taken gives no gradient; a branch with an op without a rule
// makes the If a cut naming the weights it cuts off (Loop and Scan: test_grad_loop_scan.cc).
#include <algorithm>
#include <memory>

#include "tests/unit/runtime/grad_test_util.h"

namespace ember::grad_test {
namespace {

namespace rg = runtime::grad;

// The condition is a graph input: a constant one would be folded, the If replaced by its branch.
// y = Relu(x W0) then If(c): then Tanh(h W1), else Sigmoid(h W2) + h W1 with h the outer value.
ir::Model if_model(const std::vector<TestInput>& inputs) {
  ir::Node choose = make_node("If", {"c"}, {"b"});
  choose.attributes.push_back(graph_attr(
      "then_branch", {make_node("MatMul", {"h", "w1"}, {"t1"}), make_node("Tanh", {"t1"}, {"t"})}, "t"));
  choose.attributes.push_back(graph_attr("else_branch",
                                         {make_node("MatMul", {"h", "w2"}, {"e1"}), make_node("Sigmoid", {"e1"}, {"e2"}),
                                          make_node("MatMul", {"h", "w1"}, {"e3"}), make_node("Add", {"e2", "e3"}, {"e"})},
                                         "e"));
  return make_graph_model({make_node("MatMul", {"x", "w0"}, {"a"}), make_node("Relu", {"a"}, {"h"}), choose,
                           make_node("Mul", {"b", "b"}, {"y"})},
                          inputs, {"y"});
}

std::vector<TestInput> if_inputs(bool taken) {
  return {{"x", random_f32({3, 4}, 1), Role::kFeed}, {"w0", random_f32({4, 5}, 2)}, {"w1", random_f32({5, 2}, 3)},
          {"w2", random_f32({5, 2}, 4)}, {"c", boolean(taken), Role::kFeed}};
}

}  // namespace

TEST_CASE("grad If: the taken branch's gradient reaches outer activations and weights read only inside it") {
  for (bool taken : {true, false}) {
    INFO("condition ", taken);
    const auto inputs = if_inputs(taken);
    check_model_gradients(if_model(inputs), inputs);  // w2 is checked to be zero when the then branch runs
  }
}

TEST_CASE("grad If: weights read only by the branches are reached, and the If is not a cut") {
  const auto inputs = if_inputs(true);
  auto bi = rg::BackwardInterpreter::create(if_model(inputs));
  REQUIRE_MESSAGE(bi.ok(), bi.status().message());
  CHECK((*bi)->cuts().empty());
  CHECK((*bi)->reached().count("w1") == 1);
  CHECK((*bi)->reached().count("w2") == 1);
  CHECK((*bi)->reached().count("w0") == 1);
}

TEST_CASE("grad If: a branch with an op without a backward rule makes the If a cut naming what it cuts off") {
  ir::Node choose = make_node("If", {"c"}, {"b"});
  // ScatterElements with reduction max has no backward rule (the rule covers none and add).
  choose.attributes.push_back(graph_attr(
      "then_branch",
      {make_node("MatMul", {"x", "w1"}, {"t1"}),
       make_node("ScatterElements", {"t1", "index", "update"}, {"t"}, {test::string_attr("reduction", "max")})},
      "t"));
  choose.attributes.push_back(graph_attr("else_branch", {make_node("MatMul", {"x", "w1"}, {"e"})}, "e"));
  ir::Model m = make_graph_model({make_node("MatMul", {"x", "w0"}, {"a"}), choose, make_node("Add", {"a", "b"}, {"y"})},
                                 {{"x", random_f32({2, 3}, 1), Role::kFeed}, {"w0", random_f32({3, 3}, 2)},
                                  {"w1", random_f32({3, 3}, 3)}, {"c", boolean(true), Role::kFeed},
                                  {"index", Tensor::from_vector<int64_t>({1, 1}, {0}), Role::kConstant},
                                  {"update", Tensor::from_vector<float>({1, 1}, {0.5f}), Role::kConstant}},
                                 {"y"});
  auto bi = rg::BackwardInterpreter::create(m);
  REQUIRE_MESSAGE(bi.ok(), bi.status().message());  // w0 is still reached through the Add
  REQUIRE((*bi)->cuts().size() == 1);
  CHECK((*bi)->cuts()[0].op_type == "If");
  CHECK((*bi)->cuts()[0].sources_cut_off == std::vector<std::string>{"w1"});
}


TEST_CASE("grad If: a weight kept as a Constant inside a branch is differentiated like one read from outside") {
  const Tensor w = random_f32({3, 2}, 8), x = random_f32({2, 3}, 9), dy = random_f32({2, 2}, 10);
  ir::Node constant = make_node("Constant", {}, {"w_in_branch"});
  ir::Attribute value;
  value.name = "value";
  value.kind = ir::AttrKind::kTensor;
  value.t = w;
  constant.attributes.push_back(value);
  auto model_with = [&](std::vector<ir::Node> then_nodes, const std::string& weight_name, bool weight_outside) {
    ir::Node choose = make_node("If", {"c"}, {"y"});
    then_nodes.push_back(make_node("MatMul", {"x", weight_name}, {"t"}));
    choose.attributes.push_back(graph_attr("then_branch", then_nodes, "t"));
    choose.attributes.push_back(graph_attr("else_branch", {make_node("MatMul", {"x", "x_t"}, {"e"})}, "e"));
    std::vector<TestInput> inputs = {{"x", x, Role::kFeed}, {"c", boolean(true), Role::kFeed}, {"x_t", random_f32({3, 2}, 11), Role::kConstant}};
    if (weight_outside) inputs.push_back({weight_name, w});
    return make_graph_model({choose}, inputs, {"y"});
  };
  std::vector<Tensor> grads;
  for (const ir::Model& m : {model_with({constant}, "w_in_branch", false), model_with({}, "w_in_branch", true)}) {
    auto bi = rg::BackwardInterpreter::create(m);
    REQUIRE_MESSAGE(bi.ok(), bi.status().message());
    CHECK(std::find((*bi)->parameters().begin(), (*bi)->parameters().end(), "w_in_branch") != (*bi)->parameters().end());
    REQUIRE((*bi)->forward({{"x", x}, {"c", boolean(true)}}).ok());
    Tensor g;
    REQUIRE((*bi)->backward({{"y", dy}}, [&](const std::string& name, const Tensor& t) {
                  if (name == "w_in_branch") g = t.clone();
                  return Status::Ok();
                }).ok());
    REQUIRE(g.defined());
    grads.push_back(g);
  }
  CHECK(grads[0].same_content(grads[1]));
}

}  // namespace ember::grad_test
