// The layers a compression search decides about, and what it may do to each.
// Before: the prepared FP32 model's layer model (analysis/layer_model.h).
// After:  one SearchLayer per weight that quantize-weights can rewrite, with its stage
//         (FFN, attention, embedding, LM head, other: layer_stage.h) and the actions the
//         recipe allows for it (SearchRecipe.actions, then its overrides, the last match winning).
// What an action costs in bytes (codes + f32 scales, as quantize-weights emits them):
//   fp32:                 4 n
//   int8 per channel:     n + 4 C                 (C output channels; + C with zero points)
//   int4 block b:         n / 2 + 4 G,  G = C ceil(K / b) scales   (+ ceil(G / 2) with zero points)
// bits per weight = 8 bytes / n; model bytes outside the layers do not depend on the actions.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"
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
};

// "fp32", "int8", "int4-b32-gptq", "prune-0.25".
std::string action_name(const LayerAction& action);
// True for the actions progressive verification leaves to its last stage: INT4 with blocks
// larger than 32, and pruning.
bool is_aggressive(const LayerAction& action);
// Serialized bytes of a layer's weight after the action (see the header comment).
int64_t action_bytes(const SearchLayer& layer, const LayerAction& action);

// The default action set: FP32, INT8 per channel, INT4 blocks 32/64/128 with GPTQ, symmetric
// or with zero points (RTN where GPTQ cannot apply).
std::vector<LayerAction> default_actions();

// Every layer of the prepared model that quantize-weights covers (no blocker, at least
// `min_size` elements), in initializer order, with the actions the recipe allows.
// Attention projections come from `attention_weights` (the importance analysis's head blocks).
Result<std::vector<SearchLayer>> search_layers(const ir::Model& prepared, const SearchRecipe& recipe,
                                               const std::vector<std::string>& attention_weights,
                                               int64_t min_size = 1024);

}  // namespace ember::passes::search
