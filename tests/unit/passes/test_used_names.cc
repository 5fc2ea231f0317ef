// UsedNames (passes/graph_edit.h) kept across edits gives exactly unique_name's names.
#include <doctest/doctest.h>

#include "passes/graph_edit.h"

namespace ember::used_names_test {
namespace {

ir::Node node(std::string op, std::vector<std::string> inputs, std::vector<std::string> outputs) {
  ir::Node n;
  n.op_type = std::move(op);
  n.name = n.op_type;
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  return n;
}

ir::ValueInfo value(std::string name) {
  ir::ValueInfo v;
  v.name = std::move(name);
  return v;
}

// x -> MatMul(w) -> y -> If (body reads w_scale from the outer scope, outputs w_quantized_1) -> z
ir::Graph colliding_graph() {
  ir::Graph g;
  g.inputs.push_back(value("x"));
  g.outputs.push_back(value("z"));
  g.set_initializer("w", Tensor::zeros(DType::kF32, {2, 2}));
  g.set_initializer("w_quantized", Tensor::zeros(DType::kF32, {1}));
  g.nodes.push_back(node("MatMul", {"x", "w"}, {"y"}));
  auto body = std::make_shared<ir::Graph>();
  body->nodes.push_back(node("Identity", {"w_scale"}, {"w_quantized_1"}));
  body->outputs.push_back(value("w_quantized_1"));
  ir::Node branch = node("If", {"y"}, {"z"});
  ir::Attribute a;
  a.name = "then_branch";
  a.kind = ir::AttrKind::kGraph;
  a.g = body;
  branch.attributes.push_back(std::move(a));
  g.nodes.push_back(std::move(branch));
  return g;
}

void check_same(const ir::Graph& g, const passes::UsedNames& used) {
  for (const char* base : {"w", "w_quantized", "w_quantized_1", "w_scale", "w_dequantized", "x", "y", "z", "fresh"})
    CHECK(used.unique(base) == passes::unique_name(g, base));
}

}  // namespace

TEST_CASE("UsedNames: same names as unique_name, before and after counted edits") {
  ir::Graph g = colliding_graph();
  passes::UsedNames used(g);
  check_same(g, used);
  CHECK(used.unique("w_quantized") == "w_quantized_2");
  CHECK(used.unique("w_scale") == "w_scale_1");  // read inside the body
  // What an emitter does: new initializers, reads redirected, the weight dropped.
  g.set_initializer("w_dequantized", Tensor::zeros(DType::kF32, {1}));
  used.add("w_dequantized");
  const size_t n = passes::replace_uses(g, "w", "w_dequantized");
  CHECK(n == 1);
  used.remove("w", n);
  used.add("w_dequantized", n);
  g.remove_initializer("w");
  used.remove("w");
  check_same(g, used);
  CHECK(used.unique("w") == "w");  // no longer used anywhere
  // A name still used elsewhere stays taken after one of its uses goes.
  g.remove_initializer("w_quantized");
  used.remove("w_quantized");
  check_same(g, used);
}

}  // namespace ember::used_names_test
