// What every pruner (FFN neurons, attention heads, conv channels) shares when it edits tensors.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ir/model.h"
#include "passes/analysis/layer_model.h"

namespace ember::passes::prune {

// The units 0..n-1 that stay, in order, when `removed` (sorted ascending) go.
std::vector<int64_t> kept_units(int64_t n, const std::vector<int64_t>& removed);

// `layer` with its shape, channels and reduction read from its weight as it is now in `graph`
// (a layer can shrink twice: an MLP chain's middle layer is one group's consumer and the next
// group's first layer).
analysis::Layer current_layer(const ir::Graph& graph, analysis::Layer layer);

// The weight shape `layer`'s channels and reduction mean, in its stored orientation.
Shape stored_shape(const analysis::Layer& layer);

// The value_info of `values` (whose shapes a pruner changed) keeps its type and rank but no
// longer its dims: the runtime's fusions need the type and rank, the dims are inferred again.
void forget_dims(ir::Graph& graph, const std::vector<std::string>& values);

// A per-unit constant [..., N] (a bias, a per-channel scale) cut to the `kept` units.
Tensor gather_last(const Tensor& t, const std::vector<int64_t>& kept);

}  // namespace ember::passes::prune
