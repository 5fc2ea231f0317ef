#include "ir/verifier.h"

#include <unordered_set>

namespace ember::ir {

Status verify_graph(const Graph& graph, const std::vector<std::string>& outer_scope) {
  std::unordered_set<std::string> defined(outer_scope.begin(), outer_scope.end());
  std::unordered_set<std::string> produced;  // values defined in this graph, for SSA
  auto define = [&](const std::string& name, const std::string& what) -> Status {
    if (name.empty()) return Status::Ok();
    if (!produced.insert(name).second)
      return invalid_input("value '" + name + "' is defined twice (" + what + ")");
    defined.insert(name);
    return Status::Ok();
  };
  for (const auto& in : graph.inputs) EMBER_TRY(define(in.name, "graph input"));
  for (const auto& name : graph.initializer_order)
    if (!produced.count(name)) EMBER_TRY(define(name, "initializer"));
  std::unordered_set<std::string> node_names;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    const std::string where = "node " + std::to_string(i) + " '" + node.name + "' (" + node.op_type + ")";
    if (!node.name.empty() && !node_names.insert(node.name).second)
      return invalid_input("duplicate node name: " + where);
    for (const auto& in : node.inputs)
      if (!in.empty() && !defined.count(in))
        return invalid_input(where + " reads '" + in + "', which is not defined before it");
    for (const auto& attr : node.attributes) {
      std::vector<std::string> scope(defined.begin(), defined.end());
      if (attr.g) EMBER_TRY(verify_graph(*attr.g, scope).with_context(where + " attribute " + attr.name));
      for (const auto& sub : attr.graphs)
        EMBER_TRY(verify_graph(*sub, scope).with_context(where + " attribute " + attr.name));
    }
    for (const auto& out : node.outputs) EMBER_TRY(define(out, where));
  }
  for (const auto& out : graph.outputs)
    if (!defined.count(out.name)) return invalid_input("graph output '" + out.name + "' is never produced");
  return Status::Ok();
}

namespace {

const Node* first_default_domain_node(const Graph& graph) {
  for (const auto& node : graph.nodes) {
    if (node.domain.empty() || node.domain == "ai.onnx") return &node;
    for (const auto& attr : node.attributes) {
      if (attr.g)
        if (const Node* found = first_default_domain_node(*attr.g)) return found;
      for (const auto& sub : attr.graphs)
        if (const Node* found = first_default_domain_node(*sub)) return found;
    }
  }
  return nullptr;
}

}  // namespace

Status verify_opset_imports(const Model& model) {
  std::unordered_set<std::string> domains;
  bool has_default = false;
  for (const auto& import : model.opset_imports) {
    const bool is_default = import.domain.empty() || import.domain == "ai.onnx";
    const std::string name = is_default ? "ai.onnx" : import.domain;
    if (!domains.insert(name).second) return invalid_input("opset domain '" + name + "' is imported twice");
    if (import.version < 1)
      return invalid_input("opset " + std::to_string(import.version) + " of domain '" + name + "' is not a valid version");
    if (is_default && import.version > kNewestOnnxOpset)
      return unsupported("opset " + std::to_string(import.version) + " of the default domain is newer than any ONNX " +
                         "defines (the newest Ember knows is " + std::to_string(kNewestOnnxOpset) + ")");
    has_default = has_default || is_default;
  }
  if (has_default) return Status::Ok();
  // ONNX allows leaving the default domain out only when no node uses it (training-preview
  // models import just ai.onnx.preview.training).
  if (const Node* node = first_default_domain_node(model.graph))
    return invalid_input("the model imports no opset of the default ONNX domain, but node '" + node->name + "' (" +
                         node->op_type + ") is in it");
  return Status::Ok();
}

Status verify_model(const Model& model) {
  return verify_graph(model.graph).with_context("graph '" + model.graph.name + "'");
}

}  // namespace ember::ir
