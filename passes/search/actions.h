// The layers a compression search decides about, and what it may do to each.
// Before: the prepared FP32 model's layer model (analysis/layer_model.h).
// After:  one SearchLayer per weight that quantize-weights can rewrite, with its stage
//         (FFN, attention, embedding, LM head, other: layer_stage.h) and the actions the
//         recipe allows for it (SearchRecipe.actions, then its overrides, the last match winning).
// What an action costs in bytes (codes + f32 scales, as quantize-weights emits them):
//   fp32:                 4 n
//   int8 per channel:     n + 4 C                 (C output channels; + C with zero points)
//   int4 block b:         n / 2 + 4 G,  G = C ceil(K / b) scales   (+ ceil(G / 2) with zero points)
//   pruned (ratio r > 0): the same formulas on the layer's shape after prune-structured removes
//                         u = round(r N) of its FFN's N neurons (output channels of the first
//                         layer, input rows of the second), or of its attention block's N heads
//                         (KV groups with grouped-query attention): w channels per unit of each
//                         Q/K/V projection (w = sections * heads per unit * head_dim, 3 sections
//                         for a fused QKV weight) and w = heads per unit * head_dim input rows of
//                         the output projection; ratio 0 is no pruning
// bits per weight = 8 bytes / n (n unpruned); model bytes outside the layers do not depend on
// the actions (a pruned FFN's bias and per-neuron constants shrink too: not counted, so the
// real file is a little smaller than predicted).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"
#include "passes/analysis_manager.h"
#include "passes/prune/head_groups.h"
#include "passes/search/search_recipe.h"

namespace ember::passes::search {

enum class Stage { kFfn, kAttention, kEmbedding, kHead, kOther };
std::string stage_name(Stage stage);  // "ffn", "attention", "embedding", "head", "other"

struct SearchLayer {
  std::string weight;  // the initializer
  std::string node;    // its primary reader (the Gather for an embedding table)
  std::string op;      // its readers' op types, "Gemm", "Gather+MatMul"
  int64_t params = 0, channels = 0, reduction = 0;
  Stage stage = Stage::kOther;
  std::vector<LayerAction> allowed;  // allowed[0] is always keep-FP32
  // FFN neuron pruning (prune-structured's groups, ffn_groups.h): the node of the group's first
  // layer (empty: not prunable), its neuron count, and whether this layer's output channels are
  // the neurons (the first layer) or its input rows (the second). Both layers of a group always
  // take the same ratio.
  std::string prune_group;
  int64_t prune_units = 0;
  bool prune_rows = false;
  // Attention-head pruning (head_groups.h): the group is the block's name (its first
  // projection's node, what heads-per-block names), units are its heads (or KV groups), and
  // prune_width the channels (prune_rows) or input rows each unit holds in this layer. Every
  // layer of a block takes the same ratio. FFN layers: prune_heads false, prune_width 0 (one
  // neuron is one channel or row).
  bool prune_heads = false;
  int64_t prune_width = 0;
};

// "fp32", "int8", "int4-b32-gptq", "prune-0.25", "int4-b128-gptq+prune-0.10".
std::string action_name(const LayerAction& action);
// True for the actions progressive verification leaves to its last stage: INT4 with blocks
// larger than 32, and pruning.
bool is_aggressive(const LayerAction& action);
// A pruning action's share: kPrune (FP32 after pruning), or INT8/INT4 with ratio > 0 (pruned,
// then quantized); 0 for no pruning.
double prune_ratio(const LayerAction& action);
// The action without its pruning (kPrune becomes keep-FP32).
LayerAction without_pruning(const LayerAction& action);
// `action` with its precision and pruning at `ratio` (0: none; keep-FP32 becomes kPrune).
LayerAction at_ratio(const LayerAction& action, double ratio);
// Neurons of the layer's FFN removed at `ratio`: round(ratio N), at most N - 1.
int64_t pruned_units(const SearchLayer& layer, double ratio);
// The share of the layer's weights (and multiply-adds) an action's pruning keeps: its pruned
// shape's elements over its own (1 without pruning).
double kept_share(const SearchLayer& layer, const LayerAction& action);
// Serialized bytes of a layer's weight after the action (see the header comment).
int64_t action_bytes(const SearchLayer& layer, const LayerAction& action);

// Static INT8 activations (LayerAction::static_activations, "int8-a8-static"): INT8 per-channel
// symmetric weights and the layer's input quantized with a calibrated scale. Offered where safe:
// MatMul/Gemm layers read by one node in the main graph (quantize-activations names that node),
// when the recipe lists the action or sets quantize_activations. Bytes as INT8.
// The default action set: the default precisions (FP32, INT8 per channel, INT4 blocks 32/64/128
// with GPTQ, symmetric or with zero points; RTN where GPTQ cannot apply) and pruning at the
// default ratios of an FFN's neurons or an attention block's heads, each ratio combined with every
// precision of the group's layers. Without a target (the smallest model within the budget) the
// ratios are 5, 10, 20, 30, 40 and 50%: there the pruning back-off (prune_backoff.h) measures the
// pruned groups before they are kept. Under a target the allocation alone decides, on predicted
// losses that are least reliable at large ratios, so the ratios stop at 30% (with 40 and 50%
// offered, kjv-gpt2's --target-size search measured 1.1338 bits/byte instead of 1.1332).
// On kjv-gpt2 with a +1% bits-per-byte budget pruning takes the smallest model from 6.40 to
// 6.18 MB; kjv-bert's label-free one from 1.91 to 1.47 MB (bench/RESULTS.md, issue 16).
std::vector<LayerAction> default_actions(const SearchTarget& target = {});
std::vector<LayerAction> default_precisions();
const std::vector<double>& default_prune_ratios(const SearchTarget& target = {});

// Every layer of the prepared model that quantize-weights covers (no blocker, at least
// `min_size` elements), in initializer order, with the actions the recipe allows.
// Attention projections come from `attention_weights` (the importance analysis's head blocks).
// The two layers of an FFN prune-structured can prune get the recipe's prune ratios (those both
// layers allow), each with every precision action; so do the projections of every attention
// block of `head_groups` (prune::find_model_head_groups on the prepared model: the blocks whose
// heads prune-structured can remove), with the ratios all its layers allow.
Result<std::vector<SearchLayer>> search_layers(const ir::Model& prepared, const SearchRecipe& recipe,
                                               const std::vector<std::string>& attention_weights,
                                               int64_t min_size = 1024);
Result<std::vector<SearchLayer>> search_layers(const ir::Model& prepared, const SearchRecipe& recipe,
                                               const std::vector<std::string>& attention_weights,
                                               const std::vector<prune::HeadGroup>& head_groups, int64_t min_size = 1024);

// True when the recipe lists a prune action anywhere (its actions, or the default set, or an override).
bool allows_pruning(const SearchRecipe& recipe);
// The head-narrowing ratios the search measures (narrow_heads.h), ascending: the recipe's, or by
// default 0.25, 0.5 and 0.75 when pruning is allowed and there is no target (under a target the
// allocation alone decides, as for the prune ratios above).
std::vector<double> head_widths(const SearchRecipe& recipe);

// The attention blocks prune-structured can remove heads from (prune::find_model_head_groups:
// a forward pass over the first calibration batch of `analyses` gives the layout), when the
// recipe lists a prune action anywhere; none otherwise, or when the model has none.
std::vector<prune::HeadGroup> prunable_head_groups(const ir::Model& prepared, const SearchRecipe& recipe, AnalysisManager& analyses);

}  // namespace ember::passes::search
