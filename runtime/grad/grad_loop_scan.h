// Gradients through Loop and Scan (Scan-9+, and Scan-8 one batch row at a time with its
// sequence_lens): the body is differentiated once per iteration,
// in reverse, like an unrolled network whose layers share the outer values they read.
//   Scan:  (s_{t+1}, y_t) = f(s_t, x_t, w)      Loop: (c, s_{t+1}, y_t) = f(t, true, s_t, w)
//   dL/ds_t  = J_{f,s}^T (dL/ds_{t+1}, dL/dy_t)           (carried back, starting from dL/ds_T)
//   dL/dx_t  = J_{f,x}^T (dL/ds_{t+1}, dL/dy_t)           (written to x's slice t)
//   dL/dw    = sum_t J_{f,w}^T (dL/ds_{t+1}, dL/dy_t)     (outer-scope reads, weights included)
// The rule replays the forward iterations to recover each s_t (iteration_tape.h keeps them
// within a memory budget, recomputing past it), then runs the body's BackwardInterpreter on
// each iteration from the last. The iteration caps of the forward kernels apply (ir/memory_limits.h).
// As for If, the planner gives the node its outer-scope reads as extra inputs after the
// declared ones (if_gradient_inputs); a body with an op without a rule on the path is a cut.
#pragma once
#include <set>
#include <string>

#include "ir/model.h"
#include "ir/status.h"
#include "runtime/grad/grad_rule.h"

namespace ember::runtime::grad {

// Ok when the gradient can flow through the node's subgraphs (If, Loop, Scan) from every
// body output to the body inputs and the `active` outer values it reads; else the reason.
Status check_subgraph_gradient(const ir::Node& node, const std::set<std::string>& active, const GradRegistry& registry);

// The same for SequenceMap (grad_sequence_map.cc).
Status check_sequence_map_gradient(const ir::Node& node, const std::set<std::string>& active, const GradRegistry& registry);

}  // namespace ember::runtime::grad
