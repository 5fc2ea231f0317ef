#include "passes/cleanup/remove_identity.h"

#include "passes/graph_edit.h"

namespace ember::passes {
namespace {

ir::Node* producer_of(ir::Graph& graph, const std::string& value) {
  for (auto& node : graph.nodes)
    for (const auto& out : node.outputs)
      if (out == value) return &node;
  return nullptr;
}

}  // namespace

Status RemoveIdentity::run(ir::Model& model, PassContext& ctx) {
  ir::Graph& graph = model.graph;
  const std::set<std::string> outputs = graph_output_names(graph);
  size_t removed = 0;
  for (size_t i = 0; i < graph.nodes.size();) {
    const ir::Node node = graph.nodes[i];
    if (node.op_type != "Identity" || !node.domain.empty() || node.inputs.size() != 1 || node.outputs.size() != 1) {
      ++i;
      continue;
    }
    const std::string& x = node.inputs[0];
    const std::string& y = node.outputs[0];
    if (!outputs.count(y)) {
      replace_uses(graph, y, x);
    } else {
      ir::Node* producer = producer_of(graph, x);
      if (!producer || outputs.count(x)) {
        ++i;
        continue;
      }
      for (auto& out : producer->outputs)
        if (out == x) out = y;
      replace_uses(graph, x, y);
      for (auto& vi : graph.value_info)
        if (vi.name == x) vi.name = y;
    }
    graph.nodes.erase(graph.nodes.begin() + static_cast<std::ptrdiff_t>(i));
    std::erase_if(graph.value_info, [&](const ir::ValueInfo& v) { return v.name == y && !outputs.count(y); });
    ++removed;
  }
  ctx.remarks.count(name(), "identities-removed", static_cast<double>(removed));
  return Status::Ok();
}

}  // namespace ember::passes
