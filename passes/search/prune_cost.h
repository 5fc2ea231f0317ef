// The predicted loss of pruning an FFN's neurons, from the importance analysis (computed once).
// Before: the importance report of the prepared FP32 model: per FFN neuron n its first-order
//         score taylor_first(n) (what prune-structured ranks by, score=taylor-first) and its
//         whole-group Fisher removal score  R(n) = 1/2 sum_{w in W1[:, n], b1[n], W2[n, :]} F w^2.
// After:  for each ratio r a layer allows, the loss predicted for removing the u = round(r N)
//         neurons with the lowest taylor_first scores (the ones the pass removes):
//           P(r) = sum_{n removed} R(n)
//         the second-order Taylor term of setting those weights to zero (dw = -w), in the
//         units of the quantization predictions (action_cost.h). Each of the FFN's two layers
//         carries P(r) / 2, so that the group's two entries add up to P(r).
// Attention heads the same way: per block, the u = round(r H) heads with the lowest `taylor`
// scores (what prune-structured ranks heads by, head-score=taylor) each cost their whole-group
// Fisher removal score (Q/K/V columns and biases and output rows, HeadImportance::fisher);
// grouped-query attention removes KV groups, ranked by the unit's own Taylor score and costing
// its query heads' removal scores plus its K/V head's. Each of the block's L layers carries P(r) / L.
// The least squares refit (recovery=lsq) removes part of that damage and units interact; a
// measured probe fixes the scale (CostScale::prune_factor, search_controller.cc), one factor
// for neurons and heads.
#pragma once
#include <map>
#include <vector>

#include "passes/analysis/importance.h"
#include "passes/search/actions.h"

namespace ember::passes::search {

// prune[i][ratio]: layers[i]'s share of its FFN's predicted pruning loss at each ratio it allows
// (empty for layers that cannot be pruned, and for FFNs without per-neuron scores).
using PruneLosses = std::vector<std::map<double, double>>;

PruneLosses predict_prune_losses(const std::vector<SearchLayer>& layers, const analysis::ImportanceReport& importance);
// The same, with the heads of the blocks in `head_groups` (the groups search_layers attached).
PruneLosses predict_prune_losses(const std::vector<SearchLayer>& layers, const analysis::ImportanceReport& importance,
                                 const std::vector<prune::HeadGroup>& head_groups);

// The predicted loss of removing the `units` neurons with the lowest `rank` scores, summed over
// `removal` (both per neuron).
double lowest_units_loss(const std::vector<double>& rank, const std::vector<double>& removal, int64_t units);

}  // namespace ember::passes::search
