// The search's record for the manifest (compress.h SearchSummary): per layer the action chosen
// with its predicted effect and the predictions of every allowed action, and the Pareto flags of
// the candidates (size against quality).
#pragma once
#include <vector>

#include "passes/search/actions.h"
#include "passes/search/compress.h"

namespace ember::passes::search {

// sensitivity[a]: the predicted loss of layer.allowed[a].
SearchLayerRecord layer_record(const SearchLayer& layer, const LayerAction& chosen, const std::vector<double>& sensitivity);

// A candidate is on the front when no other is at most as large and at least as good, and
// strictly one of the two.
void mark_pareto(std::vector<Candidate>& candidates, bool lower_is_better);

}  // namespace ember::passes::search
