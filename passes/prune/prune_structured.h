// prune-structured: removes FFN neurons (ffn_groups.h) physically, scored by importance
// (neuron_scores.h) and recovered without training (recovery.h).
// Before: x -> MatMul(W1 [K, N]) -> Add(b1 [N]) -> GELU ops -> MatMul(W2 [N, M]) -> Add(b2)
// After:  x -> MatMul(W1 [K, N']) -> Add(b1 [N']) -> GELU ops -> MatMul(W2' [N', M]) -> Add(b2')
// with N' = N - removed: the file and the multiply-adds shrink by (K + M + 1) * removed per
// group (per row). Gated FFNs (SwiGLU/GeGLU: gate and up projections multiplied) lose a
// neuron's gate and up columns and down row together (ffn_groups.h). The `ffn` fraction of all neurons is removed, ranked globally (the lowest
// scores over all layers; scores in loss units compare across layers) or uniformly (the same
// fraction in each layer), every layer keeping at least `min-keep` of its neurons (never a
// whole layer). W2' and b2' come from the recovery (none, FLAP bias compensation, the ridge
// least squares refit on the unpruned model's statistics, or lsq-seq: that refit group by
// group in graph order on the pruned model's own activations, sequential_refit.h). An MLP
// chain's middle layer is the consumer of one group and the first layer of the next. Preconditions: f32 weights; groups proven channel-wise on the
// graph, others are left alone with a remark naming the layer and why. The model is edited as
// a copy and replaced only when every group succeeded: never a half-pruned graph.
// heads=R removes attention heads too (head_pruning.h: Q/K/V columns, the output projection's
// rows and every head-count constant), after the FFN neurons, with the same score and recovery;
// grouped-query attention loses whole KV groups (a K/V head with its query heads, unit "kv-groups").
// head-width=R narrows every attention head instead (head_width.h: each keeps d - round(R d)
// channels in new bases, Q/K by a whitened SVD of the scores, V/O of the value-output map; not
// with heads); with params=R the narrowing counts in the budget and FFN neurons take the rest.
// channels=R (or channel-ratios) removes convolution output channels instead or as well
// (conv_pruning.h: groups of conv_groups.h, refit and shrink of conv_shrink.h); multiple=K
// rounds every layer's kept units to a multiple of K (kept_rounding.h).
// params=R removes the R fraction of the FFN and attention parameters under one budget instead of
// the separate ffn and heads fractions: probe=split (split_search.h) measures how many heads to
// take, probe=kind|layer rescales the scores by probes (probe_calibration.h) and ranks by score
// per parameter (joint_selection.h).
// refit-rows=N: the recovery's statistics (X^T X and means of each FFN or attention consumer's
// input) over about N rows (tokens) spread over the calibration set; the scores keep the layer-input
// analysis's 8192 (on kjv-gpt2 at 20%, 65536 refit rows of 512 calibration rows: 1.1844 bits/byte
// against 1.1930 with 8192, the same units removed).
// select=obs (head-select=obs for heads): once a layer's count is chosen, its units are picked by
// greedy structured OBS (obs_selection.h: the units whose removal the refit restores best) instead
// of the lowest scores; select-damp is its ridge (kjv-gpt2 at 20.1%, select-damp=1: 1.1825 against
// 1.1844 bits/byte with lsq, and the refit then removes 55% of the increase pruning alone causes
// instead of 48%).
// ffn-per-layer=NODE:COUNT;... removes exactly COUNT neurons (the lowest scores) of the FFN whose
// first layer is NODE, whatever ffn says (the choice of a per-layer search, passes/search/).
// Result: PruneResult, a row per layer (units, parameters and MACs before and after, the
// score threshold).
#pragma once
#include "passes/pass.h"
#include "passes/prune/conv_pruning.h"
#include "passes/prune/ffn_groups.h"

namespace ember::passes {

struct PrunedLayer {
  std::string node, consumer;  // first and second layer nodes
  int64_t units_before = 0, units_after = 0;
  int64_t params_before = 0, params_after = 0;  // W1, b1, per-neuron constants, W2
  int64_t macs_before = 0, macs_after = 0;      // per row (token): K*N + N*M
  double threshold = 0;                         // highest score removed (0 when none)
  std::string unit = "neurons";                 // "neurons" (FFN), "heads" (attention, head_pruning.h) or "head-dims" (head_width.h)
};

struct PruneResult final : PassResult {
  double ratio = 0;
  double heads = 0;  // fraction of attention heads removed (head_pruning.h)
  double params = 0; // fraction of the FFN and attention parameters removed under one budget (joint_selection.h)
  double head_width = 0;  // fraction of every head's channels removed (head_width.h)
  std::string score, head_score, ranking, recovery;
  std::vector<PrunedLayer> layers;
  std::vector<prune::SkippedGroup> skipped;
  // Convolution channel groups (channels=R, conv_pruning.h), and the whole model's multiply-adds
  // per calibration row (model_macs.h) before and after, 0 when not measured.
  double channels = 0;
  std::vector<prune::PrunedChannelGroup> channel_groups;
  std::vector<prune::SkippedGroup> channel_skipped;
  int64_t model_macs_before = 0, model_macs_after = 0;
  nlohmann::json to_json() const override;
};

class PruneStructured final : public Pass {
 public:
  explicit PruneStructured(const PassOptions& options) : options_(options) {}
  static std::vector<OptionSpec> option_specs();
  std::string_view name() const override { return "prune-structured"; }
  Status run(ir::Model& model, PassContext& ctx) override;
  std::shared_ptr<const PassResult> result() const override { return result_; }

 private:
  PassOptions options_;
  std::shared_ptr<PruneResult> result_;
};

}  // namespace ember::passes
