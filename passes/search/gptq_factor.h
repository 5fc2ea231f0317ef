// How much of round-to-nearest's damage GPTQ leaves, per layer, measured once on the uniform
// INT4 b32 GPTQ candidate the search builds anyway.
// Before: that candidate's quantize-weights records (per weight, GPTQ's relative output error
//         e_gptq = tr(D H D^T) / tr(W H W^T) on a sample of output channels, with its clipping)
//         and the FP32 layer-input Hessians H (cached by the AnalysisManager).
// After:  per layer r = e_gptq / e_rtn, where e_rtn is the same ratio for symmetric RTN without
//         clipping at the same block and symmetry on the same channels: the quantizer the importance
//         analysis predicts for. The predicted GPTQ loss of a layer is its RTN prediction times
//         r (times one global correction the search fits to the measured candidate).
#pragma once
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "ir/model.h"
#include "passes/analysis/layer_inputs.h"
#include "passes/pass_manager.h"
#include "passes/search/actions.h"

namespace ember::passes::search {

// (weight, block, symmetric) -> r, for every GPTQ-quantized INT4 weight of `passes` with a
// known output error; added to `ratios`.
void gptq_error_ratios(std::map<std::tuple<std::string, int64_t, bool>, double>& ratios,const ir::Model& prepared, const std::vector<SearchLayer>& layers,
                                                const analysis::LayerInputAnalysis::Output& inputs,
                       const std::vector<PassRecord>& passes);

}  // namespace ember::passes::search
