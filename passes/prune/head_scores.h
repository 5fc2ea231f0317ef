// Importance of each attention head (head_groups.h), lower = removed first. With Q_h, K_h,
// V_h the head's columns of the projections (and bias entries), O_h its rows of the output
// projection Wo, and x_c the output projection's input channel c (c in the head's d channels):
//   taylor:      the importance analysis's HeadImportance: mean over batches of
//                |sum_{w in Q_h, K_h, V_h} g w| (loss units, rank across layers).
//   fisher:      1/2 sum F w^2 over the same weights.
//   magnitude:   ||[Q_h K_h V_h]||_F * ||O_h||_F.
//   wanda:       sum_c ||Wo[c, :]||_1 * sqrt(E[x_c^2]).
//   fluctuation: sum_c Var(x_c) ||Wo[c, :]||_2^2 (FLAP): Wo's output error when the head's
//                output is replaced by its mean (what recovery=bias leaves).
// The activation scores read the layer-input statistics of Wo's input (one calibration run).
// Grouped-query attention scores KV groups (head_groups.h): taylor is the analysis's score of
// the whole unit (HeadImportance::group_taylor: |sum g w| over the K/V head's columns, its query
// heads' columns and output rows); fisher the sum of its parts' (exact: additive); the
// activation scores sum over the unit's query heads' output-projection inputs.
#pragma once
#include <vector>

#include "passes/pass.h"
#include "passes/prune/head_groups.h"
#include "passes/prune/neuron_scores.h"

namespace ember::passes::prune {

// One score per head of each group, in group order. score=obs is refused for heads.
Result<std::vector<std::vector<double>>> score_heads(const ir::Model& model, PassContext& ctx,
                                                     const std::vector<HeadGroup>& groups, NeuronScore score);

}  // namespace ember::passes::prune
