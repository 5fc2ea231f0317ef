#include "passes/quantize/activation_rewrite.h"

#include "passes/graph_edit.h"

namespace ember::passes::act_quant {

NameMaker::NameMaker(const ir::Graph& graph) {
  used_ = names_read(graph);
  for (const auto& node : graph.nodes) {
    used_.insert(node.name);
    for (const auto& out : node.outputs) used_.insert(out);
  }
  for (const auto& in : graph.inputs) used_.insert(in.name);
  for (const auto& [name, t] : graph.initializers) used_.insert(name);
}

std::string NameMaker::make(const std::string& base) {
  std::string name = base;
  for (int i = 1; used_.count(name); ++i) name = base + "_" + std::to_string(i);
  used_.insert(name);
  return name;
}

void GraphEdits::apply(ir::Graph& graph) {
  std::vector<ir::Node> nodes;
  nodes.reserve(graph.nodes.size());
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (auto it = before_.find(i); it != before_.end())
      for (auto& n : it->second) nodes.push_back(std::move(n));
    if (auto it = replace_.find(i); it != replace_.end()) {
      for (auto& n : it->second) nodes.push_back(std::move(n));
    } else {
      nodes.push_back(std::move(graph.nodes[i]));
    }
  }
  graph.nodes = std::move(nodes);
  before_.clear();
  replace_.clear();
}

size_t remove_unread(ir::Graph& graph, const std::set<std::string>& candidate_outputs,
                     const std::set<std::string>& initializers) {
  const std::set<std::string> outputs = graph_output_names(graph);
  size_t removed = 0;
  for (bool changed = true; changed;) {
    changed = false;
    const std::set<std::string> read = names_read(graph);
    for (size_t i = graph.nodes.size(); i-- > 0;) {
      const ir::Node& node = graph.nodes[i];
      if (node.outputs.empty() || !candidate_outputs.count(node.outputs[0])) continue;
      bool used = false;
      for (const auto& out : node.outputs) used |= read.count(out) > 0 || outputs.count(out) > 0;
      if (used) continue;
      graph.nodes.erase(graph.nodes.begin() + static_cast<std::ptrdiff_t>(i));
      ++removed;
      changed = true;
    }
  }
  const std::set<std::string> read = names_read(graph);
  std::set<std::string> graph_inputs;
  for (const auto& in : graph.inputs) graph_inputs.insert(in.name);
  for (const auto& name : initializers)
    if (!read.count(name) && !graph_inputs.count(name) && graph.find_initializer(name)) graph.remove_initializer(name);
  return removed;
}

}  // namespace ember::passes::act_quant
