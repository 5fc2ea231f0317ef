// Weights of control-flow bodies (If, Loop, Scan). Exporters put them in two places:
//   - in the body itself (its own initializers, or Constants that constants-to-initializers
//     turns into them): spox-built Silero VAD v5;
//   - in the enclosing graph, read by the body as an outer-scope value: torch's Silero VAD v4.
// The second form moves down, so that every weight sits in the graph of its reader:
//   Before: main { W; If(then = { Conv(x, W) }) }     After: main { If(then = { W; Conv(x, W) }) }
// A weight moves only when exactly one subgraph reads it and its own graph does not (no node
// input, graph input or output): the model computes the same values, and each body's layer
// model (analysis/layer_model.h) then sees its weights like a main graph's. Moves repeat into
// nested bodies. Only f32 tensors move.
#pragma once
#include <cstddef>

#include "ir/model.h"

namespace ember::passes::quant {

// Moves the weights of `graph` (and, recursively, of its bodies) into the one body that reads
// each; returns how many moved.
size_t move_weights_into_subgraphs(ir::Graph& graph);

}  // namespace ember::passes::quant
