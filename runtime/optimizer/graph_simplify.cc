#include "runtime/optimizer/graph_simplify.h"

#include <set>

#include "runtime/single_op.h"
#include "runtime/value_kernel.h"

namespace ember::runtime {
namespace {

// Folding an op that expands data (Expand, Tile, ConstantOfShape...) could turn a tiny
// graph into a huge initializer; such results stay computed at run time.
constexpr size_t kMaxFoldedGrowthBytes = size_t(1) << 20;

bool is_constant(const ir::Graph& graph, const std::string& name) {
  return name.empty() || graph.find_initializer(name) != nullptr;
}

// Replaces `node` (an If with a constant condition) by the nodes of the taken branch.
Result<std::vector<ir::Node>> inline_branch(const ir::Node& node, bool condition, ir::Graph& graph) {
  const ir::Attribute* branch = node.find_attr(condition ? "then_branch" : "else_branch");
  if (!branch || !branch->g) return invalid_input("If node '" + node.name + "' has no branch attribute");
  const ir::Graph& body = *branch->g;
  if (body.outputs.size() != node.outputs.size())
    return invalid_input("If node '" + node.name + "': branch has " + std::to_string(body.outputs.size()) +
                         " outputs, the node " + std::to_string(node.outputs.size()));
  std::vector<ir::Node> nodes = body.nodes;
  for (const auto& [name, tensor] : body.initializers) graph.set_initializer(name, tensor);
  for (size_t i = 0; i < body.outputs.size(); ++i) {
    ir::Node identity;
    identity.name = node.name + "/output_" + std::to_string(i);
    identity.op_type = "Identity";
    identity.inputs = {body.outputs[i].name};
    identity.outputs = {node.outputs[i]};
    nodes.push_back(std::move(identity));
  }
  return nodes;
}

}  // namespace

Result<SimplifyStats> simplify_for_execution(ir::Model& model, const KernelRegistry& registry) {
  SimplifyStats stats;
  ir::Graph& graph = model.graph;
  std::vector<ir::Node> pending(graph.nodes.rbegin(), graph.nodes.rend());  // a stack, so inlined nodes run next
  std::vector<ir::Node> kept;
  std::set<std::string> graph_outputs;
  for (const auto& out : graph.outputs) graph_outputs.insert(out.name);
  while (!pending.empty()) {
    ir::Node node = std::move(pending.back());
    pending.pop_back();
    bool all_constant = !node.inputs.empty() || node.op_type == "Constant";
    for (const auto& in : node.inputs) all_constant = all_constant && is_constant(graph, in);
    const bool has_subgraph = node.op_type == "If" || node.op_type == "Loop" || node.op_type == "Scan";
    if (node.op_type == "If" && node.domain.empty() && is_constant(graph, node.inputs.at(0))) {
      auto cond = graph.find_initializer(node.inputs[0])->to_int64s();
      if (!cond.ok() || cond->size() != 1) return invalid_input("If node '" + node.name + "': condition is not a scalar");
      EMBER_ASSIGN_OR_RETURN(std::vector<ir::Node> nodes, inline_branch(node, (*cond)[0] != 0, graph));
      for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) pending.push_back(std::move(*it));
      ++stats.ifs_inlined;
      continue;
    }
    bool produces_graph_output = false;
    for (const auto& out : node.outputs) produces_graph_output |= graph_outputs.count(out) > 0;
    const KernelDef* def = registry.find(node.op_type, node.domain, model.opset_version(node.domain));
    // Sequences and optionals are not initializers: their ops run at run time.
    if (!all_constant || has_subgraph || !def || produces_graph_output || makes_non_tensor_values(node)) {
      kept.push_back(std::move(node));
      continue;
    }
    std::vector<Tensor> inputs;
    size_t input_bytes = 0;
    for (const auto& in : node.inputs) {
      inputs.push_back(in.empty() ? Tensor() : *graph.find_initializer(in));
      input_bytes += inputs.back().nbytes();
    }
    auto outputs = run_single_op(node, model.opset_version(node.domain), inputs, true, registry);
    if (!outputs.ok()) return outputs.status().with_context("while folding constant node '" + node.name + "'");
    size_t output_bytes = 0;
    for (const auto& t : *outputs) output_bytes += t.nbytes();
    if (output_bytes > input_bytes + kMaxFoldedGrowthBytes) {
      kept.push_back(std::move(node));
      continue;
    }
    for (size_t i = 0; i < node.outputs.size(); ++i)
      if (!node.outputs[i].empty()) graph.set_initializer(node.outputs[i], std::move((*outputs)[i]));
    ++stats.constants_folded;
  }
  graph.nodes = std::move(kept);
  return stats;
}

}  // namespace ember::runtime
