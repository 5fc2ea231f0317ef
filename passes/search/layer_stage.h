// Which part of a network a layer belongs to, for progressive verification (FFN first, then
// attention, then the rest) and for reports.
//   ffn:       the first layer of an FFN group (layer_model.h), and a layer its output
//              reaches through elementwise ops (the FFN's second layer)
//   attention: a Q/K/V projection of an attention block, and the first layer their outputs
//              reach through non-layer ops (the output projection)
//   embedding: a table read by Gather
//   head:      a layer whose output reaches a graph output through non-layer ops only
//   other:     the rest (convolutions, classifier layers in the middle of a network)
#pragma once
#include <map>
#include <set>
#include <string>

#include "ir/model.h"
#include "passes/analysis/layer_model.h"
#include "passes/search/actions.h"

namespace ember::passes::search {

// weight -> stage, for every layer of `layers`.
std::map<std::string, Stage> classify_stages(const ir::Graph& graph, const analysis::LayerModel& layers,
                                             const std::set<std::string>& attention_weights);

}  // namespace ember::passes::search
