#include "passes/cleanup/dce.h"

#include <set>

#include "passes/graph_edit.h"

namespace ember::passes {

Status DeadCodeElimination::run(ir::Model& model, PassContext& ctx) {
  ir::Graph& graph = model.graph;
  std::set<std::string> live = graph_output_names(graph);
  std::vector<bool> keep(graph.nodes.size(), false);
  for (size_t i = graph.nodes.size(); i-- > 0;) {
    const ir::Node& node = graph.nodes[i];
    bool needed = false;
    for (const auto& out : node.outputs) needed |= live.count(out) > 0;
    if (!needed) continue;
    keep[i] = true;
    ir::Graph probe;  // names read by this node, including from its subgraphs
    probe.nodes.push_back(node);
    for (const auto& name : names_read(probe)) live.insert(name);
  }
  std::vector<ir::Node> nodes;
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    if (keep[i]) nodes.push_back(std::move(graph.nodes[i]));
  const size_t removed_nodes = graph.nodes.size() - nodes.size();
  graph.nodes = std::move(nodes);

  size_t removed_initializers = 0;
  for (const auto& name : std::vector<std::string>(graph.initializer_order)) {
    if (live.count(name)) continue;
    graph.remove_initializer(name);
    std::erase_if(graph.inputs, [&](const ir::ValueInfo& v) { return v.name == name; });
    ++removed_initializers;
  }
  std::set<std::string> defined;
  for (const auto& node : graph.nodes)
    for (const auto& out : node.outputs) defined.insert(out);
  std::erase_if(graph.value_info, [&](const ir::ValueInfo& v) { return !defined.count(v.name); });

  ctx.remarks.count(name(), "nodes-removed", static_cast<double>(removed_nodes));
  ctx.remarks.count(name(), "initializers-removed", static_cast<double>(removed_initializers));
  return Status::Ok();
}

}  // namespace ember::passes
