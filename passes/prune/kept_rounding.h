// Rounds the number of units a layer keeps to a multiple that the kernels tile well.
// The GEMM and convolution kernels work on panels of 8-16 output channels and unroll the
// reduction by 4-16; a layer left with an odd count (947 neurons, 13 channels) pays for a
// partial panel on every row. With `multiple` = K, each layer's kept count k becomes the
// multiple of K nearest to k (ties up), at least K and at most the layer's size (a layer smaller
// than K is left as selected): units are given back in the order of their scores (highest removed
// first) or removed further (lowest kept first), so the selection stays score-ordered within
// each layer. The overall ratio moves by at most K/2 units per layer. Rounding kUp gives units
// back only (the next multiple up): for a caller whose floors rounding down could break.
#pragma once
#include <cstdint>
#include <vector>

#include "passes/prune/neuron_selection.h"

namespace ember::passes::prune {

enum class KeptRounding { kNearest, kUp };

// One layer: `removed` (sorted) and `threshold` (the highest score removed) rounded in place.
void round_layer_kept(std::vector<int64_t>& removed, double& threshold, const std::vector<double>& scores, int64_t multiple,
                      KeptRounding rounding = KeptRounding::kNearest);

void round_kept_to_multiple(NeuronSelection& selection, const std::vector<std::vector<double>>& scores, int64_t multiple);

}  // namespace ember::passes::prune
