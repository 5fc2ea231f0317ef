// Which neurons to remove, from their scores (lowest first).
//   global:  the `ratio` fraction of all neurons with the lowest scores over every layer;
//   uniform: the `ratio` fraction of each layer's neurons with its lowest scores.
// Either way a layer keeps at least max(1, ceil(min_keep * N)) neurons, so no layer is removed
// whole; ties break by layer and neuron index, so the choice is deterministic.
// Exact counts per layer (heads-per-block, ffn-per-layer: what a per-layer search asks for):
// the `count` lowest scores of that layer, ties by index.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/status.h"

namespace ember::passes::prune {

struct NeuronSelection {
  std::vector<std::vector<int64_t>> removed;  // per layer, sorted
  std::vector<double> threshold;              // per layer: the highest score removed (0 when none)
};

NeuronSelection select_neurons(const std::vector<std::vector<double>>& scores, double ratio, bool global,
                               double min_keep);

// The highest of `scores` at `units` (0 when there are none): a layer's threshold.
double highest_score(const std::vector<double>& scores, const std::vector<int64_t>& units);

// Replaces layer `layer`'s choice in `selection` by its `count` lowest-scoring units (count is
// clamped to [0, N - 1]: a layer is never removed whole).
void select_lowest(NeuronSelection& selection, const std::vector<std::vector<double>>& scores, size_t layer, int64_t count);

// "NODE:COUNT;NODE:COUNT" (COUNT >= 0) as a map; invalid input naming `option` otherwise.
Result<std::map<std::string, int64_t>> parse_unit_counts(const std::string& text, const std::string& option);

}  // namespace ember::passes::prune
