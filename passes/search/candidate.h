// Building and measuring one candidate of a search: an allocation (one action per layer)
// realised as a pass pipeline (realize.h), run on a copy of the prepared FP32 model with a copy
// of the FP32 analyses (so layer inputs and Hessians are computed once for all candidates),
// then measured by the evaluator and serialized for its exact size.
#pragma once
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "passes/analysis_manager.h"
#include "passes/budget.h"
#include "passes/search/actions.h"
#include "passes/search/compress.h"
#include "passes/search/evaluator.h"
#include "passes/search/realize.h"

namespace ember::passes::search {

// A candidate's model right after its prune-structured pass, with the analyses of that model
// (the layer inputs that GPTQ reads, measured on the pruned model): a later candidate that
// prunes the same units (the same pass text) continues from here instead of pruning and
// calibrating again. It is the same model and the same statistics that its own passes would
// compute, so the bytes, and `ember opt`'s replay, do not change.
struct PrunedModel {
  std::string entry;                // the prune-structured pipeline text
  ir::Model model;
  AnalysisManager analyses;
  std::vector<PassRecord> records;  // the pruning pass's record
  Remarks remarks;
};

// The most recent pruned models (a bisection's last steps and the fill step prune alike).
struct PrunedModels {
  static constexpr size_t kKept = 2;  // ~40 MB of model and ~150 MB of statistics each on kjv-gpt2
  std::deque<PrunedModel> recent;
  const PrunedModel* find(const std::string& entry) const {
    for (const auto& p : recent)
      if (p.entry == entry) return &p;
    return nullptr;
  }
  void keep(PrunedModel p) {
    recent.push_back(std::move(p));
    while (recent.size() > kKept) recent.pop_front();
  }
};

struct SearchContext {
  const ir::Model& prepared;             // after preparation_pipeline()
  const std::vector<PassRecord>& prep_records;
  AnalysisManager& fp32_analyses;        // analyses of `prepared`; candidates get copies
  QualityEvaluator& evaluator;
  const Budget& budget;
  double reference = 0;                  // the FP32 model's quality
  const std::vector<SearchLayer>& layers;
  int64_t importance_rows = 0;           // a pruning pass scores the first rows, as the search did (0: all)
  std::shared_ptr<PrunedModels> pruned = std::make_shared<PrunedModels>();
  // The passes that made `prepared` from the FP32 model (preparation_pipeline(), then the head
  // narrowing when the search kept one: narrow_heads.h), and the narrowing's measured damage.
  std::vector<PipelineEntry> base_pipeline = preparation_pipeline();
  double base_damage = 0;
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
