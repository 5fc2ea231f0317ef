// Weights that reach their reader through a view of a constant, as exporters write them:
//   Before: W (f32 initializer) -> Identity -> V -> Conv          After: W -> Conv
//   Before: W (f16 or f32)      -> Cast{to=FLOAT} -> V -> MatMul  After: V = f32(W) (initializer) -> MatMul
//   Before: W (f32)             -> Transpose{perm} -> V -> Conv   After: V = transpose(W, perm) -> Conv
// so that the layer model sees the weight in the layout its reader uses and quantization
// covers it. Identity (and a Cast from f32 to f32) is a rename, always safe. A Cast from f16
// and a Transpose are materialised only when the view is the weight's only reader (no
// duplicate weight is created); the 2-D Transpose read by MatMul input 1 is left to the layer
// model (tied LM heads read the same table through it). The values are exact: f16 -> f32 and
// a permutation lose nothing, so the model computes the same outputs.
// Views whose output is a graph output, or whose input is a graph input, stay.
#pragma once
#include <cstddef>

#include "ir/model.h"

namespace ember::passes::quant {

// Folds the views in one graph (not its subgraphs) until none is left; returns how many.
size_t fold_weight_views(ir::Graph& graph);

}  // namespace ember::passes::quant
