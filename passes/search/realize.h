// An allocation (one action per layer) as a pass pipeline that `ember opt --passes` replays.
// Before: layers with their chosen actions.
// After:  constants-to-initializers,upgrade-opset{version=13},
//         [prune-structured{ffn=0,ffn-per-layer=NODE:COUNT;...,heads-per-block=NODE:COUNT;...,
//                           head-score=taylor,score=taylor-first,recovery=lsq},]
//         quantize-weights{bits=4,block=32,method=gptq,include=^(w1|w2)$}, ... ,
//         [quantize-activations{mode=static,method=percentile,include=^(node1|node2)$},]dce
// Pruning comes first (the order: prune, then quantize): prune-structured removes the
// chosen neurons of each FFN (both its layers chose the same ratio) and refits the second layer,
// and the chosen heads of each attention block (all its projections chose the same ratio) and
// refits its output projection;
// the quantize-weights passes then see the pruned layers (same weight names, smaller shapes).
// One quantize-weights pass per distinct precision, naming its layers by an anchored regex.
// The GPTQ passes come first: the first one measures the FP32 layer inputs and the passes after
// it keep those statistics (quantize-weights preserves them), so every layer is quantized with
// its FP32 Hessian whether the pipeline runs here or in `ember opt`, and both give the same bytes.
// Static INT8 activations (int8-a8-static) quantize their layers' weights with the INT8 layers,
// then one quantize-activations pass calibrates the chosen layers' inputs on that model.
#pragma once
#include <string>
#include <vector>

#include "ir/status.h"
#include "passes/pipeline.h"
#include "passes/search/actions.h"

namespace ember::passes::search {

// The passes that prepare every candidate (weights in Constant nodes become initializers, an
// old opset is raised to 13).
const std::vector<PipelineEntry>& preparation_pipeline();

// The passes after preparation that apply `actions[i]` to `layers[i]`. Invalid input when a
// chosen layer's name cannot be written in pipeline text (',' or '}'). A pruning pass scores
// units by importance on the first `importance_rows` calibration rows (0: every row), as the
// search did.
Result<std::vector<PipelineEntry>> realize_actions(const std::vector<SearchLayer>& layers,
                                                   const std::vector<LayerAction>& actions, int64_t importance_rows = 0);

// An anchored ECMAScript regex that matches exactly these names.
std::string exact_names_regex(const std::vector<std::string>& names);

}  // namespace ember::passes::search
