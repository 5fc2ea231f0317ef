// The predicted loss of each action of each layer, from the importance analysis
// (analysis/importance.h), computed once per search.
// Before: the importance report of the prepared FP32 model (per weight: the Fisher sum and the
//         predicted loss increase of RTN INT8 per channel and INT4 blocks 32 and 128).
// After:  loss[layer][action], in the loss's units (nats per token for an LM), for every
//         allowed action:
//   fp32                 0
//   int8, int4 b32/b128  the analysis's candidates: g_mean . dw + 1/2 sum F dw^2
//   int4 b64             interpolated between b32 and b128 by the RTN weight error:
//                          L64 = L32 + (L128 - L32) (e64 - e32) / (e128 - e32),  e = mean dw^2
//   layers without candidates (embedding tables): 1/2 (sum F) e, the Fisher diagonal taken
//                        as uncorrelated with the error
//   zero points (asym)   the symmetric prediction of the same block times e_asym / e_sym
//   gptq                 the RTN prediction times the layer's measured GPTQ/RTN output-error
//                        ratio at that block (gptq_factor.h; CostScale::gptq)
// Predictions are made monotone: more bits never predict more loss (the first-order term
// can make a coarser block look better on a few layers; that is noise, not signal).
#pragma once
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"
#include "passes/analysis/importance.h"
#include "passes/search/actions.h"

namespace ember::passes::search {

// Measured GPTQ/RTN output-error ratios (gptq_factor.h), by weight, INT4 block and symmetry.
using GptqRatios = std::map<std::tuple<std::string, int64_t, bool>, double>;

struct CostScale {
  double gptq_factor = 0.5;      // a global factor on the GPTQ predictions (1 once ratios are measured)
  GptqRatios layer_gptq;
  // The factor of a layer's GPTQ prediction: its measured ratio at this block and symmetry; else
  // at this block with the other symmetry; else interpolated geometrically in log2(block)
  // between the nearest measured blocks; else 1. Times gptq_factor.
  double gptq(const std::string& weight, int64_t block, bool symmetric) const;
  double metric_per_loss = 1.0;  // measured metric change per unit of predicted loss
  double prune_factor = 1.0;     // measured pruning damage per unit of predicted pruning loss (prune_cost.h), relative to metric_per_loss
};

// loss[i][a]: the predicted loss of layers[i].allowed[a], with gptq_factor applied.
using LossTable = std::vector<std::vector<double>>;

// The RTN-based predictions (gptq_factor not yet applied). Reads the weights of `prepared`.
// A pruned action (ratio > 0) holds its precision's prediction here; its pruning loss is
// predicted apart (prune_cost.h) and added with CostScale::prune_factor.
Result<LossTable> predict_rtn_losses(const ir::Model& prepared, const std::vector<SearchLayer>& layers,
                                     const analysis::ImportanceReport& importance);
// Applies the GPTQ factor to the rows whose action uses gptq.
LossTable scale_losses(const std::vector<SearchLayer>& layers, const LossTable& rtn, const CostScale& scale);

}  // namespace ember::passes::search
