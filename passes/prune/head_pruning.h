// Attention-head pruning inside prune-structured (heads=R): removes whole heads physically.
// Before: x -> Wq|Wk|Wv [K, S*H*d] -> Reshape [.., H, d] -> attention -> Reshape [.., H*d] -> Wo [H*d, M]
// After:  x -> Wq|Wk|Wv [K, S*H'*d] -> Reshape [.., H', d] -> attention -> Reshape [.., H'*d] -> Wo' [H'*d, M]
// with H' = H - removed: per token the projections lose S*K*d multiply-adds per head, Wo d*M,
// and the attention core 2*d per key. The heads are found and proven on the graph by
// head_groups.h (a forward pass over the first calibration batch gives the shapes), scored by
// head_scores.h, selected like FFN neurons (neuron_selection.h: global or uniform, each block
// keeps at least max(1, ceil(min-keep * H)) heads), and Wo is refitted on its input x in
// R^{H*d} by recovery.h: the kept channels S are the kept heads' d channels each, so
//   bias: b' = b + Wo_P E[x_P];  lsq: Wo' = Wo_S + Wo_P B, B = Sigma_PS (Sigma_SS + lambda I)^-1
// (lsq-seq: sequential_refit.h on the partly pruned model). Every recorded head-count constant
// becomes v / H * H', value_info of the changed values keeps type and rank, not dims (prune_edit.h), and a
// shared constant gets a copy per reader. The caller edits a copy of the model: on any error
// nothing is half-pruned.
#pragma once
#include <vector>

#include "calibration/dataset.h"
#include "passes/pass.h"
#include "passes/prune/head_groups.h"
#include "passes/prune/neuron_scores.h"
#include "passes/prune/prune_structured.h"
#include "passes/prune/recovery.h"

namespace ember::passes::prune {

struct HeadPruneOptions {
  double ratio = 0;                // fraction of all heads removed (global) or of each block's (uniform)
  NeuronScore score = NeuronScore::kTaylor;
  Recovery recovery = Recovery::kLsq;
  bool global = true;
  double min_keep = 0.1, damp = 0.01;
  int64_t refit_rows = 8192;       // rows per consumer input in the recovery's statistics (lsq, bias, lsq-seq)
  // > 0 for a block: remove exactly this many of its heads (by name(), the first projection's
  // node), instead of the ratio; for a search that chooses per layer. Grouped-query blocks
  // count KV groups (HeadGroup::units()).
  std::map<std::string, int64_t> per_block;
  // select=obs (obs_selection.h): each block's count from the scores, its heads chosen by the
  // error the refit of the output projection leaves (on the unpruned model's statistics).
  bool obs_select = false;
  double obs_damp = 1;  // its ridge (prune-structured's select-damp)
};

struct HeadPruneOutcome {
  std::vector<PrunedLayer> layers;  // one per block found (unit "heads")
  std::vector<SkippedGroup> skipped;
  int64_t removed = 0;
};

// "NODE:COUNT;NODE:COUNT" (the pass option heads-per-block) -> per_block; "" -> empty.
Result<std::map<std::string, int64_t>> parse_heads_per_block(const std::string& text);

// The attention blocks of `original` (shapes from the first batch of ctx.calib), proven safe.
Result<HeadGroups> find_model_head_groups(const ir::Model& original, PassContext& ctx);

// Scores on `original`, prunes `pruned` (a copy that may already have FFN neurons removed).
Result<HeadPruneOutcome> prune_heads(const ir::Model& original, ir::Model& pruned, PassContext& ctx,
                                     const HeadPruneOptions& options);

// Parameters removed with one unit (a head, or a GQA KV group) of `g`: its projection columns
// with their biases and its output-projection rows.
int64_t head_unit_params(const HeadGroup& g);

// Removes the heads not in `kept` from `g` in `graph`; Wo gets `update` (canonical [M, H'*d]).
Status prune_head_group(ir::Graph& graph, const HeadGroup& g, const std::vector<int64_t>& kept,
                        const ConsumerUpdate& update);

}  // namespace ember::passes::prune
