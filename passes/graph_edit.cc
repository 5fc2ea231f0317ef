#include "passes/graph_edit.h"

namespace ember::passes {

size_t replace_uses(ir::Graph& graph, const std::string& from, const std::string& to) {
  size_t replaced = 0;
  ir::for_each_graph(graph, [&](ir::Graph& g) {
    for (auto& node : g.nodes)
      for (auto& in : node.inputs)
        if (in == from) in = to, ++replaced;
  });
  return replaced;
}

std::set<std::string> names_read(const ir::Graph& graph) {
  std::set<std::string> names;
  ir::for_each_graph(const_cast<ir::Graph&>(graph), [&](ir::Graph& g) {
    for (const auto& node : g.nodes)
      for (const auto& in : node.inputs)
        if (!in.empty()) names.insert(in);
    for (const auto& out : g.outputs) names.insert(out.name);
  });
  return names;
}

std::string unique_name(const ir::Graph& graph, const std::string& base) {
  std::set<std::string> used = names_read(graph);
  for (const auto& node : graph.nodes)
    for (const auto& out : node.outputs) used.insert(out);
  for (const auto& in : graph.inputs) used.insert(in.name);
  for (const auto& [name, t] : graph.initializers) used.insert(name);
  if (!used.count(base)) return base;
  for (int i = 1;; ++i) {
    const std::string candidate = base + "_" + std::to_string(i);
    if (!used.count(candidate)) return candidate;
  }
}

// The same names as unique_name's set, each counted once per place it appears.
UsedNames::UsedNames(const ir::Graph& graph) {
  ir::for_each_graph(const_cast<ir::Graph&>(graph), [&](ir::Graph& g) {
    for (const auto& node : g.nodes)
      for (const auto& in : node.inputs)
        if (!in.empty()) add(in);
    for (const auto& out : g.outputs) add(out.name);
  });
  for (const auto& node : graph.nodes)
    for (const auto& out : node.outputs) add(out);
  for (const auto& in : graph.inputs) add(in.name);
  for (const auto& [name, t] : graph.initializers) add(name);
}

void UsedNames::add(const std::string& name, size_t times) {
  if (times > 0) counts_[name] += times;
}

void UsedNames::remove(const std::string& name, size_t times) {
  auto it = counts_.find(name);
  if (it == counts_.end()) return;
  if (it->second <= times) counts_.erase(it);
  else it->second -= times;
}

std::string UsedNames::unique(const std::string& base) const {
  if (!contains(base)) return base;
  for (int i = 1;; ++i) {
    const std::string candidate = base + "_" + std::to_string(i);
    if (!contains(candidate)) return candidate;
  }
}

std::set<std::string> graph_output_names(const ir::Graph& graph) {
  std::set<std::string> names;
  for (const auto& out : graph.outputs) names.insert(out.name);
  return names;
}

bool graph_defines(const ir::Graph& graph, const std::string& name) {
  if (graph.find_initializer(name)) return true;
  for (const auto& in : graph.inputs)
    if (in.name == name) return true;
  for (const auto& node : graph.nodes)
    for (const auto& out : node.outputs)
      if (out == name) return true;
  return false;
}

ValueReaders value_readers(const ir::Graph& graph) {
  ValueReaders readers;
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    for (size_t k = 0; k < graph.nodes[i].inputs.size(); ++k)
      if (!graph.nodes[i].inputs[k].empty()) readers[graph.nodes[i].inputs[k]].push_back({i, k});
  return readers;
}

}  // namespace ember::passes
