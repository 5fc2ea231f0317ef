// Which nodes the backward pass runs, and which forward values it must keep.
// A node is on the gradient path when it is downstream of a differentiated value (a weight or
// a requested activation) through differentiable inputs, and upstream of a seeded output.
// Ops that carry no gradient (Shape, comparisons, casts to integers...) cut the path, and
// values that no source reaches (positions, masks, shapes: Sin/Cos of positions included)
// are never on it, so their ops need no rule. A node on the path without a backward rule
// cuts the gradient there: the plan records it with the sources it cuts off (those with no
// other way to a seeded output); the other sources are still differentiated.
#pragma once
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"
#include "runtime/grad/grad_rule.h"

namespace ember::runtime::grad {

struct NodeGradPlan {
  bool on_path = false;
  const GradRule* rule = nullptr;
  IndexMask wanted = 0;  // inputs that need a gradient
  GradNeeds needs;       // forward values the rule reads
  // A rule fused over several nodes (grad_gelu_chain.h) reads and differentiates these values
  // instead of the node's inputs (the bits above then index this list), with `state` as its
  // per-node cache.
  std::vector<std::string> inputs;
  std::shared_ptr<void> state;
};

struct GradientCut {
  std::string node, op_type;
  std::vector<std::string> sources_cut_off;  // sorted; those still reached another way are not listed
  std::string reason = "";                   // for an op with a rule cut anyway (an If whose branch has no rule)
};

struct GradientPlan {
  std::vector<GradientCut> cuts;        // nodes on the path without a backward rule
  std::vector<NodeGradPlan> nodes;      // one per graph node, in graph order
  std::set<std::string> saved_values;   // non-constant forward values the backward pass reads
  std::set<std::string> reached;        // differentiated sources the seeded outputs depend on
};

// `sources`: values to differentiate (initializers, graph inputs or intermediates);
// `seeded`: graph outputs that receive a gradient. Fails with kUnsupported, listing the ops,
// only when nodes without a backward rule cut off every source.
Result<GradientPlan> plan_gradients(const ir::Graph& graph, const std::set<std::string>& sources,
                                    const std::set<std::string>& seeded, const GradRegistry& registry);

// True when no gradient flows through the node's outputs (see is_non_differentiable_op;
// Cast counts when it casts to a non-float type).
bool node_stops_gradient(const ir::Node& node);

}  // namespace ember::runtime::grad
