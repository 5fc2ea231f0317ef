// Building and measuring one candidate of a search: an allocation (one action per layer)
// realised as a pass pipeline (realize.h), run on a copy of the prepared FP32 model with a copy
// of the FP32 analyses (so layer inputs and Hessians are computed once for all candidates),
// then measured by the evaluator and serialized for its exact size.
#pragma once
#include <string>
#include <vector>

#include "passes/analysis_manager.h"
#include "passes/budget.h"
#include "passes/search/actions.h"
#include "passes/search/compress.h"
#include "passes/search/evaluator.h"

namespace ember::passes::search {

struct SearchContext {
  const ir::Model& prepared;             // after preparation_pipeline()
  const std::vector<PassRecord>& prep_records;
  AnalysisManager& fp32_analyses;        // analyses of `prepared`; candidates get copies
  QualityEvaluator& evaluator;
  const Budget& budget;
  double reference = 0;                  // the FP32 model's quality
  const std::vector<SearchLayer>& layers;
  int64_t importance_rows = 0;           // a pruning pass scores the first rows, as the search did (0: all)
};

struct BuiltCandidate {
  Candidate candidate;
  ir::Model model;
  Remarks remarks;
  std::vector<LayerAction> actions;
};

// Mean bits per weight of the layers under `actions` (codes and scales, action_bytes).
double bits_per_weight(const std::vector<SearchLayer>& layers, const std::vector<LayerAction>& actions);

// Builds, measures and sizes the candidate `actions` (one per layer), named `name`.
Result<BuiltCandidate> build_candidate(SearchContext& ctx, const std::string& name, const std::vector<LayerAction>& actions);

}  // namespace ember::passes::search
