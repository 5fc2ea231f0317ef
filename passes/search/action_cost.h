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
//                        ratio (gptq_factor.h; 1 when unknown) times CostScale.gptq_factor,
//                        a global correction the search fits to a measured model
// Predictions are made monotone: more bits never predict more loss (the first-order term
// can make a coarser block look better on a few layers; that is noise, not signal).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/status.h"
#include "passes/analysis/importance.h"
#include "passes/search/actions.h"

namespace ember::passes::search {

struct CostScale {
  double gptq_factor = 0.5;      // predicted GPTQ loss / predicted RTN loss (times the layer's ratio)
  std::map<std::string, double> layer_gptq;  // weight -> measured GPTQ/RTN output-error ratio
  double gptq(const std::string& weight) const {
    auto it = layer_gptq.find(weight);
    return gptq_factor * (it == layer_gptq.end() ? 1.0 : it->second);
  }
  double metric_per_loss = 1.0;  // measured metric change per unit of predicted loss
};

// loss[i][a]: the predicted loss of layers[i].allowed[a], with gptq_factor applied.
using LossTable = std::vector<std::vector<double>>;

// The RTN-based predictions (gptq_factor not yet applied). Reads the weights of `prepared`.
Result<LossTable> predict_rtn_losses(const ir::Model& prepared, const std::vector<SearchLayer>& layers,
                                     const analysis::ImportanceReport& importance);
// Applies the GPTQ factor to the rows whose action uses gptq.
LossTable scale_losses(const std::vector<SearchLayer>& layers, const LossTable& rtn, const CostScale& scale);

}  // namespace ember::passes::search
