#include "runtime/grad/gradient_path.h"

#include <map>

#include "runtime/grad/grad_control_flow.h"
#include "runtime/grad/grad_gelu_chain.h"
#include "runtime/grad/grad_loop_scan.h"
#include "runtime/subgraph.h"

namespace ember::runtime::grad {
namespace {

constexpr size_t kMaxInputs = kMaxIndices;

bool is_float_type(int64_t onnx_type) {
  const DTypeTraits* t = find_dtype_traits(static_cast<int32_t>(onnx_type));
  return t && t->is_float;
}

// The sources that node `at`'s active inputs (and subgraph reads) depend on, through active values only.
std::set<std::string> sources_upstream(const std::vector<ir::Node>& nodes, size_t at, const std::vector<IndexMask>& active_inputs,
                                       const std::vector<std::vector<std::string>>& subgraph_reads,
                                       const std::set<std::string>& sources) {
  std::map<std::string, size_t> producer;
  for (size_t i = 0; i < at; ++i)
    for (const auto& out : nodes[i].outputs) producer[out] = i;
  std::set<std::string> seen, upstream;
  std::vector<std::string> stack;
  auto push_inputs = [&](size_t i) {
    for (size_t j = 0; j < nodes[i].inputs.size() && j < kMaxInputs; ++j)
      if (active_inputs[i] & bit(j)) stack.push_back(nodes[i].inputs[j]);
    stack.insert(stack.end(), subgraph_reads[i].begin(), subgraph_reads[i].end());
  };
  push_inputs(at);
  while (!stack.empty()) {
    const std::string v = stack.back();
    stack.pop_back();
    if (!seen.insert(v).second) continue;
    if (sources.count(v)) upstream.insert(v);
    auto it = producer.find(v);
    if (it != producer.end()) push_inputs(it->second);
  }
  return upstream;
}

}  // namespace

bool node_stops_gradient(const ir::Node& node) {
  if (!node.domain.empty() && node.domain != "ai.onnx") return false;
  if (node.op_type == "Cast") return !is_float_type(node.attr_int("to", 0));
  return is_non_differentiable_op(node.op_type);
}

Result<GradientPlan> plan_gradients(const ir::Graph& graph, const std::set<std::string>& sources,
                                    const std::set<std::string>& seeded, const GradRegistry& registry) {
  const std::vector<ir::Node>& nodes = graph.nodes;
  GradientPlan plan;
  plan.nodes.resize(nodes.size());
  // Forward: values that depend on a source through differentiable inputs.
  std::set<std::string> active = sources;
  std::vector<IndexMask> active_inputs(nodes.size(), 0);
  std::vector<const GradRule*> rules(nodes.size(), nullptr);
  std::vector<std::vector<std::string>> subgraph_reads(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    const ir::Node& node = nodes[i];
    if (node_stops_gradient(node)) continue;
    IndexMask mask = 0;
    for (size_t j = 0; j < node.inputs.size(); ++j) {
      if (node.inputs[j].empty() || !active.count(node.inputs[j])) continue;
      if (j >= kMaxInputs)
        return unsupported("node '" + node.name + "' (" + node.op_type + ") has more than " + std::to_string(kMaxInputs) + " inputs on the gradient path");
      mask |= bit(j);
    }
    rules[i] = registry.find(node.op_type, node.domain);
    if (rules[i] && rules[i]->supports && !rules[i]->supports(node)) rules[i] = nullptr;
    if (rules[i]) mask &= rules[i]->differentiable;
    active_inputs[i] = mask;
    if (has_subgraph(node))  // If/Loop/Scan bodies reading active values: on the path (a cut when a body has no rule)
      for (const auto& name : outer_scope_reads(node))
        if (active.count(name)) subgraph_reads[i].push_back(name);
    if (!mask && subgraph_reads[i].empty()) continue;
    for (const auto& out : node.outputs)
      if (!out.empty()) active.insert(out);
  }
  // Backward: nodes whose outputs carry gradient towards a seeded output.
  std::set<std::string> flows;
  for (const auto& s : seeded)
    if (active.count(s)) flows.insert(s);
  std::vector<size_t> cut_nodes;
  std::map<size_t, std::string> cut_reasons;  // why a node with a rule is cut anyway (its branches)
  for (size_t i = nodes.size(); i-- > 0;) {
    if (!active_inputs[i] && subgraph_reads[i].empty()) continue;
    const ir::Node& node = nodes[i];
    bool reaches = false;
    for (const auto& out : node.outputs) reaches = reaches || (!out.empty() && flows.count(out));
    if (!reaches) continue;
    // A gradient passes through If, Loop or Scan only when their bodies all have rules.
    const bool with_subgraphs = rules[i] && has_subgraph(node);
    const Status branches = with_subgraphs ? check_subgraph_gradient(node, active, registry) : Status::Ok();
    const bool through_branches = with_subgraphs && branches.ok();
    if (!rules[i] || !branches.ok()) {  // the gradient stops here (reported with what it cuts off)
      cut_nodes.push_back(i);
      if (!branches.ok()) cut_reasons[i] = branches.message();
      continue;
    }
    NodeGradPlan& p = plan.nodes[i];
    p.on_path = true;
    p.rule = rules[i];
    p.wanted = active_inputs[i];
    if (through_branches) {  // the outer-scope reads become inputs after the declared ones
      p.inputs = if_gradient_inputs(node);
      for (size_t j = node.inputs.size(); j < p.inputs.size(); ++j)
        if (active.count(p.inputs[j])) p.wanted |= bit(j);
    }
    p.needs = p.rule->needs(node, p.wanted);
    const std::vector<std::string>& inputs = p.inputs.empty() ? node.inputs : p.inputs;
    for (size_t j = 0; j < inputs.size() && j < kMaxInputs; ++j)
      if (p.wanted & bit(j)) flows.insert(inputs[j]);
  }
  for (const auto& s : sources)
    if (flows.count(s)) plan.reached.insert(s);
  if (!cut_nodes.empty()) {
    std::string list;
    for (size_t i : cut_nodes) {
      GradientCut cut{nodes[i].name, nodes[i].op_type, {}, cut_reasons[i]};
      for (const auto& src : sources_upstream(nodes, i, active_inputs, subgraph_reads, sources))
        if (!plan.reached.count(src)) cut.sources_cut_off.push_back(src);
      list += (list.empty() ? "" : "; ") + std::string("'") + cut.node + "' (" + cut.op_type +
              (cut.reason.empty() ? "" : ": " + cut.reason) + ")";
      plan.cuts.push_back(std::move(cut));
    }
    if (plan.reached.empty())
      return unsupported("no backward rule for the ops on the gradient path, and they cut off every weight: " + list);
  }
  fuse_tanh_gelu_chains(graph, sources, plan);
  for (size_t i = 0; i < nodes.size(); ++i) {
    const NodeGradPlan& p = plan.nodes[i];
    if (!p.on_path) continue;
    const ir::Node& node = nodes[i];
    const std::vector<std::string>& inputs = p.inputs.empty() ? node.inputs : p.inputs;
    for (size_t j = 0; j < inputs.size() && j < kMaxInputs; ++j)
      if ((p.needs.inputs & bit(j)) && !inputs[j].empty() && !graph.find_initializer(inputs[j]))
        plan.saved_values.insert(inputs[j]);
    for (size_t j = 0; j < node.outputs.size() && j < kMaxInputs; ++j)
      if ((p.needs.outputs & bit(j)) && !node.outputs[j].empty()) plan.saved_values.insert(node.outputs[j]);
  }
  return plan;
}

}  // namespace ember::runtime::grad
