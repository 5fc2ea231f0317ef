// Narrowing attention heads inside prune-structured (head-width=R): every head of a block keeps
// d' = d - round(R d) of its d channels (at least 1), in a new basis per head chosen so that the
// block's output changes least; the tensors and constants shrink physically.
// Before: q_h = Wq_h x + bq_h, k_h, v_h in R^d; scores q_h . k_h; output sum_h Wo_h z_h + bo,
//         z_h = sum_j p_hj v_hj (the attention probabilities mix the values of the keys j)
// After:  q'_h = Tq^T q_h, k'_h = Tk^T k_h, v'_h = Sv v_h in R^{d'}; output sum_h (Wo_h To) z'_h + bo'
// Query and key (a whitened SVD of the score's bilinear form): with the second moments
//   Sq = E[q q^T], Sk = E[k k^T] over calibration tokens, E (q^T (I - M) k)^2 =
//   ||Sq^{1/2} (I - M) Sk^{1/2}||_F^2 for independent q and k, least over rank-d' M at
//   M = Sk^{1/2} V V^T Sk^{-1/2}, V the top d' eigenvectors of Sk^{1/2} Sq Sk^{1/2}:
//   Tq = Sk^{1/2} V, Tk = Sk^{-1/2} V (Tq Tk^T = M). The scale of the scores stays as it was.
// Value and output: with Sz the covariance of z_h (head h's block of the output projection's
//   input) and G = Wo_h^T Wo_h, E ||Wo_h (I - P)(z_h - mu_h)||^2 is least over rank-d' P at
//   P = Sz^{1/2} V V^T Sz^{-1/2}, V the top d' eigenvectors of Sz^{1/2} G Sz^{1/2}: Sv = V^T Sz^{-1/2},
//   To = Sz^{1/2} V (P = To Sv), and bo' = bo + sum_h Wo_h (I - P) mu_h. Since z_h is a convex mix of
//   the v_h, narrowing every v_h by Sv narrows z_h by Sv.
// The moments come from the layer-input analysis of the unpruned model (the projections' input x
// and the output projection's input), ridge 1e-4 of their mean diagonal. Per token a head loses
// (d - d') (3 K + M) multiply-adds in its projections and 2 (d - d') per key in the attention core.
// Every width constant (Split sizes, Slice bounds, merged widths) becomes v / d * d' and the head
// Reshapes' d becomes d'. Blocks with rotary embeddings, grouped-query attention or roles Ember
// cannot tell are left alone (HeadGroup::width_refusal). On kjv-gpt2 (d = 64) narrowing Q/K to 32
// costs 0.0002 bits/byte and V/O to 40 0.0018: far less per parameter than removing whole heads.
#pragma once
#include <cstdint>

#include "ir/model.h"
#include "ir/status.h"
#include "passes/analysis/layer_inputs.h"
#include "passes/pass.h"
#include "passes/prune/head_groups.h"
#include "passes/prune/prune_structured.h"
#include "passes/prune/recovery.h"

namespace ember::passes::prune {

// The head dimension that `ratio` of d leaves: d - round(ratio d), at least 1.
int64_t narrowed_head_dim(int64_t d, double ratio);

// Parameters removed when every head of `g` narrows from d to `dim` channels.
int64_t head_width_params(const HeadGroup& g, int64_t dim);
// Multiply-adds per token of the block's projections at head dimension `dim`.
int64_t head_width_macs(const HeadGroup& g, int64_t dim);

// Narrows every head of `g` (found on this graph, width_refusal empty) to `dim` channels, the
// bases from `inputs` (statistics of the unpruned model). `recovery`: lsq (and lsq-seq) the
// whitened SVD bases above; none keeps the dim channels of largest E[q_j^2] E[k_j^2] (Q/K) and
// Var(z_j) ||Wo column j||^2 (V/O) as they are; bias does the same and adds the removed V/O
// channels' mean contribution to the output bias.
Status narrow_heads(ir::Graph& graph, const HeadGroup& g, int64_t dim, const analysis::LayerInputAnalysis::Output& inputs,
                    Recovery recovery);

// Parameters that narrowing every block of `groups` without a width_refusal by `ratio` removes.
int64_t head_width_removed(const HeadGroups& groups, double ratio);

struct HeadWidthOutcome {
  std::vector<PrunedLayer> layers;  // one per block narrowed (unit "head-dims": d before, d' after)
  std::vector<SkippedGroup> skipped;  // blocks left alone, with the reason
};

// Narrows every block of `found` (find_model_head_groups of `original`) that can be, by `ratio`,
// in `pruned` (a copy that may have lost FFN neurons already: blocks and FFNs share no layer); the
// statistics over about `rows` tokens of ctx.calib. Invalid input when no block can be narrowed.
Result<HeadWidthOutcome> narrow_model_heads(const ir::Model& original, const HeadGroups& found, ir::Model& pruned, PassContext& ctx,
                                            double ratio, int64_t rows, Recovery recovery);

}  // namespace ember::passes::prune
