// One backward rule for a whole tanh-form GELU written out as eight elementwise ops, as
// GPT-2 exports carry it (the forward graph is left as it is):
//
//   before (backward):  Mul <- Add <- Tanh <- Mul <- Add <- Mul <- Pow, and Mul(x, half),
//                       each with its own rule, temporary and pass over [tokens, 4 x width]
//   after:              one pass  dx = dy * y'(x)  reading x and the saved tanh t
//
//   y = half * x * (one + t),  t = tanh(c * (x + k * x^3))
//   dy/dx = half * (one + t) + half * x * (1 - t^2) * c * (1 + 3 k x^2)
//
// The chain is fused only when every intermediate value has that one consumer, is no graph
// output and no differentiation source, and the constants are f32 scalars with exponent 3.
// Usually the forward pass has already fused it into one Gelu (whose own rule then applies);
// this serves the forward passes that run unfused, when the gradient of an intermediate value
// was asked for.
#pragma once
#include <set>
#include <string>

#include "ir/model.h"
#include "runtime/grad/gradient_path.h"

namespace ember::runtime::grad {

// Rewrites `plan` in place: each chain's final Mul gets the fused rule (inputs {x, t}, see
// NodeGradPlan::inputs), the other nodes of the chain leave the path. Returns the chains fused.
int fuse_tanh_gelu_chains(const ir::Graph& graph, const std::set<std::string>& sources, GradientPlan& plan);

}  // namespace ember::runtime::grad
