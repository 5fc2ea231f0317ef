// quantize-weights{protect=K}: the K layers that the importance analysis (analysis/importance.h)
// predicts the quantization would damage most keep more precision: INT8 per channel instead
// of INT4, or float instead of INT8. The score of a layer is its predicted loss increase
//   g_mean . dw + 1/2 sum F dw^2   (dw = Q(w) - w, F the empirical Fisher diagonal)
// for the candidate precision nearest the pass's (same bits; the nearest block size).
// It reads the importance analysis the pipeline already computed (analyze-importance), with
// whatever options that ran, or computes it with the defaults.
#pragma once
#include <set>
#include <string>
#include <vector>

#include "passes/analysis/layer_model.h"
#include "passes/pass.h"

namespace ember::passes::quant {

// The weights of `targets` to protect, most sensitive first; an empty set when k == 0.
Result<std::vector<std::string>> most_sensitive_layers(const ir::Model& model, PassContext& ctx,
                                                      const std::vector<analysis::Layer>& targets, int bits,
                                                      int64_t block, int64_t k);

}  // namespace ember::passes::quant
