// Which neurons to remove, from their scores (lowest first).
//   global:  the `ratio` fraction of all neurons with the lowest scores over every layer;
//   uniform: the `ratio` fraction of each layer's neurons with its lowest scores.
// Either way a layer keeps at least max(1, ceil(min_keep * N)) neurons, so no layer is removed
// whole; ties break by layer and neuron index, so the choice is deterministic.
#pragma once
#include <cstdint>
#include <vector>

namespace ember::passes::prune {

struct NeuronSelection {
  std::vector<std::vector<int64_t>> removed;  // per layer, sorted
  std::vector<double> threshold;              // per layer: the highest score removed (0 when none)
};

NeuronSelection select_neurons(const std::vector<std::vector<double>>& scores, double ratio, bool global,
                               double min_keep);

}  // namespace ember::passes::prune
