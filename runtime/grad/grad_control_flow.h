// Gradients through If: the taken branch is differentiated like a model of its own whose
// inputs are the outer-scope values it reads (subgraph.h).
//   y = If(c, then: f(v...), else: g(v...))  =>  dL/dv = (c ? J_f : J_g)^T dL/dy
// The planner (gradient_path.cc) gives an If node its outer-scope reads as extra inputs,
// after the declared ones, in outer_scope_reads order, so that weights read only inside a
// branch are reached; the rule re-runs the taken branch forward, then backward. A branch
// output may be a sequence or an optional (its gradient is carried as the outputs' are), and so
// may an outer value a branch reads (an optional's gradient is its element's).
// Loop and Scan have their rules in grad_loop_scan.h.
#pragma once
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"
#include "runtime/grad/grad_rule.h"

namespace ember::runtime::grad {

class BackwardInterpreter;

// A BackwardInterpreter for a subgraph (a branch or a loop body): its inputs are the body's
// declared ones, then its outer-scope reads; `sources` are differentiated, none of the body's
// own weights. Used by the If, Loop and Scan rules.
Result<std::unique_ptr<BackwardInterpreter>> subgraph_interpreter(const ir::Graph& body, int64_t opset,
                                                                   const std::vector<std::string>& sources,
                                                                   GemmInputs products);

// The inputs an If's (or Loop's, Scan's) backward rule reads: the declared ones, then
// outer_scope_reads(node).
std::vector<std::string> if_gradient_inputs(const ir::Node& node);

// Ok when the gradient of every branch that reads an `active` value flows without a cut:
// an If whose branches cannot be differentiated is a cut of the outer plan instead.
Status check_if_gradient(const ir::Node& node, const std::set<std::string>& active, const GradRegistry& registry);

}  // namespace ember::runtime::grad
