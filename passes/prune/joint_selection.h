// One budget for FFN neurons and attention heads together (prune-structured{params=R}).
// Each prunable layer l has units (neurons or heads) with scores s_lu in loss units (the
// gradient Taylor/Fisher scores rank across layers and unit kinds) and a parameter cost c_l
// per unit (a neuron: its W1 column, b1 entry and W2 row; a head: its Q/K/V columns and biases
// and its output-projection rows). Removing the set R costs about sum_{u in R} s_u in loss, so
//   min sum_{u in R} s_u  subject to  sum_{u in R} c_u >= R_target = fraction * sum_l N_l c_l
// is a knapsack; the greedy order by s_u / c_u (loss per parameter removed, lowest first) solves
// its fractional relaxation and overshoots the target by less than one unit. Every layer keeps at
// least max(1, ceil(min_keep * N_l)) units (a per-layer floor). Ties break by layer and unit
// index, so the choice is deterministic. Within a layer the removed units are its lowest scores.
#pragma once
#include <cstdint>
#include <vector>

namespace ember::passes::prune {

struct BudgetLayer {
  const std::vector<double>* scores = nullptr;  // one per unit
  int64_t unit_params = 0;                      // parameters removed with each unit
};

// The number of units to remove from each layer (its lowest scores) so that at least
// `fraction` of all the layers' parameters go, at the least predicted loss per parameter.
std::vector<int64_t> select_by_params(const std::vector<BudgetLayer>& layers, double fraction, double min_keep);

}  // namespace ember::passes::prune
