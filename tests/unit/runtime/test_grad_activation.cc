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
  check_node("Gelu", {{"x", random_f32({3, 4}, 6, 3.0f)}}, {}, 20);
  check_node("Gelu", {{"x", random_f32({3, 4}, 7, 3.0f)}}, {ir::string_attribute("approximate", "tanh")}, 20);
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

namespace ember::grad_test {
namespace {

// GPT-2's tanh GELU as eight ops: y = 0.5 x (1 + tanh(0.79788 (x + 0.044715 x^3))), x = a w.
// `extra_reader` gives the tanh value a second consumer, which must keep the chain unfused.
ir::Model gelu_chain_model(bool extra_reader, std::vector<TestInput>& inputs) {
  inputs = {{"a", random_f32({4, 3}, 1), Role::kFeed},
            {"w", random_f32({3, 6}, 2)},
            {"half", Tensor::scalar<float>(0.5f), Role::kConstant},
            {"three", Tensor::scalar<float>(3.0f), Role::kConstant},
            {"k", Tensor::scalar<float>(0.044715f), Role::kConstant},
            {"c", Tensor::scalar<float>(0.7978846f), Role::kConstant},
            {"one", Tensor::scalar<float>(1.0f), Role::kConstant}};
  std::vector<ir::Node> nodes = {make_node("MatMul", {"a", "w"}, {"x"}),   make_node("Mul", {"x", "half"}, {"h"}),
                                 make_node("Pow", {"x", "three"}, {"p"}),  make_node("Mul", {"p", "k"}, {"q"}),
                                 make_node("Add", {"x", "q"}, {"r"}),      make_node("Mul", {"r", "c"}, {"s"}),
                                 make_node("Tanh", {"s"}, {"t"}),          make_node("Add", {"t", "one"}, {"u"}),
                                 make_node("Mul", {"h", "u"}, {"y"})};
  std::vector<std::string> outputs = {"y"};
  if (extra_reader) {
    nodes.push_back(make_node("Mul", {"t", "t"}, {"t2"}));
    outputs.push_back("t2");
  }
  return make_graph_model(std::move(nodes), inputs, outputs);
}

}  // namespace

TEST_CASE("grad tanh GELU chain: one fused rule, checked against finite differences") {
  for (bool extra_reader : {false, true}) {
    INFO("tanh read elsewhere too: ", extra_reader);
    std::vector<TestInput> inputs;
    const ir::Model model = gelu_chain_model(extra_reader, inputs);
    check_model_gradients(model, inputs);
    runtime::grad::GradientOptions go;
    go.parameters = {"w"};
    go.activations = {"a"};
    auto bi = runtime::grad::BackwardInterpreter::create(model, go);
    REQUIRE(bi.ok());
    // Fused (the forward runs one Gelu, with its own rule): MatMul and the Gelu; unfused: all ten nodes.
    CHECK((*bi)->path_nodes() == (extra_reader ? 10 : 2));
  }
}

}  // namespace ember::grad_test
