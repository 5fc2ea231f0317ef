#include "passes/quantize/subgraph_weights.h"

#include <set>
#include <string>
#include <vector>

#include "passes/graph_edit.h"

namespace ember::passes::quant {
namespace {

// The bodies of `graph`'s own nodes (not nested deeper).
std::vector<ir::Graph*> bodies_of(ir::Graph& graph) {
  std::vector<ir::Graph*> out;
  for (auto& node : graph.nodes)
    for (auto& attr : node.attributes) {
      if (attr.g) out.push_back(attr.g.get());
      for (auto& g : attr.graphs) out.push_back(g.get());
    }
  return out;
}

}  // namespace

size_t move_weights_into_subgraphs(ir::Graph& graph) {
  const std::vector<ir::Graph*> bodies = bodies_of(graph);
  size_t moved = 0;
  if (!bodies.empty()) {
    std::set<std::string> local = graph_output_names(graph);  // names the graph itself reads or exposes
    for (const auto& in : graph.inputs) local.insert(in.name);
    for (const auto& node : graph.nodes)
      for (const auto& in : node.inputs) local.insert(in);
    std::vector<std::set<std::string>> reads;
    for (const ir::Graph* body : bodies) reads.push_back(names_read(*body));
    const std::vector<std::string> order = graph.initializer_order;
    for (const std::string& name : order) {
      const Tensor* t = graph.find_initializer(name);
      if (!t || t->dtype() != DType::kF32 || local.count(name)) continue;
      std::vector<size_t> readers;
      for (size_t b = 0; b < bodies.size(); ++b)
        if (reads[b].count(name)) readers.push_back(b);
      if (readers.size() != 1 || graph_defines(*bodies[readers[0]], name)) continue;
      ir::Graph& body = *bodies[readers[0]];
      body.set_initializer(name, *t);
      auto loc = graph.external_locations.find(name);
      if (loc != graph.external_locations.end()) {
        body.external_locations[name] = loc->second;
        graph.external_locations.erase(loc);
      }
      graph.remove_initializer(name);
      std::erase_if(graph.value_info, [&](const ir::ValueInfo& v) { return v.name == name; });
      ++moved;
    }
  }
  for (ir::Graph* body : bodies) moved += move_weights_into_subgraphs(*body);
  return moved;
}

}  // namespace ember::passes::quant
