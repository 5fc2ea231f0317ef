// What a compression search is asked to do. This struct is the one contract between the
// recipe file (schemas/recipe.schema.json, read by passes/search/recipe_json.h), the CLI flags
// of `ember compress` (shorthands that fill it) and the search itself (passes/search/).
//
// A search chooses one action per layer (keep FP32, INT8, INT4 at a block size and method, or
// prune a share of the layer's prunable units) so that the predicted loss is smallest under the
// target, then verifies the choice progressively on the real metric under the budget.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ember::passes {

// One thing the search may do to one layer.
struct LayerAction {
  enum class Kind { kKeepFloat, kInt8, kInt4, kPrune };
  Kind kind = Kind::kKeepFloat;
  int64_t block = 0;         // INT4: 32, 64 or 128 weights per scale; INT8: 0 (per output channel)
  std::string method = "rtn";  // INT4: rtn, gptq or awq
  double ratio = 0;          // prune: the share of the layer's units removed, in (0, 1)
  bool symmetric = true;     // INT8/INT4: signed codes; false: unsigned codes with a zero point per scale
  // INT8 only: the layer's input is quantized too, to u8 with one scale calibrated once (static
  // QDQ), so the runtime computes no activation scale per row and onnxruntime sees integers only.
  bool static_activations = false;
  bool operator==(const LayerAction&) const = default;
};

// What is limited. kNone: the smallest model within the accuracy budget.
struct SearchTarget {
  enum class Kind { kNone, kSizeBytes, kBitsPerWeight, kEnergyJoules, kLatencySeconds };
  Kind kind = Kind::kNone;
  double value = 0;  // bytes of the model file, mean bits per weight, joules or seconds per inference
};

// How quality is measured and how much of it may be lost.
//   metric "auto": the task's metric when an eval set with labels is given, else "kl".
//   Task metrics: "bits_per_byte" (lm, allowed = relative increase), "accuracy" (classify,
//   allowed = absolute drop). Label-free fidelity against the FP32 model's outputs on
//   held-back calibration rows: "kl" (mean KL divergence of the softmax of logits, nats,
//   allowed = absolute increase over 0), "top1" (agreement of the argmax, allowed = absolute
//   drop from 1), "sqnr" (signal to quantization noise of every output, dB; allowed = the lowest
//   acceptable dB), "cosine" (mean cosine similarity, allowed = absolute drop from 1),
//   "expected-accuracy" (the accuracy drop expected under the FP32 model's own probabilities,
//   allowed = absolute increase over 0).
struct SearchBudget {
  std::string metric = "auto";
  std::optional<double> allowed;  // none: the metric's default
};

// A per-layer rule, matched by a regex on the layer's node or weight name, or by op type.
struct LayerOverride {
  std::string name_regex;           // empty: any name
  std::string op_type;              // empty: any op
  bool exclude = false;             // true: the layer keeps FP32
  std::vector<LayerAction> actions; // non-empty: only these actions for matching layers
};

struct SearchRecipe {
  SearchTarget target;
  SearchBudget budget;
  std::vector<LayerAction> actions;       // allowed for every layer; empty: the default set
  std::vector<LayerOverride> overrides;   // applied in order; the last match wins
  bool quantize_activations = false;      // also try static INT8 activations where safe (actions.h)
  int64_t calib_limit = 0;                // calibration rows used (0 = all)
  int64_t holdout_rows = 32;              // calibration rows held back for the fidelity budget
  int64_t eval_limit = 0;                 // eval rows used (0 = all)
  int64_t importance_rows = 0;            // calibration rows the gradient importance scores (0 = all; `ember compress` defaults to 64)
  // Ratios of every attention head's channels the search may remove before the per-layer search,
  // each measured, the largest within a quarter of the budget kept (narrow_heads.h); none: the
  // default (0.25, 0.5, 0.75 when pruning is allowed and there is no target; else none).
  std::optional<std::vector<double>> head_widths;
};

}  // namespace ember::passes
