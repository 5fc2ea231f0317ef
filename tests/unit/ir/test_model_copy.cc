// ir::Model copies are values: editing a copy's If/Loop body (nested too) leaves the original's
// body as it was, and copy assignment behaves like copy construction.
#include <doctest/doctest.h>

#include <memory>

#include "ir/model.h"

namespace ember::model_copy_test {

ir::Graph body_with_node(const std::string& op) {
  ir::Graph body;
  ir::Node n;
  n.op_type = op;
  body.nodes.push_back(n);
  return body;
}

ir::Model model_with_nested_bodies() {
  ir::Graph inner = body_with_node("Relu");
  ir::Graph outer = body_with_node("Loop");
  ir::Attribute inner_attr;
  inner_attr.name = "body";
  inner_attr.kind = ir::AttrKind::kGraph;
  inner_attr.g = std::make_shared<ir::Graph>(inner);
  outer.nodes[0].attributes.push_back(inner_attr);
  ir::Model m;
  ir::Node if_node;
  if_node.op_type = "If";
  ir::Attribute branches;
  branches.name = "branches";
  branches.kind = ir::AttrKind::kGraphs;
  branches.graphs = {std::make_shared<ir::Graph>(outer), std::make_shared<ir::Graph>(body_with_node("Neg"))};
  if_node.attributes.push_back(branches);
  m.graph.nodes.push_back(if_node);
  return m;
}

ir::Graph& inner_body(ir::Model& m) { return *m.graph.nodes[0].attributes[0].graphs[0]->nodes[0].attributes[0].g; }

TEST_CASE("model copy: subgraph bodies are deep copies, at every depth") {
  ir::Model original = model_with_nested_bodies();
  ir::Model copy = original;
  inner_body(copy).nodes[0].op_type = "Sigmoid";
  copy.graph.nodes[0].attributes[0].graphs[1]->nodes[0].op_type = "Abs";
  CHECK(inner_body(original).nodes[0].op_type == "Relu");
  CHECK(original.graph.nodes[0].attributes[0].graphs[1]->nodes[0].op_type == "Neg");
  CHECK(inner_body(copy).nodes[0].op_type == "Sigmoid");

  ir::Model assigned;
  assigned = original;
  inner_body(assigned).nodes[0].op_type = "Tanh";
  CHECK(inner_body(original).nodes[0].op_type == "Relu");

  ir::Model moved = std::move(assigned);  // a move keeps the (now owned) bodies
  CHECK(inner_body(moved).nodes[0].op_type == "Tanh");
}

}  // namespace ember::model_copy_test
